"""Fixtures and helpers shared by the restore, checkout and reproduce tests."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlv.adapters import dvc as dvc_adapter  # `dvc` is the helper that runs DVC (tests.conftest)
from mlv.data import track as datatrack  # `track` is the helper below
from mlv.data.statecache import StateCache
from tests.conftest import dvc, git, mlv, tree_fingerprint


def data_repo(path: Path) -> Path:
    """A git + DVC repository with `data/` (a folder of 3 files) and `big.bin` (one file)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    dvc_adapter.init_dvc(path)
    (path / "data" / "sub").mkdir(parents=True)
    (path / "data" / "a.csv").write_text("a,b\n1,2\n")
    (path / "data" / "b.csv").write_text("a,b\n3,4\n")
    (path / "data" / "sub" / "c.txt").write_text("nested\n")
    (path / "big.bin").write_bytes(os.urandom(1_500_000))  # over materialize.TRUST_MIN_BYTES
    return path


def track(root: Path, paths: list[str]) -> list[dvc_adapter.Pointer]:
    """Hash PATHS into the DVC cache (as `mlv snapshot` does) and return their pointers."""
    state = StateCache.load(root / ".git" / "mlv" / "state.json")
    pointers = datatrack.track_paths(root, paths, state)
    state.save()
    return pointers


def write_pointers(root: Path, pointers: list[dvc_adapter.Pointer]) -> None:
    for pointer in pointers:
        (root / dvc_adapter.pointer_path(pointer.path)).write_bytes(dvc_adapter.render_pointer(pointer))


def add_remote(root: Path, remote_dir: Path, *, local: bool = False) -> None:
    args = ["remote", "add", "-d"] + (["--local"] if local else []) + ["store", str(remote_dir)]
    dvc(root, *args)


def read_all(base: Path) -> dict[str, bytes]:
    """Every regular file under BASE (a file or a folder) with its bytes."""
    if base.is_file():
        return {"": base.read_bytes()}
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


# -- experiment projects ---------------------------------------------------------------------------

RANDOM_SCRIPT = """\
import json, random
json.dump({"score": random.random(), "fixed": 1}, open("metrics.json", "w"))
"""

DETERMINISTIC_SCRIPT = """\
import json
json.dump({"score": 0.5}, open("metrics.json", "w"))
"""


def script_project(path: Path, script: str, command: str = "python train.py") -> Path:
    """An mlv project whose command runs SCRIPT (train.py) and writes metrics.json; no data."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    (path / "train.py").write_text(script)
    (path / "params.yaml").write_text("seed: 1\n")
    mlv(path, "init")
    (path / ".mlv" / "config.yaml").write_text(
        f"version: 1\ndata: []\noutputs: []\nparams: [params.yaml]\nmetrics: [metrics.json]\ncommand: {command}\n"
    )
    git(path, "add", "train.py")  # the code is the user's to add: a snapshot leaves untracked files out
    return path


def record_of(repo: Path, rev: str = "HEAD") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(mlv(repo, "show", rev, "--json").stdout)
    return doc


def craft_experiment(repo: Path, change: Callable[[dict[str, Any]], None], tree: str | None = None) -> str:
    """A new commit on top of HEAD whose record is HEAD's with CHANGE applied (HEAD is not moved)."""
    message = git(repo, "log", "-1", "--format=%B", "HEAD")
    begin = message.index("--- mlv experiment record v")
    body_start = message.index("\n", begin) + 1
    end = message.index("--- end mlv experiment record ---")
    doc = json.loads(message[body_start:end])
    change(doc)
    header = f"--- mlv experiment record v{doc.get('schema', 1)} ---"
    new_message = f"{message[:begin]}{header}\n{json.dumps(doc)}\n{message[end:]}"
    proc = subprocess.run(["git", "commit-tree", tree or "HEAD^{tree}", "-p", "HEAD", "-F", "-"], cwd=repo,
                          input=new_message, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


def repo_state(repo: Path) -> dict[str, object]:
    """Everything reproduce must leave alone: files (untracked and ignored too), index, HEAD, stash."""
    return {
        "files": tree_fingerprint(repo),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "stash": git(repo, "stash", "list"),
        "index": git(repo, "ls-files", "--stage"),
        "head": git(repo, "rev-parse", "HEAD"),
        "head_ref": subprocess.run(["git", "symbolic-ref", "-q", "HEAD"], cwd=repo, capture_output=True,
                                   text=True, check=False).stdout,
        "worktrees": worktrees(repo),
        "branches": git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
    }
