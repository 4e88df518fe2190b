"""The report in a real headless Chromium (Debian's `chromium`), driven with playwright: what a
person sees and does. Skipped, with the reason, when the browser cannot be started; a failure
instead under MLV_REQUIRE_BROWSER=1, which `.ci/run` sets after installing chromium.

The screenshot goes to the test's temporary folder; `make docs` runs the first test with
MLV_REPORT_SCREENSHOT=docs/images/report.png to refresh the one in the docs (no test writes into
the checkout)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, mlv
from tests.report_helpers import HOSTILE, report_repo_fixture, report_template_fixture  # noqa: F401 - fixtures

CHROMIUM = "/usr/bin/chromium"
# Where `make docs` wants the screenshot as well (the docs' picture of the page).
PUBLISH_SCREENSHOT = os.environ.get("MLV_REPORT_SCREENSHOT")


def _unavailable(reason: str) -> None:
    if os.environ.get("MLV_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MLV_REQUIRE_BROWSER=1, and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright; it is in the dev extra)")
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as driver:
        try:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as exc:
            _unavailable(f"chromium could not be started: {str(exc).splitlines()[0]}")
        yield browser
        browser.close()


@pytest.mark.slow
def test_report_in_a_browser(report_repo: Path, browser: Any, tmp_path: Path) -> None:
    mlv(report_repo, "report")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("request", lambda req: problems.append(f"request: {req.url}")
            if not req.url.startswith("file:") else None)
    page.goto((report_repo / "report.html").as_uri())

    # The experiments, newest first, and the hostile message shown as text, its script never run.
    rows = page.locator("#experiments tbody tr")
    assert rows.count() == 3
    messages = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(3)]
    assert messages[0] == "drifted data" and messages[2] == "baseline"
    assert messages[1].startswith("<script>window.pwned=1</script> <img src=x onerror=")
    assert page.evaluate("window.pwned") is None
    assert page.locator("#experiments img").count() == 0

    # Sorting by a metric reorders the rows; a second click reverses them.
    column = _column(page, "mse")

    def mse_values() -> list[float]:
        return [float(rows.nth(i).locator("td").nth(column).get_attribute("data-v") or "nan") for i in range(3)]

    before = mse_values()
    header = page.locator("#experiments thead th").nth(column)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert mse_values() == sorted(before)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert mse_values() == sorted(before, reverse=True)
    assert len(set(before)) > 1  # distinct values: the two orders differ, so at least one click reordered

    # The filter box hides rows without the text.
    page.fill("#filter", "drifted")
    assert page.locator("#experiments tbody tr:visible").count() == 1
    page.fill("#filter", "")

    # Picking two runs shows their diff: the same params and metrics as `mlv diff A B --json`.
    import json

    base, hostile, drifted = (git(report_repo, "rev-parse", f"HEAD~{n}") for n in (2, 1, 0))
    page.select_option("#cmp-a", base)
    page.select_option("#cmp-b", hostile)
    out = page.locator("#compare-out")
    assert "test_size" in out.inner_text() and "Metrics" in out.inner_text()
    cli = json.loads(mlv(report_repo, "diff", base, hostile, "--json").stdout)
    mine = page.evaluate(f"window.mlvReport.diff({json.dumps(base)}, {json.dumps(hostile)})")
    for section in ("params", "metrics", "command"):
        assert mine[section] == cli[section], section
    assert [(e["path"], e["status"]) for e in mine["data"]["entries"]] == \
        [(e["path"], e["status"]) for e in cli["data"]["entries"]]
    assert [(f["path"], f["status"]) for f in mine["code"]["files"]] == \
        [(f["path"], f["status"]) for f in cli["code"]["files"]]
    assert mine["environment"]["changed"] == cli["environment"]["changed"]
    page.select_option("#cmp-b", drifted)
    assert "data" in out.inner_text()

    # The registered version links to its experiment's row; the drifted dataset is reported.
    assert page.locator(f'#models a[href="#exp-{base[:12]}"]').count() >= 1
    assert "drift" in page.locator("#health h3").first.inner_text()

    page.select_option("#cmp-a", base)
    page.select_option("#cmp-b", hostile)
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 10_000
    assert problems == []
    if PUBLISH_SCREENSHOT:
        shutil.copyfile(screenshot, PUBLISH_SCREENSHOT)

    # A phone-width screen: the page does not scroll sideways; the table scrolls in its own box.
    phone = browser.new_page(viewport={"width": 390, "height": 800})
    phone.goto((report_repo / "report.html").as_uri())
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.evaluate("document.querySelector('#experiments').parentElement.scrollWidth") > 390


def _column(page: Any, name: str) -> int:
    names = page.locator("#experiments thead th").all_inner_texts()
    return [n.strip() for n in names].index(name)


def test_page_works_without_javascript(report_repo: Path, browser: Any) -> None:
    """The tables are in the HTML itself: a reader with JavaScript off still sees them."""
    mlv(report_repo, "report")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((report_repo / "report.html").as_uri())
    assert page.locator("#experiments tbody tr").count() == 3
    assert page.locator("#models table").count() >= 1
    shown = page.locator("#experiments tbody tr").nth(1).locator("td").nth(2).inner_text()
    assert shown.startswith(HOSTILE.split(" \u2028")[0]) and shown.endswith("\\x1b[31m")
    context.close()
