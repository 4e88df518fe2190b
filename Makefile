# The two commands the README opens with. Each builds its own virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck docs check-docs bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## the sample project's full flow
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: $(STAMP) lint typecheck check-docs  ## every check and every test
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check mlv tests benchmarks sample_project scripts

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)  ## regenerate docs/reference/cli.md from the app
	$(BIN)/python scripts/gen_cli_docs.py > docs/reference/cli.md

check-docs: $(STAMP)  ## fail when docs/reference/cli.md is out of date
	$(BIN)/python scripts/gen_cli_docs.py --check docs/reference/cli.md

bench: $(STAMP)  ## full benchmark suite: writes docs/benchmarks.md and docs/benchmarks.png
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks.run --full

bench-smoke: $(STAMP)  ## a tiny run of every benchmark, no timing asserted
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks.run --smoke

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
