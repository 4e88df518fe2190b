"""`mlv report` speed: `python -m benchmarks.html_report [--work-dir DIR] [--commits 1000] [--runs 5]`.

(benchmarks/report.py is the Markdown writer of docs/benchmarks.md, hence this name.)
Builds a repository of N experiment commits (valid records, one `git fast-import`, as the registry
benchmark does) with 3 models x 5 registered versions, then times the median of RUNS runs of
`mlv report` against `mlv log --json` (the same history read, no page) and `python -c pass`.
Targets: the report written in <= 2 s over 1,000 experiments; the page loaded in Debian's headless
chromium in <= 1 s (navigation start to the load event, measured when playwright and
/usr/bin/chromium are there).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.registry import BIN, LOCK_TEXT, LOCKFILE, _data, _record, _tag, median_time
from mlv.record.record import render_message
from mlv.registry import metadata

WRITE_TARGET_S, OPEN_TARGET_S = 2.0, 1.0
CHROMIUM = "/usr/bin/chromium"


def build(repo: Path, commits: int) -> None:
    import subprocess

    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = bytearray()
    config = "version: 1\noutputs: [models]\nmetrics: [metrics.json]\nparams: [params.yaml]\n"
    stamp = 1_700_000_000
    for i in range(commits):
        rec = _record(i)
        stream += b"commit refs/heads/main\nmark :%d\n" % (i + 1)
        stream += b"committer Bench <bench@example.com> %d +0000\n" % (stamp + i)
        stream += _data(render_message(f"experiment {i}", rec))
        if i == 0:
            for path, text in ((".mlv/config.yaml", config), (LOCKFILE, LOCK_TEXT), ("train.py", "print(1)\n")):
                stream += b"M 100644 inline %s\n" % path.encode() + _data(text)
        if i % 100 == 0:  # the code changes now and then, as it does in a real project
            stream += b"M 100644 inline train.py\n" + _data(f"print({i})\n")
        stream += b"M 100644 inline metrics.json\n" + _data(json.dumps(rec.metrics["metrics.json"]))
    for m in range(3):
        for k in range(5):
            mark = 1 + (m * 97 + k * (commits // 5)) % commits
            version = f"v0.0.{k + 1}"
            doc = {"event": "register", "model": f"model{m}", "version": version,
                   "metrics": _record(mark - 1).metrics, "params": _record(mark - 1).params}
            stream += _tag(f"model{m}@{version}", mark, stamp + commits + m * 10 + k,
                           metadata.render(f"Register model{m} {version}", doc))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=bytes(stream), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)


def open_times(page_file: Path, runs: int) -> list[float] | str:
    """Seconds from navigation start to the load event, per run; or why it was not measured."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        return "not measured: playwright is not installed"
    if not Path(CHROMIUM).exists():
        return f"not measured: {CHROMIUM} is missing"
    times = []
    with sync_playwright() as driver:
        try:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as exc:
            return f"not measured: chromium could not start ({str(exc).splitlines()[0]})"
        for _ in range(runs):
            page = browser.new_page()
            page.goto(page_file.as_uri(), wait_until="load")
            times.append(page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd / 1000; })()"))
            page.close()
        browser.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=None, help="where to build the repository")
    parser.add_argument("--commits", type=int, default=1000, help="experiment commits (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (median)")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="mlv-bench-report-", dir=args.work_dir))
    try:
        repo = base / "repo"
        started = time.perf_counter()
        build(repo, args.commits)
        print(f"built {args.commits} experiment commits and 15 registry tags in "
              f"{time.perf_counter() - started:.1f} s (load average {os.getloadavg()[0]:.1f})")
        mlv = str(BIN / "mlv")
        rows = [("python -c pass (start-up floor)", [sys.executable, "-c", "pass"], None),
                ("mlv log --json (history read alone)", [mlv, "log", "--json"], None),
                ("mlv report", [mlv, "report", "-o", str(base / "report.html")], WRITE_TARGET_S)]
        failed = False
        print(f"{'command (median of ' + str(args.runs) + ')':<38} {'wall':>9} {'cpu':>9}  target (wall)")
        for label, command, target in rows:
            wall, cpu = median_time(command, repo, args.runs)
            verdict = "" if target is None else ("ok" if wall <= target else "MISSED")
            failed |= verdict == "MISSED"
            print(f"{label:<38} {wall:>7.3f} s {cpu:>7.3f} s  {f'<= {target:.1f} s {verdict}' if target else ''}")
        page = base / "report.html"
        print(f"page size: {page.stat().st_size / 1e6:.2f} MB")
        opened = open_times(page, args.runs)
        if isinstance(opened, str):
            print(f"page open in chromium: {opened}")
        else:
            median = statistics.median(opened)
            verdict = "ok" if median <= OPEN_TARGET_S else "MISSED"
            failed |= verdict == "MISSED"
            print(f"page open in chromium (to load event, median of {len(opened)}): {median:.3f} s  "
                  f"<= {OPEN_TARGET_S:.1f} s {verdict}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 1 if failed else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
