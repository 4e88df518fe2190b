"""`mlv report` without a browser: the page's escaping, its self-containment, its JSON contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlv.report.page import embedded_json
from tests.conftest import REPO_ROOT, git, mlv
from tests.permission_helpers import mlv_denied_writes
from tests.report_helpers import HOSTILE, report_repo_fixture, report_template_fixture  # noqa: F401 - fixtures


def _embedded(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="mlv-data">(.*?)</script>', html, re.S)
    assert match, "no embedded data"
    return json.loads(match[1])  # type: ignore[no-any-return]


def test_report_writes_one_page_and_says_where(report_repo: Path) -> None:
    proc = mlv(report_repo, "report")
    assert proc.stdout == ""
    assert proc.stderr == f"wrote {report_repo / 'report.html'}: 3 experiments\n"
    html = (report_repo / "report.html").read_text()
    assert html.count("<tr id=\"exp-") == 3
    for section in ("experiments-section", "metrics", "compare", "models", "health"):
        assert f'<section id="{section}">' in html
    assert "<svg" in html and "sample@v0.0.1" in html
    assert "drift" in html.split('<section id="health">')[1]


def test_hostile_message_is_text_and_cannot_close_the_data_script(report_repo: Path) -> None:
    mlv(report_repo, "report", "-o", "out.html")
    html = (report_repo / "out.html").read_text()
    # Exactly the two scripts the page writes: the data and the code; nothing from the message.
    assert len(re.findall(r"<script\b", html)) == 2
    assert "<img" not in html and "onerror=\"" not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "\x1b" not in html and "\\x1b[31m" in html  # control characters shown, as on a terminal
    data = _embedded(html)
    assert data["log"][1]["message"] == HOSTILE  # the data stays exact


def test_embedded_json_escapes_what_could_end_a_script() -> None:
    text = embedded_json({"m": "</script><!-- & \u2028\u2029"})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"m": "</script><!-- & \u2028\u2029"}


def test_page_references_nothing_on_the_network(report_repo: Path) -> None:
    mlv(report_repo, "report")
    html = (report_repo / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert not re.search(r"url\(|@import", html)
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert policy and "default-src 'none'" in policy[1] and "unsafe" not in policy[1]


def test_embedded_data_is_the_json_the_cli_prints(report_repo: Path) -> None:
    mlv(report_repo, "report")
    data = _embedded((report_repo / "report.html").read_text())
    log = data["log"]
    for entry in log:  # the page keeps each lockfile's packages once; put them back
        entry["environment"]["packages"] = data["packages"][entry["environment"]["lockfile"]]
    assert log == json.loads(mlv(report_repo, "log", "--json").stdout)
    assert data["models"]["list"] == json.loads(mlv(report_repo, "model", "list", "--json").stdout)
    assert data["models"]["show"]["sample"] == json.loads(mlv(report_repo, "model", "show", "sample", "--json").stdout)
    assert data["models"]["history"]["sample"] == json.loads(
        mlv(report_repo, "model", "history", "sample", "--json").stdout)
    (check,) = data["health"]
    cli = json.loads(mlv(report_repo, "data", "check", "--rev", "HEAD", "--against", "HEAD~1", "--json",
                         check=False).stdout)
    labels = ("current", "reference")  # how each side is named differs ("data at 1234abcd" vs "HEAD")
    assert {k: v for k, v in check["check"].items() if k not in labels} == \
        {k: v for k, v in cli.items() if k not in labels}


def test_rev_range_and_all(report_repo: Path) -> None:
    mlv(report_repo, "report", "--rev", "HEAD~1..HEAD")
    assert len(_embedded((report_repo / "report.html").read_text())["log"]) == 1
    git(report_repo, "checkout", "-q", "-b", "side", "HEAD~2")
    mlv(report_repo, "report", "--all")
    assert len(_embedded((report_repo / "report.html").read_text())["log"]) == 3


def test_bad_input_is_one_line(report_repo: Path) -> None:
    cases = [
        (["--rev", "nope"], 1, "unknown revision 'nope'"),
        (["--rev", "HEAD~1...HEAD"], 1, "symmetric range"),
        (["--all", "--rev", "main"], 1, "cannot be combined"),
        (["-o", ".git/report.html"], 1, "git directory"),
        (["-o", "data"], 1, "is a folder"),
        (["-o", "data/dataset.csv/report.html"], 1, "cannot create the folder"),
    ]
    for args, code, words in cases:
        proc = mlv(report_repo, "report", *args, check=False)
        assert proc.returncode == code, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and words in proc.stderr and proc.stderr.count("\n") <= 2, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (report_repo / ".git/report.html").exists()


def test_a_missing_folder_is_made(report_repo: Path) -> None:
    mlv(report_repo, "report", "-o", "public/pages/report.html")
    assert (report_repo / "public/pages/report.html").read_text().startswith("<!DOCTYPE html>")


def test_outside_a_repository(tmp_path: Path) -> None:
    proc = mlv(tmp_path, "report", check=False)
    assert proc.returncode != 0 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_write_is_atomic_and_replaces_a_symlink_not_its_target(report_repo: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.symlink(victim, report_repo / "report.html")
    mlv(report_repo, "report")
    assert victim.read_text() == "keep me"
    assert not (report_repo / "report.html").is_symlink()
    assert not [p for p in report_repo.iterdir() if ".mlv-tmp-" in p.name]


def test_unwritable_folder_is_one_line(experiment_repo: Path) -> None:
    """A folder mlv may not write to: one line naming the file, exit 1, nothing left behind.

    The folder is made unwritable by an audit hook, not by permission bits, which root (CI) writes
    through: so this fails as root too when the error path breaks.
    """
    folder = experiment_repo / "ro"
    folder.mkdir()
    proc = mlv_denied_writes(experiment_repo, folder, "report", "-o", "ro/report.html")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: cannot write {folder / 'report.html'}: Permission denied"), proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == "" and list(folder.iterdir()) == []


def test_unwritable_folder_by_permission_bits(experiment_repo: Path) -> None:
    """The same with real permission bits: refused for an ordinary user (`.ci/run` runs this test as
    one), written anyway by root."""
    folder = experiment_repo / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        proc = mlv(experiment_repo, "report", "-o", "ro/report.html", check=False)
    finally:
        folder.chmod(0o700)
    if os.geteuid() == 0:  # root writes anyway; then the page must simply be there
        assert proc.returncode == 0 and (folder / "report.html").exists()
    else:
        assert proc.returncode == 1 and proc.stderr.startswith("error: cannot write"), proc.stderr
        assert proc.stderr.count("\n") == 1 and list(folder.iterdir()) == []


@pytest.mark.slow
def test_speed_benchmark_runs(tmp_path: Path) -> None:
    """benchmarks/html_report.py on 20 commits: the harness works (timing is `make bench`'s job)."""
    proc = subprocess.run([sys.executable, "-m", "benchmarks.html_report", "--commits", "20", "--runs", "1",
                           "--work-dir", str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]  # 1: a target missed on a loaded machine
    assert "mlv report" in proc.stdout and "page size" in proc.stdout, proc.stdout


def test_health_against_a_chosen_revision_draws_each_column_from_the_profiles(report_repo: Path) -> None:
    mlv(report_repo, "report", "--against", "HEAD~2")
    html = (report_repo / "report.html").read_text()
    data = _embedded(html)
    (item,) = data["health"]
    assert item["reference"]["commit"] == git(report_repo, "rev-parse", "HEAD~2")
    shown = item["distributions"]
    assert shown and all(entry["kind"] in {"numeric", "categorical", "datetime", "text", "identifier"}
                         for entry in shown.values())
    drawn = [entry for entry in shown.values() if "reference" in entry]
    assert drawn and all(len(entry["reference"]) == len(entry["current"]) == 21 for entry in drawn)
    assert "cumulative distribution (grey: reference, blue: current)" in html
    proc = mlv(report_repo, "report", "--against", "nope", check=False)
    assert proc.returncode != 0 and proc.stderr.startswith("error: unknown revision 'nope'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_chart_numbers_read_as_in_the_terminal() -> None:
    """Values as `mlv log` prints them (6 significant digits); tick labels whole, in the space kept for them."""
    from mlv.report import charts

    assert charts.fmt(0.00010000000000000286) == "0.0001"
    assert charts.fmt(2.504e8) == "2.504e+08"
    points = [charts.Point(i, v, f"{i:040x}", f"run {i}", tick=f"{i:07x}") for i, v in enumerate([2.504e8, 2.509e8])]
    svg = charts.metric_chart("mse", points, 2)
    labels = re.findall(r'class="y-tick" x="([\d.]+)"[^>]*>([^<]+)<', svg)
    assert [label for _, label in labels] == ["2.504e+08", "2.506e+08", "2.508e+08"]
    assert all(float(x) - charts.CHAR_W * len(label) >= 0 for x, label in labels)  # none starts left of the picture
    assert "<title>run 1: 2.509e+08</title>" in svg
    assert re.findall(r'class="x-tick"[^>]*>([^<]+)<', svg) == ["0000000", "0000001"]
    flat = charts.metric_chart("n", [charts.Point(0, 1400.0, "c", "one")], 1)
    assert re.findall(r'class="y-tick"[^>]*>([^<]+)<', flat) and "nan" not in flat
