"""The Python API: the same operations as the CLI, returning dataclasses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlv.adapters import git
from mlv.project import init as project
from mlv.record import history
from mlv.snapshot import take as _snapshot

if TYPE_CHECKING:
    from mlv.checkout import CheckoutResult
    from mlv.diff.compare import DiffResult
    from mlv.reproduce.rerun import ReproduceResult


def init(path: str | Path = ".", git: bool = False) -> project.InitResult:
    return project.init_project(Path(path), run_git_init=git)


def snapshot(message: str | None = None, run: str | None = None, allow_failure: bool = False,
             path: str | Path = ".") -> _snapshot.SnapshotResult:
    options = _snapshot.SnapshotOptions(message=message, run=run, allow_failure=allow_failure)
    return _snapshot.take_snapshot(Path(path), options)


def log(limit: int | None = None, rev: str = "HEAD",
        path: str | Path = ".") -> list[history.Experiment | history.InvalidExperiment]:
    """Experiments newest first, as `mlv log --json` lists them: an unreadable one is an InvalidExperiment."""
    root = git.find_root(Path(path))
    return history.list_experiments(root, rev, limit, with_packages=True)


def show(rev: str = "HEAD", path: str | Path = ".") -> history.Experiment:
    return history.show_experiment(git.find_root(Path(path)), rev)


def diff(a: str | None = None, b: str | None = None, workspace: bool = False,
         path: str | Path = ".") -> DiffResult:
    """Compare two experiments (or one with the work tree); see `mlv diff --help`."""
    from mlv.diff import compare as _diff

    return _diff.diff(git.find_root(Path(path)), [r for r in (a, b) if r], workspace)


def reproduce(rev: str, env: str = "current", rtol: float = 0.0, atol: float = 0.0, save: bool = False,
              path: str | Path = ".") -> ReproduceResult:
    """Re-run experiment REV in a throwaway worktree and judge it (no confirmation prompt: calling
    this is the confirmation); see `mlv reproduce --help`."""
    from mlv.reproduce import rerun as _reproduce

    options = _reproduce.ReproduceOptions(rev=rev, env=env, rtol=rtol, atol=atol, save=save)
    plan = _reproduce.plan(Path(path), options)
    return _reproduce.execute(plan, options)


def checkout(rev: str, force: bool = False, path: str | Path = ".") -> CheckoutResult:
    """Put experiment REV's code and data in the work tree; see `mlv checkout --help`."""
    from mlv import checkout as _checkout

    return _checkout.checkout_experiment(Path(path), rev, force=force)
