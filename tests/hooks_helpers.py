"""Helpers for the hooks and push/pull tests: remotes, hook runs, and reading a hook's verdict."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import dvc, git, mlv


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """git ARGS without raising: hooks decide the exit code, and the tests look at it."""
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})}, input=input_text)



def install_hooks(root: Path) -> None:
    mlv(root, "hooks", "install")


def add_dvc_remote(root: Path, url: Path | str, *, commit: bool = True) -> None:
    """A default DVC remote in .dvc/config (committed, so clones get it too)."""
    dvc(root, "remote", "add", "-d", "store", str(url))
    if commit:
        git(root, "add", ".dvc/config")
        git(root, "commit", "-q", "--no-verify", "-m", "DVC remote")


def add_git_remote(root: Path, bare: Path) -> None:
    git(bare.parent, "init", "-q", "--bare", bare.name)
    git(root, "remote", "add", "origin", str(bare))


def remote_objects(remote: Path) -> set[str]:
    """The md5s stored in a local-directory DVC remote."""
    base = remote / "files" / "md5"
    if not base.is_dir():
        return set()
    return {f"{p.parent.name}{p.name}" for p in base.rglob("*") if p.is_file()}


def pointer_md5s(root: Path, rev: str = "HEAD") -> dict[str, str]:
    """Data path -> md5 of every pointer file at REV."""
    import yaml

    found = {}
    for name in git(root, "ls-tree", "-r", "--name-only", rev).splitlines():
        if name.endswith(".dvc"):
            doc = yaml.safe_load(git(root, "show", f"{rev}:{name}"))
            found[name.removesuffix(".dvc")] = str(doc["outs"][0]["md5"])
    return found


def append_row(root: Path) -> Path:
    """Change the sample dataset in place (the data no longer matches its pointer)."""
    target = root / "data" / "dataset.csv"
    with open(target, "a", encoding="utf-8") as handle:
        handle.write("0.5,0.5,0.5,0.5,1\n")
    return target


def new_experiment(root: Path, message: str, test_size: str = "0.3") -> str:
    """A second experiment on the current branch with different data and outputs; its sha."""
    params = root / "params.yaml"
    params.write_text(params.read_text().replace("test_size: 0.25", f"test_size: {test_size}"))
    (root / "data" / "extra.csv").write_text(f"experiment,{message}\n")
    mlv(root, "snapshot", "--run", "python train.py", "-m", message)
    return git(root, "rev-parse", "HEAD")
