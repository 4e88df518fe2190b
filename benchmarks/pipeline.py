"""A no-op `mlv snapshot` of a DVC pipeline repository (`python -m benchmarks.pipeline`).

The repository: data tracked by `.dvc` files (one large file and a folder of small files, 1 GiB
and 10,000 files by default), a `dvc.yaml` stage that reads both and writes a model (cached) and a
metrics file (`cache: false`), run once with `dvc repro` and snapshotted once (not timed). Then
`mlv snapshot` with nothing changed is timed RUNS times. The budget is 0.3 s: mlv reads `dvc.lock`
itself and never imports DVC on this path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.workspace import VENV_BIN, calling_environment, dvc_exe, mlv_exe

BUDGET_S = 0.3
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps:
    - data/big.bin
    - data/small
    - train.py
    params:
    - train.lr
    outs:
    - model.bin
    metrics:
    - metrics.json:
        cache: false
"""
TRAIN_PY = """\
import json, os, yaml
lr = yaml.safe_load(open("params.yaml"))["train"]["lr"]
n = len(os.listdir("data/small"))
open("model.bin", "wb").write(bytes(f"{lr} {n}", "ascii") * 1000)
json.dump({"loss": 1.0 / (1.0 + lr * n)}, open("metrics.json", "w"))
"""


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True)


def build(root: Path, big_mib: int, small: int, env: dict[str, str]) -> None:
    """The pipeline repository, with its data tracked, run and snapshotted once (not timed)."""
    (root / "data/small").mkdir(parents=True)
    with open(root / "data/big.bin", "wb") as handle:
        block = os.urandom(1024 * 1024)
        for i in range(big_mib):
            handle.write(block[:-8] + i.to_bytes(8, "little"))
    for i in range(small):
        (root / f"data/small/{i:05d}.txt").write_text(f"sample {i}\n")
    (root / "params.yaml").write_text("train:\n  lr: 0.1\n")
    (root / "train.py").write_text(TRAIN_PY)
    _run(["git", "init", "-q"], root, env)
    _run([dvc_exe(), "init", "-q"], root, env)
    (root / ".mlv").mkdir()
    # mlv writes the two .dvc files (byte-identical to `dvc add`, and much faster on 1 GiB).
    (root / ".mlv/config.yaml").write_text("version: 1\ndata: [data/big.bin, data/small]\n")
    _run([mlv_exe(), "snapshot", "-m", "data"], root, env)
    (root / ".mlv/config.yaml").unlink()
    (root / "dvc.yaml").write_text(DVC_YAML)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "pipeline"], root, env)
    _run([mlv_exe(), "init"], root, env)
    _run([mlv_exe(), "snapshot", "--run", "dvc repro", "-m", "first"], root, env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=1024, help="size of the large data file, MiB")
    parser.add_argument("--small", type=int, default=10_000, help="number of small data files")
    parser.add_argument("--runs", type=int, default=7, help="timed no-op snapshots")
    parser.add_argument("--dir", type=Path, default=None, help="where to build (default: a temporary folder)")
    args = parser.parse_args(argv)
    env = {**calling_environment(), "DVC_NO_ANALYTICS": "1",
           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com",
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # the stage's python
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        print(f"building a pipeline repository: {args.big_mib} MiB file + {args.small} small files ...",
              file=sys.stderr)
        build(root, args.big_mib, args.small, env)
        times = []
        for i in range(args.runs + 1):  # the first run warms the page cache and is not counted
            start = time.perf_counter()
            _run([mlv_exe(), "snapshot", "-m", f"noop {i}"], root, env)
            times.append(time.perf_counter() - start)
        median = statistics.median(times[1:])
        verdict = "within" if median <= BUDGET_S else "OVER"
        print(f"no-op mlv snapshot of a pipeline repository: median {median:.3f} s over {args.runs} runs "
              f"(min {min(times[1:]):.3f} s); {verdict} the {BUDGET_S} s budget")
    return 0 if median <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
