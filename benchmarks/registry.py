"""Registry speed: `python -m benchmarks.registry [--work-dir DIR]`.

Builds a repository with 500 experiment commits (valid records, written with one
`git fast-import`, not 500 snapshots) and 1,500 registry tags (10 models x 50 versions, each with
100 stage events), then times the median of 5 runs of `mlv model list`, `mlv model show NAME`,
`mlv model history NAME`, and `gto show` on the same repository. Target: each mlv command <= 0.3 s.
GTO's own issue #156 reports 6-12 s per command at ~1,500 tags.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workspace import calling_environment
from mlv.adapters.dvc import Pointer
from mlv.env.environment import Environment
from mlv.record.record import Record, render_message
from mlv.registry import metadata

COMMITS, MODELS, VERSIONS, STAGE_EVENTS, RUNS, TARGET_S = 500, 10, 50, 100, 5, 0.3
BIN = Path(sys.executable).parent
LOCKFILE = ".mlv/env/requirements-0123456789ab.txt"
LOCK_TEXT = "# mlv environment lockfile\n" + "".join(f"package{i}==1.{i}.0\n" for i in range(120))


def _md5(raw: bytes) -> str:
    return hashlib.md5(raw, usedforsecurity=False).hexdigest() + ".dir"


def _record(i: int) -> Record:
    return Record(
        created=f"2025-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}+00:00", command="python train.py", run_by_mlv=True,
        exit_code=0, started=None, duration_s=1.5, params={"params.yaml": {"train": {"seed": i, "lr": 0.01 * (i % 7)}}},
        metrics={"metrics.json": {"mse": 0.1 - i * 1e-4, "r2": 0.9 + i * 1e-4}},
        data=[Pointer("data", _md5(b"data"), 1000, 3)],
        outputs=[Pointer("models", _md5(str(i).encode()), 100, 1)],
        environment=Environment(python="3.11.7", implementation="CPython", os="Linux", platform="Linux-x86_64",
                                machine="x86_64", interpreter="/usr/bin/python", packages=None, lockfile=LOCKFILE,
                                lockfile_sha256=hashlib.sha256(LOCK_TEXT.encode()).hexdigest()),
        mlv_version="0.1.0")


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def build(repo: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = bytearray()
    config = "version: 1\noutputs: [models]\nmetrics: [metrics.json]\nparams: [params.yaml]\n"
    stamp = 1_700_000_000
    for i in range(COMMITS):
        stream += b"commit refs/heads/main\nmark :%d\n" % (i + 1)
        stream += b"committer Bench <bench@example.com> %d +0000\n" % (stamp + i)
        stream += _data(render_message(f"experiment {i}", _record(i)))
        if i == 0:
            for path, text in ((".mlv/config.yaml", config), (LOCKFILE, LOCK_TEXT), ("train.py", "print(1)\n")):
                stream += b"M 100644 inline %s\n" % path.encode() + _data(text)
        stream += b"M 100644 inline metrics.json\n" + _data(json.dumps(_record(i).metrics["metrics.json"]))
    tag_time = stamp + COMMITS
    for m in range(MODELS):
        name = f"model{m}"
        commits = [1 + (m * 7 + k * 10) % COMMITS for k in range(VERSIONS)]
        for k, mark in enumerate(commits):
            rec = _record(mark - 1)
            doc = {"event": "register", "model": name, "version": f"v0.{k // 10}.{k % 10}",
                   "experiment": {"commit": "(fast-import)", "message": f"experiment {mark - 1}"},
                   "artifact": rec.outputs[0], "metrics": rec.metrics, "params": rec.params, "data": rec.data,
                   "lockfile": {"path": LOCKFILE, "sha256": rec.environment.lockfile_sha256, "packages": 120}}
            tag_time += 1
            stream += _tag(f"{name}@v0.{k // 10}.{k % 10}", mark, tag_time,
                           metadata.render(f"Register {name} v0.{k // 10}.{k % 10}", doc))
        for e in range(STAGE_EVENTS):
            stage = ("staging", "prod")[e % 2]
            k = e // 2
            unassign = e % 4 == 3
            tag = f"{name}#{stage}{'!' if unassign else ''}#{e + 1}"
            tag_time += 1
            doc = {"event": "unassign" if unassign else "assign", "model": name, "stage": stage, "gates": []}
            stream += _tag(tag, commits[k], tag_time, metadata.render(f"{tag}", doc))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=bytes(stream), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True)


def _tag(name: str, mark: int, when: int, message: str) -> bytes:
    return (b"tag %s\nfrom :%d\ntagger Bench <bench@example.com> %d +0000\n" % (name.encode(), mark, when)
            + _data(message))


def median_time(args: list[str], cwd: Path, runs: int = RUNS) -> tuple[float, float]:
    """Median wall time and median CPU time (user + sys of the child) over RUNS runs. On a shared,
    loaded machine the CPU time is the steadier figure; the target is on wall time."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=calling_environment(), check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=None, help="where to build the repository")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="mlv-bench-registry-", dir=args.work_dir))
    try:
        repo = base / "repo"
        started = time.perf_counter()
        build(repo)
        tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
        print(f"built {COMMITS} experiment commits and {len(tags)} registry tags in "
              f"{time.perf_counter() - started:.1f} s (load average {os.getloadavg()[0]:.1f})")
        mlv = str(BIN / "mlv")
        rows = [
            ("python -c pass (start-up floor)", [sys.executable, "-c", "pass"], None),
            ("mlv --version (CLI floor)", [mlv, "--version"], None),
            ("mlv model list", [mlv, "model", "list"], TARGET_S),
            ("mlv model show model3", [mlv, "model", "show", "model3"], TARGET_S),
            ("mlv model history model3", [mlv, "model", "history", "model3"], TARGET_S),
            ("gto show", [str(BIN / "gto"), "show"], None),
        ]
        failed = False
        print(f"{'command (median of ' + str(RUNS) + ')':<34} {'wall':>9} {'cpu':>9}  target (wall)")
        for label, command, target in rows:
            wall, cpu = median_time(command, repo)
            verdict = "" if target is None else ("ok" if wall <= target else "MISSED")
            failed |= verdict == "MISSED"
            goal = f"<= {target:.1f} s {verdict}" if target else ""
            print(f"{label:<34} {wall:>7.3f} s {cpu:>7.3f} s  {goal}")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        return 1 if failed else 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
