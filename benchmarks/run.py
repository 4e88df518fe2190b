"""Entry point: `python -m benchmarks.run --full | --smoke [--work-dir DIR] [--out DIR]`.

--full writes docs/benchmarks.md and docs/benchmarks.png (the committed report); --smoke runs
every operation once on tiny datasets and writes its report into the work folder, so CI checks
that the harness still works without touching the committed figures. The raw results go to
WORK/results-full.json (--full) or next to the report (--smoke); --report-only re-renders from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import datasets, monitor, ops_compare, ops_snapshot, ops_worktree, plot, report, watchman
from benchmarks.context import FULL, SMOKE, Bench, Case, Profile, Scenario
from benchmarks.workspace import REPO_ROOT, Workspace, available_mlv_commands, measure_executables_in, versions

OPTIONAL_COMMANDS = ["diff", "checkout", "reproduce", "hooks"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--full", action="store_true", help="the full suite (about 15-20 minutes)")
    mode.add_argument("--smoke", action="store_true", help="every operation once, on tiny datasets")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="where datasets and repositories go (default: $MLV_BENCH_DIR or benchmarks/.work)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for benchmarks.md/.png (default: docs/ for --full, WORK/smoke for --smoke)")
    parser.add_argument("--bin", type=Path, default=None,
                        help="folder whose `mlv` and `dvc` are measured, to compare another build "
                             "(default: the ones next to this Python)")
    parser.add_argument("--report-only", action="store_true", help="re-render the report from the results file")
    parser.add_argument("--results", type=Path, default=None,
                        help="raw results file (default: WORK/results-full.json, or OUT/results.json for --smoke)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = FULL if args.full else SMOKE
    work = (args.work_dir or Path(os.environ.get("MLV_BENCH_DIR") or REPO_ROOT / "benchmarks" / ".work")).resolve()
    out = (args.out or (REPO_ROOT / "docs" if args.full else work / "smoke")).resolve()
    results = args.results or (work / "results-full.json" if args.full else out / "results.json")
    if args.report_only:
        doc = json.loads(results.read_text())
        write_report([Case.from_dict(c) for c in doc["cases"]], profile, doc["info"], out)
        return 0
    if args.bin is not None:
        measure_executables_in(args.bin.resolve())
    ws = Workspace(work / profile.name)
    if ws.runs.exists():
        print(f"removing the previous run's repositories in {ws.runs}", file=sys.stderr, flush=True)
        shutil.rmtree(ws.runs)
    ws.prepare()
    bench = Bench(ws, profile, available_mlv_commands(ws, OPTIONAL_COMMANDS))
    missing = sorted(set(OPTIONAL_COMMANDS) - bench.available)
    bench.say(f"profile {profile.name} in {ws.root}; mlv commands not available: {missing or 'none'}")
    info: dict[str, object] = {"work_dir": str(ws.root), "versions": dict(versions(ws)),
                               "load_start": f"{os.getloadavg()[0]:.2f}"}
    with watchman.daemon(ws.root / "watchman") as sock:
        ws.watchman_sock = sock
        info["watcher"] = "Watchman, the benchmark's own daemon" if sock else "none (watchman not installed)"
        run_all(bench, info)
    info["load_end"] = f"{os.getloadavg()[0]:.2f}"
    info["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["elapsed_min"] = f"{(time.monotonic() - bench.started) / 60:.1f}"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({"info": info, "cases": [c.to_dict() for c in bench.cases]}, indent=1))
    write_report(bench.cases, profile, info, out)
    bench.say(f"done: {out / 'benchmarks.md'}")
    for folder in ws.runs.glob("*/first-*"):  # earlier first-snapshot runs; the last is kept
        shutil.rmtree(folder)
    return 0


FINDINGS = REPO_ROOT / "benchmarks" / "findings.md"


def write_report(cases: list[Case], profile: Profile, info: dict[str, object], out: Path) -> None:
    """The Markdown and the plot; the full report ends with the hand-written profiling notes."""
    out.mkdir(parents=True, exist_ok=True)
    if profile is FULL and FINDINGS.exists():
        info = {**info, "findings": FINDINGS.read_text()}
    (out / "benchmarks.md").write_text(report.render(cases, profile, info))
    plot.draw(cases, out / "benchmarks.png")


def scenarios(bench: Bench) -> dict[str, Scenario]:
    """The datasets as the repositories see them.

    First snapshots are measured on each dataset alone ("1gib", "10k", "100k"); the last run's
    repositories are kept, and the 1 GiB file is then added to the 10k and 100k ones (not
    timed), giving "10k+" and "100k+": one 1 GiB file plus 10,000 or 100,000 small files, the
    case the targets of issues 2 and 3 are stated on, for every incremental operation.
    """
    p = bench.profile
    big = datasets.DatasetSpec("big.bin", "file", p.big_bytes, seed=1)
    small = datasets.DatasetSpec(f"small-{p.small_files}", "files", p.small_files, seed=2)
    large = datasets.DatasetSpec(f"small-{p.large_files}", "files", p.large_files, seed=3)
    runs = bench.ws.runs

    def make(key: str, repos: str, parts: list[tuple[datasets.DatasetSpec, str]]) -> Scenario:
        label = " + ".join(spec.label for spec, _ in parts)
        return Scenario(key, label, parts, runs / repos / "mlv", runs / repos / "dvc")

    return {
        "1gib": make("1gib", "1gib", [(big, "data/big.bin")]),
        "10k": make("10k", "10k", [(small, "data/small")]),
        "100k": make("100k", "100k", [(large, "data/small")]),
        "10k+": make("10k", "10k", [(big, "data/big.bin"), (small, "data/small")]),
        "100k+": make("100k", "100k", [(big, "data/big.bin"), (large, "data/small")]),
    }


def run_all(bench: Bench, info: dict[str, object]) -> None:
    p = bench.profile
    found = scenarios(bench)
    specs = {spec.name: spec for sc in found.values() for spec, _ in sc.parts}
    generated = []
    for spec in specs.values():
        start = time.monotonic()
        _path, fresh = datasets.ensure(bench.ws.data, spec)
        if fresh:
            generated.append(f"{spec.label} in {time.monotonic() - start:.0f} s")
        bench.say(f"dataset {spec.label}: {'generated' if fresh else 'reused'}")
    info["datasets"] = ", ".join(spec.label for spec in specs.values())
    info["scenarios"] = "; ".join(found[k].label for k in ("1gib", "10k+", "100k+"))
    info["generated"] = generated
    step = _stepper(bench, info)
    step(ops_worktree.startup, bench)
    step(ops_compare.log, bench)
    step(ops_snapshot.first_snapshot, bench, found["1gib"], p.runs, p.warmup)
    step(ops_snapshot.noop_snapshot, bench, found["1gib"])
    for key in ("10k", "100k"):
        if key == "10k":
            step(ops_snapshot.first_snapshot, bench, found[key], p.runs, p.warmup)
        else:
            step(ops_snapshot.first_snapshot, bench, found[key], p.large_first_runs, 0)
        sc = found[key + "+"]
        if not ops_snapshot.add_data(bench, sc, "data/big.bin"):
            continue
        step(ops_snapshot.noop_snapshot, bench, sc)
        step(ops_snapshot.watched_snapshots, bench, sc)
        if key == "100k" and not p.large_incremental:
            continue  # the smoke run only checks that the growth table is built
        step(ops_snapshot.change_one_snapshot, bench, sc)
        step(ops_compare.diff, bench, sc)
        step(ops_worktree.checkout, bench, sc)
        if key == "10k":
            step(ops_worktree.reproduce, bench, sc)
            step(ops_worktree.hooks, bench, sc)
    step(monitor.bench_monitor, bench)
    step(serving, bench, info)


def serving(bench: Bench, info: dict[str, object]) -> None:
    """`python -m benchmarks.serve` in a process of its own (it starts servers and a load generator);
    its table goes into the report. The smoke run skips MLflow when it is not installed."""
    out = bench.ws.root / "serve"
    smoke = ["--smoke"] if bench.profile is SMOKE else []
    bench.say("serving: mlv serve against MLflow and the bare Starlette floor")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.serve", *smoke, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.serve exited {proc.returncode}: {proc.stderr[-500:]}")
    info["serve"] = (out / "serve.md").read_text()


def _stepper(bench: Bench, info: dict[str, object]) -> Callable[..., None]:
    """Run one operation; save the results so far; an unexpected crash is reported, not fatal."""
    partial = bench.ws.root / "results-partial.json"

    def step(op: Callable[..., None], *args: object) -> None:
        try:
            op(*args)
        except Exception as exc:  # noqa: BLE001 - one broken operation must not lose the others
            bench.say(f"{op.__name__} crashed: {exc!r}")
            crashes = info.setdefault("crashes", [])
            assert isinstance(crashes, list)
            crashes.append(f"{op.__name__}: {exc!r}")
        partial.write_text(json.dumps({"info": info, "cases": [c.to_dict() for c in bench.cases]}, indent=1))

    return step

if __name__ == "__main__":
    raise SystemExit(main())
