"""Fixtures and helpers shared by the restore, checkout and reproduce tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlv import datatrack, dvcio
from mlv.statecache import StateCache
from tests.conftest import git

DVC = str(Path(sys.executable).parent / "dvc")


def dvc(cwd: Path, *args: str) -> str:
    """Run the real `dvc` executable (tests use it to set up remotes and push)."""
    proc = subprocess.run([DVC, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def data_repo(path: Path) -> Path:
    """A git + DVC repository with `data/` (a folder of 3 files) and `big.bin` (one file)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    dvcio.init_dvc(path)
    (path / "data" / "sub").mkdir(parents=True)
    (path / "data" / "a.csv").write_text("a,b\n1,2\n")
    (path / "data" / "b.csv").write_text("a,b\n3,4\n")
    (path / "data" / "sub" / "c.txt").write_text("nested\n")
    (path / "big.bin").write_bytes(os.urandom(200_000))
    return path


def track(root: Path, paths: list[str]) -> list[dvcio.Pointer]:
    """Hash PATHS into the DVC cache (as `mlv snapshot` does) and return their pointers."""
    state = StateCache.load(root / ".git" / "mlv" / "state.json")
    pointers = datatrack.track_paths(root, paths, state)
    state.save()
    return pointers


def write_pointers(root: Path, pointers: list[dvcio.Pointer]) -> None:
    for pointer in pointers:
        (root / dvcio.pointer_path(pointer.path)).write_bytes(dvcio.render_pointer(pointer))


def add_remote(root: Path, remote_dir: Path, *, local: bool = False) -> None:
    args = ["remote", "add", "-d"] + (["--local"] if local else []) + ["store", str(remote_dir)]
    dvc(root, *args)


def read_all(base: Path) -> dict[str, bytes]:
    """Every regular file under BASE (a file or a folder) with its bytes."""
    if base.is_file():
        return {"": base.read_bytes()}
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}
