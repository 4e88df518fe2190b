# The two commands the README opens with. Each builds its own virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick lint typecheck docs check-docs bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## the sample project's full flow
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

# pytest-xdist workers: every core by default (2 on the reference machine). PYTEST_WORKERS=0 runs
# the tests in one process, which is easier to read when debugging.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=

# Each phase prints a header, so a failure in a long run is easy to place. pytest's exit code 5
# ("no tests collected") is a failure too, with its own message: a suite that silently runs
# nothing (a bad -k or -m, a broken collection path) must not look green.
define run_pytest
	@start=$$(date +%s); \
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(1) $(PYTEST_ARGS); status=$$?; \
	echo "pytest finished in $$(( $$(date +%s) - start )) s (exit $$status)"; \
	if [ $$status -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit $$status
endef

test: $(STAMP) lint typecheck check-docs  ## every check and every test (slow tests included)
	@echo "==> [4/4] tests: pytest on $(PYTEST_WORKERS) workers (real git and DVC, no mocks)"
	$(call run_pytest,)

test-quick: $(STAMP)  ## the tests without the slow end-to-end cases (no lint, types or docs check)
	@echo "==> tests, quick: pytest -m 'not slow' on $(PYTEST_WORKERS) workers"
	$(call run_pytest,-m "not slow")

lint: $(STAMP)
	@echo "==> [1/4] lint: ruff check"
	$(BIN)/ruff check mlv tests benchmarks sample_project scripts

typecheck: $(STAMP)
	@echo "==> [2/4] types: mypy --strict (mlv/, and tests/ a little less strictly)"
	$(BIN)/mypy

docs: $(STAMP)  ## regenerate docs/reference/cli.md from the app, and docs/images/report.png (needs chromium)
	$(BIN)/python scripts/gen_cli_docs.py > docs/reference/cli.md
	MLV_REQUIRE_BROWSER=1 MLV_REPORT_SCREENSHOT="$(CURDIR)/docs/images/report.png" \
		$(BIN)/python -m pytest -q -n 0 tests/test_report_browser.py -k test_report_in_a_browser

check-docs: $(STAMP)  ## fail when docs/reference/cli.md is out of date
	@echo "==> [3/4] docs check: docs/reference/cli.md matches the CLI"
	$(BIN)/python scripts/gen_cli_docs.py --check docs/reference/cli.md

bench: $(STAMP)  ## full benchmark suite: writes docs/benchmarks.md and docs/benchmarks.png
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks.run --full

bench-smoke: $(STAMP)  ## a tiny run of every benchmark, no timing asserted
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks.run --smoke

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
