"""`mlv monitor` speed and memory: `python -m benchmarks.monitor [--rows N] [--work-dir DIR]`.

Writes a prediction log of N rows (segments of 10,000 rows, 4 float inputs, the layout of
docs/reference/prediction-log.md) for a registered model of a small project (the sample project's
data, one experiment, `mlv model register`), then times in child processes, side by side:

- floor: a plain pyarrow read of the same segments (`pyarrow.dataset`, every column, batch by batch);
- mlv: `mlv monitor --json` over the whole log: the same read, plus the inputs' and predictions'
  profiles, the data check against the training data's stored profile, latency quantiles, the
  per-minute timeline and the rules.

Targets: mlv <= 2x the floor, peak RSS < 500 MB. `benchmarks.run` runs it as the "monitor" row
(--full: 1,000,000 rows; --smoke: 20,000).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.context import Bench
from benchmarks.measure import CommandFailedError, Measurement, repeat, run_once
from benchmarks.workspace import REPO_ROOT, calling_environment, mlv_exe

SEGMENT_ROWS = 10_000
FLOOR_READ = ("import sys, pyarrow.dataset as ds\n"
              "rows = sum(b.num_rows for b in ds.dataset(sys.argv[1], format='parquet').to_batches())\n"
              "print(rows)\n")
GENERATE = """
import sys
from datetime import UTC, datetime, timedelta
sys.path.insert(0, sys.argv[3])
from tests.monitor_helpers import Traffic, rows, write_segment
log, total = sys.argv[1], int(sys.argv[2])
start = datetime.now(UTC) - timedelta(hours=2)
for seq, first in enumerate(range(0, total, {segment}), 1):
    n = min({segment}, total - first)
    table, _ = rows(Traffic(rows=n, seed=seq, start=start + timedelta(seconds=first * 0.005), spacing_s=0.005))
    write_segment(__import__("pathlib").Path(log), table, "bench-1-00000000", seq)
""".replace("{segment}", str(SEGMENT_ROWS))


def build(work: Path, rows: int, env: dict[str, str]) -> tuple[Path, Path]:
    """The project (a registered model whose training data has a stored profile) and its log."""
    project, log = work / "project", work / "project" / "predictions"
    if (work / f"built-{rows}").exists():
        return project, log
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "sample_project" / "generate_data.py", project)
    shutil.copy(REPO_ROOT / "sample_project" / "params.yaml", project)
    shutil.copy(REPO_ROOT / "tests" / "assets" / "train.py", project)
    mlv = str(Path(sys.executable).parent / "mlv")
    for argv in (["git", "init", "-q", "-b", "main"], [sys.executable, "generate_data.py"], [mlv, "init"],
                 ["git", "add", "generate_data.py", "train.py"],  # a snapshot leaves untracked files out
                 [mlv, "snapshot", "--run", f"{sys.executable} train.py", "-m", "baseline"],
                 [mlv, "model", "register", "churn", "--version", "v0.0.1"],
                 [sys.executable, "-c", GENERATE, str(log), str(rows), str(REPO_ROOT)]):
        subprocess.run(argv, cwd=project, env=env, check=True, capture_output=True)
    (work / f"built-{rows}").touch()
    return project, log


def measurements(project: Path, log: Path, env: dict[str, str], runs: int, warmup: int) -> list[Measurement]:
    mlv = mlv_exe()
    floor = repeat(Measurement("floor", "pyarrow.dataset(...).to_batches()"),
                   lambda _i: run_once([[sys.executable, "-c", FLOOR_READ, str(log / "segments")]], project, env),
                   runs, warmup, None)
    monitored = repeat(Measurement("mlv", "mlv monitor --window 1d --json"),
                       lambda _i: run_once([[mlv, "monitor", "--window", "1d", "--json"]], project, env),
                       runs, warmup, None)
    return [monitored, floor]


def bench_monitor(b: Bench) -> None:
    """The `monitor` row of benchmarks.run."""
    rows = b.profile.monitor_rows
    case = b.case("monitor", dataset=f"{rows:,} logged rows")
    work = b.ws.runs / "monitor"
    b.say(f"monitor over {rows:,} logged rows: building the project and the log")
    env = b.ws.env(work / "project")
    try:
        project, log = build(work, rows, env)
    except subprocess.CalledProcessError as exc:
        case.note = f"set-up failed: {exc}"
        return
    for m in measurements(project, log, env, b.profile.runs, b.profile.warmup):
        case.add(m)
    case.note = f"segments of {SEGMENT_ROWS:,} rows, 4 float inputs; the model registered, not served"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="mlv-bench-monitor-"))
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = Bench\n\temail = bench@example.com\n")
    env = {**calling_environment(), "HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
           "GIT_CONFIG_NOSYSTEM": "1"}
    try:
        project, log = build(work, args.rows, env)
    except subprocess.CalledProcessError as exc:
        raise CommandFailedError(f"set-up failed: {exc.stderr}") from None
    found = measurements(project, log, env, args.runs, 1)
    doc = {m.tool: {"median_s": m.median, "peak_rss_mb": m.peak_rss_mb} for m in found}
    doc["ratio"] = found[0].median / found[1].median
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
