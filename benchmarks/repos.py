"""Benchmark repositories: the same small project and the same data, set up for mlv and for DVC.

The project is a stand-in for a training repository: params.yaml, a train.py that turns the
params into metrics.json in a few milliseconds, and data tracked by the tool (one large file and
a folder of small files). mlv's configuration lists the data paths explicitly; DVC gets a
dvc.yaml whose top-level `params` and `metrics` make `dvc params diff`, `dvc metrics diff` and
`dvc exp show` see the same files mlv records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from benchmarks.measure import Command
from benchmarks.workspace import Workspace, dvc_exe, mlv_exe, python_exe, remove_repo

TRAIN_PY = '''\
"""Benchmark stand-in for a training script: params.yaml in, metrics.json out, deterministic."""
import json

import yaml

with open("params.yaml") as handle:
    params = yaml.safe_load(handle)
lr = params["train"]["lr"]
metrics = {"mse": round(1.0 / (1.0 + 10 * lr), 6), "r2": round(1.0 - lr / 3, 6)}
with open("metrics.json", "w") as handle:
    json.dump(metrics, handle)
'''


def params_text(lr: float) -> str:
    return f"train:\n  lr: {lr}\n  epochs: 10\nseed: 1\n"


def metrics_text(lr: float) -> str:
    return json.dumps({"mse": round(1.0 / (1.0 + 10 * lr), 6), "r2": round(1.0 - lr / 3, 6)})


def write_project(repo: Path, lr: float = 0.1) -> None:
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "train.py").write_text(TRAIN_PY)
    set_params(repo, lr)
    (repo / "notes.txt").write_text("benchmark project\n")


def set_params(repo: Path, lr: float) -> None:
    """Change the params and the metrics a training run would produce (without running it)."""
    (repo / "params.yaml").write_text(params_text(lr))
    (repo / "metrics.json").write_text(metrics_text(lr))


def mlv_config(data_paths: Sequence[str]) -> str:
    listed = "".join(f"- {p}\n" for p in data_paths)
    return (f"version: 1\ndata:\n{listed}outputs: []\nparams:\n- params.yaml\nmetrics:\n- metrics.json\n"
            "command: python train.py\npython: python\n")


DVC_YAML = "params:\n- params.yaml\nmetrics:\n- metrics.json\n"


def init_mlv(ws: Workspace, repo: Path, data_paths: Sequence[str]) -> None:
    remove_repo(repo)
    repo.mkdir(parents=True)
    ws.run(["git", "init", "-q", "-b", "main"], repo)
    write_project(repo)
    ws.run([mlv_exe(), "init"], repo)
    (repo / ".mlv" / "config.yaml").write_text(mlv_config(data_paths))
    # The code is the user's to add (a snapshot leaves untracked files out); DVC's side runs `git add -A`.
    ws.run(["git", "add", "train.py", "notes.txt"], repo)


def init_dvc(ws: Workspace, repo: Path) -> None:
    remove_repo(repo)
    repo.mkdir(parents=True)
    ws.run(["git", "init", "-q", "-b", "main"], repo)
    ws.run([dvc_exe(), "init", "-q"], repo)
    write_project(repo)
    (repo / "dvc.yaml").write_text(DVC_YAML)


def mlv_snapshot(message: str) -> list[Command]:
    return [[mlv_exe(), "snapshot", "-m", message]]


def dvc_snapshot(data_paths: Sequence[str], message: str) -> list[Command]:
    """What a DVC user types to record the same state: track the data, then commit."""
    return [[dvc_exe(), "add", "-q", *data_paths], ["git", "add", "-A"],
            ["git", "commit", "-q", "--allow-empty", "-m", message]]


def git_commit(message: str) -> list[Command]:
    return [["git", "commit", "-q", "--allow-empty", "-m", message]]


def run_train(ws: Workspace, repo: Path) -> None:
    ws.run([python_exe(), "train.py"], repo)


def rev_parse(ws: Workspace, repo: Path, rev: str) -> str:
    return ws.out(["git", "rev-parse", rev], repo)
