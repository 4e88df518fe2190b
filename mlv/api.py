"""The Python API: the same operations as the CLI, returning dataclasses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlv import gitio, history, project
from mlv import snapshot as _snapshot

if TYPE_CHECKING:
    from mlv.diff import DiffResult


def init(path: str | Path = ".", git: bool = False) -> project.InitResult:
    return project.init_project(Path(path), run_git_init=git)


def snapshot(message: str | None = None, run: str | None = None, allow_failure: bool = False,
             path: str | Path = ".") -> _snapshot.SnapshotResult:
    options = _snapshot.SnapshotOptions(message=message, run=run, allow_failure=allow_failure)
    return _snapshot.take_snapshot(Path(path), options)


def log(limit: int | None = None, rev: str = "HEAD", path: str | Path = ".") -> list[history.Experiment]:
    root = gitio.find_root(Path(path))
    return history.list_experiments(root, rev, limit, with_packages=True)


def show(rev: str = "HEAD", path: str | Path = ".") -> history.Experiment:
    return history.show_experiment(gitio.find_root(Path(path)), rev)


def diff(a: str | None = None, b: str | None = None, workspace: bool = False,
         path: str | Path = ".") -> DiffResult:
    """Compare two experiments (or one with the work tree); see `mlv diff --help`."""
    from mlv import diff as _diff

    return _diff.diff(gitio.find_root(Path(path)), [r for r in (a, b) if r], workspace)
