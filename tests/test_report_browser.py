"""The report in a real headless Chromium (Debian's `chromium`), driven with playwright: what a
person sees and does. Skipped, with the reason, when the browser cannot be started; a failure
instead under MLV_REQUIRE_BROWSER=1, which `.ci/run` sets after installing chromium.

The screenshot goes to the test's temporary folder; `make docs` runs the first test with
MLV_REPORT_SCREENSHOT=docs/images/report.png to refresh the one in the docs (no test writes into
the checkout)."""

from __future__ import annotations

import json
import os
import re
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


WIDE_PARAMS = "".join(f"  a_rather_long_parameter_name_{n}: {n}\n" for n in range(16))
# mse scaled into the hundreds of millions: the y ticks need all their characters (`2.504e+08`, not `504e+08`).
BIG_MSE = ("python train.py && python -c \"import json; m = json.load(open('metrics.json')); "
           "m['mse'] *= 2.6e9; json.dump(m, open('metrics.json', 'w'))\"")


@pytest.mark.slow
def test_report_reads_at_a_glance(report_repo: Path, browser: Any, tmp_path: Path) -> None:
    """At 1280 px: the table scrolls in its box with the commit pinned, charts have labelled axes that
    fit, hover titles give value and commit, numbers are rounded as in the terminal, sizes have units,
    the whole header cell sorts, and the page API takes the short commits the page shows."""
    with (report_repo / "params.yaml").open("a") as params:
        params.write("extra:\n" + WIDE_PARAMS)
    mlv(report_repo, "snapshot", "--run", BIG_MSE, "-m", "wide and big")
    mlv(report_repo, "report")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto((report_repo / "report.html").as_uri())
    commits = [git(report_repo, "rev-parse", f"HEAD~{n}") for n in range(4)]

    # The experiments table scrolls inside its own box; the page itself does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    box = "document.querySelector('#experiments').parentElement"
    assert page.evaluate(f"{box}.scrollWidth > {box}.clientWidth + 200")
    first_cell = "#experiments tbody tr:first-child td:first-child"
    date_cell = "#experiments tbody tr:first-child td:nth-child(2)"
    left_before = page.locator(first_cell).bounding_box()["x"]
    date_before = page.locator(date_cell).bounding_box()["x"]
    page.evaluate(f"{box}.scrollLeft = 600")
    assert page.locator(first_cell).bounding_box()["x"] == pytest.approx(left_before, abs=1)  # pinned
    assert page.locator("#experiments thead th").first.bounding_box()["x"] == pytest.approx(left_before, abs=1)
    assert page.locator(date_cell).bounding_box()["x"] < date_before - 300  # the rest scrolled
    page.evaluate(f"{box}.scrollLeft = 0")

    # Table numbers are rounded as in the terminal: 6 significant digits.
    for cell in page.locator("#experiments td[data-v]").all():
        value = float(cell.get_attribute("data-v") or "nan")
        assert cell.inner_text().strip() == (f"{value:.6g}" if value != int(value) or abs(value) >= 1e6
                                             else cell.inner_text().strip())

    # Every chart: a tick on y with values, experiments on x, both axes titled, every label inside the picture.
    charts = page.locator("#metrics svg.chart")
    assert charts.count() >= 3
    for i in range(charts.count()):
        chart = charts.nth(i)
        assert chart.locator(".y-tick").count() >= 2
        assert chart.locator(".axis-title").count() == 2
        ticks = chart.locator(".x-tick").all_text_contents()
        assert ticks and all(any(c.startswith(t) for c in commits) for t in ticks), ticks
    everywhere = page.locator("svg.chart")
    assert page.locator("#health svg.chart").count() >= 2
    for i in range(everywhere.count()):
        chart = everywhere.nth(i)
        width, height = (float(n) for n in (chart.get_attribute("viewBox") or "").split()[2:])
        outside = chart.evaluate("""(svg, size) => Array.from(svg.querySelectorAll('text')).filter(t => {
            // the text's box in the picture's coordinates (the y axis title is rotated)
            const own = t.transform.baseVal.consolidate(), s = own ? own.matrix : svg.createSVGMatrix();
            const b = t.getBBox();
            const xs = [s.a * b.x + s.c * b.y + s.e, s.a * (b.x + b.width) + s.c * (b.y + b.height) + s.e];
            const ys = [s.b * b.x + s.d * b.y + s.f, s.b * (b.x + b.width) + s.d * (b.y + b.height) + s.f];
            return Math.min(...xs) < -0.5 || Math.max(...xs) > size[0] + 0.5 ||
                   Math.min(...ys) < -0.5 || Math.max(...ys) > size[1] + 0.5;
        }).map(t => t.textContent)""", [width, height])
        assert outside == [], outside
    mse_chart = page.locator("#metrics figure").filter(has_text="mse").locator("svg")
    labels = mse_chart.locator(".y-tick").all_text_contents()
    assert all(float(label) >= 0 for label in labels) and max(float(label) for label in labels) > 2e8, labels

    # Hover: each point's title gives its commit and its value, rounded as the terminal rounds it.
    mse = {c: json.loads(git(report_repo, "show", f"{c}:metrics.json"))["mse"] for c in commits}
    titles = mse_chart.locator(".point title").all_text_contents()
    assert len(titles) == 4
    for commit, value in mse.items():
        assert any(t.startswith(commit[:10]) and f": {value:.6g}" in t for t in titles), (commit, titles)

    # Sorting works from anywhere in the header cell, not only its button.
    header = page.locator("#experiments thead th").nth(_column(page, "mse"))
    header.scroll_into_view_if_needed()
    size = header.bounding_box()
    spot = {"x": size["width"] - 2, "y": size["height"] - 2}
    assert header.evaluate("(th, p) => { const r = th.getBoundingClientRect(); "
                           "return document.elementFromPoint(r.left + p.x, r.top + p.y) === th; }", spot)
    header.click(position=spot)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click(position=spot)
    assert header.get_attribute("aria-sort") == "descending"

    # The page API's diff takes the short commits the page shows, and says which it cannot resolve.
    short = page.evaluate(f"window.mlvReport.diff({json.dumps(commits[3][:10])}, {json.dumps(commits[1][:10])})")
    full = page.evaluate(f"window.mlvReport.diff({json.dumps(commits[3])}, {json.dumps(commits[1])})")
    assert short == full and short["new"]["commit"] == commits[1]
    error = page.evaluate("() => { try { window.mlvReport.diff('0000000000', 'zz'); } "
                          "catch (e) { return e.message; } }")
    assert "not an experiment on this page" in error

    # The compare pane: sizes with units, numbers without float noise.
    page.select_option("#cmp-a", commits[3])
    page.select_option("#cmp-b", commits[1])
    data_rows = page.locator("#compare-out h3:text-is('Data') + .scroll tbody tr")
    assert data_rows.count() >= 1
    for row in data_rows.all():
        cells = row.locator("td").all_inner_texts()
        assert re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB|GiB)", cells[5]), cells
        assert re.fullmatch(r"[+-]\d+(\.\d)? (B|KiB|MiB|GiB)|0 B", cells[6]), cells
    numbers = re.findall(r"[-+]?\d+\.\d+(?:e[-+]\d+)?", page.locator("#compare-out").inner_text())
    digits = [len(n.lstrip("+-").split("e")[0].replace(".", "").lstrip("0")) for n in numbers]
    assert numbers and max(digits) <= 6, numbers
    assert page.evaluate("window.mlvReport.fmt(0.00010000000000000286)") == "0.0001"
    assert page.evaluate("window.mlvReport.fmt(250400000)") == "2.504e+08"
    assert page.evaluate("window.mlvReport.size(-6011)") == "-5.9 KiB"

    screenshot = tmp_path / "glance.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert problems == []
