"""The benchmark harness on tiny datasets: every operation runs and lands in the report.

No timing is asserted (performance is measured by `make bench`, not by tests); this only keeps
the harness from rotting as mlv's commands change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.targets import TARGETS, TITLES
from tests.conftest import forked_launchers

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_run_reports_every_operation(tmp_path: Path) -> None:
    work = tmp_path / "bench"
    # The measured mlv and dvc are forked from a server that imported them once (tests/forkserver.py):
    # the same commands, without a second of interpreter start-up each (no time is asserted here).
    launchers = forked_launchers()
    measured = ["--bin", str(launchers)] if launchers else []
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke", "--work-dir", str(work), *measured],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = (work / "smoke" / "benchmarks.md").read_text()
    for title in TITLES.values():
        assert f"| {title} |" in report, f"operation missing from the report: {title}"
    for target, _check in TARGETS:
        assert f"| {target} |" in report, f"target missing from the report: {target}"
    assert "## Growth from 10,000 to 100,000 files" in report
    assert (work / "smoke" / "benchmarks.png").read_bytes().startswith(b"\x89PNG")

    # Every tool of every operation was measured: nothing failed, nothing left "not available".
    doc = json.loads((work / "smoke" / "results.json").read_text())
    assert not doc["info"].get("crashes")
    ops = {case["op"] for case in doc["cases"]}
    watched = {"noop-watch", "change1-watch"}  # need watchman (.ci/run installs it)
    without = set() if shutil.which("watchman") or os.environ.get("MLV_REQUIRE_WATCHMAN") == "1" else watched
    assert ops == set(TITLES) - without
    for case in doc["cases"]:
        for m in case["measurements"]:
            assert m["status"] == "ok", f"{case['op']} / {m['tool']}: {m['status']}"
            assert m["samples"], f"{case['op']} / {m['tool']}: no timed run"
        tools = {m["tool"] for m in case["measurements"]}
        # DVC has no reproduce; "snapshot after changing one file" has no floor (issue 6's table).
        expected = {"mlv"} | ({"floor"} if case["op"] not in {"change1", "change1-watch"}
                              else {"dvc"} if case["op"] == "change1" else set())
        assert tools >= expected, case["op"]


def test_report_only_rerenders_from_results(tmp_path: Path) -> None:
    """--report-only rebuilds the Markdown and the plot from a results file, without measuring."""
    out = tmp_path / "out"
    out.mkdir()
    case = {"op": "noop", "dataset": "tiny", "key": "10k", "nfiles": 10, "nbytes": 100, "note": "",
            "measurements": [{"tool": "mlv", "label": "mlv snapshot", "status": "ok", "note": "",
                              "samples": [[0.2, 40000], [0.25, 41000], [0.3, 42000]], "warmup": []},
                             {"tool": "dvc", "label": "dvc add", "status": "ok", "note": "",
                              "samples": [[2.0, 90000]], "warmup": [[3.0, 95000]]}]}
    (out / "results.json").write_text(json.dumps({"info": {"date": "today"}, "cases": [case]}))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke", "--report-only",
                           "--work-dir", str(tmp_path / "w"), "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    report = (out / "benchmarks.md").read_text()
    # median 0.25 s, min-max 0.2-0.3, ratio to DVC 0.12x, peak RSS 42000 KB -> 41 MB
    assert "| snapshot, nothing changed | tiny | 0.250 s (0.200-0.300) | 2.000 s (1 run) | - | 0.12x |" in report
    assert "| 41 | 93 |" in report
    assert "| snapshot with nothing changed <= 0.3 s (1 GiB file + 10,000 files) | 0.250 s | **met** |" in report
