"""The Python API: the same operations as the CLI, returning dataclasses.

Every function takes the repository as `path`: a folder inside it (str or Path) or a GitPython
`git.Repo`. Experiments from `log()` and `show()` hand over their GitPython `Commit` with
`commit_object()`, for everything else git knows about them (author, parents, tree, diffs).
GitPython is imported only then: `import mlv.api` stays cheap, and mlv itself calls the `git`
executable (see docs/architecture.md).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from mlv.adapters import git
from mlv.errors import MlvError
from mlv.project.init import InitResult, init_project
from mlv.record import history
from mlv.snapshot import take

if TYPE_CHECKING:
    from typing import TypeAlias

    import git as gitpython  # GitPython; `git` is mlv's adapter here

    from mlv.checkout.checkout import CheckoutResult
    from mlv.diff.compare import DiffResult
    from mlv.reproduce.rerun import ReproduceResult
    from mlv.status.status import StatusReport

    # A folder inside the repository, or a GitPython repository object.
    RepoLike: TypeAlias = str | os.PathLike[str] | gitpython.Repo


@dataclass
class Experiment(history.Experiment):
    """An experiment commit, as `mlv log` and `mlv show` see it, that knows its repository."""

    root: Path | None = None  # the work tree it was read from

    def commit_object(self, repo: gitpython.Repo | None = None) -> gitpython.objects.Commit:
        """This experiment's GitPython `Commit`, from REPO.

        Without REPO, the repository it was read from is opened for the call and closed again
        (GitPython keeps `git cat-file` processes running while a repository is open), with the
        commit's own fields (message, author, dates, parents, tree) already read. To go further
        (tree contents, diffs), pass a `git.Repo` you keep open and close.
        """
        import git as gitpython  # GitPython; `git` is mlv's adapter here

        if repo is not None:
            return repo.commit(self.commit)
        if self.root is None:
            raise MlvError("this experiment does not know its repository", hint="Pass repo=git.Repo(PATH).")
        with gitpython.Repo(self.root) as own:
            commit = own.commit(self.commit)
            _ = commit.message  # reads the whole commit object while the repository is open
        return commit


def _folder(path: RepoLike) -> Path:
    """The folder PATH names: itself, or a GitPython repository's work tree."""
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    work_tree = getattr(path, "working_tree_dir", None)  # duck-typed: no GitPython import here
    if work_tree is None:
        raise MlvError(f"{getattr(path, 'git_dir', path)} has no work tree (a bare repository)",
                       hint="Pass a clone with a work tree, or its folder.")
    return Path(work_tree)


def _experiment(found: history.Experiment, root: Path) -> Experiment:
    return Experiment(**{f.name: getattr(found, f.name) for f in fields(found)}, root=root)


def init(path: RepoLike = ".", git: bool = False) -> InitResult:
    return init_project(_folder(path), run_git_init=git)


def snapshot(message: str | None = None, run: str | None = None, allow_failure: bool = False,
             path: RepoLike = ".") -> take.SnapshotResult:
    options = take.SnapshotOptions(message=message, run=run, allow_failure=allow_failure)
    return take.take_snapshot(_folder(path), options)


def log(limit: int | None = None, rev: str = "HEAD", path: RepoLike = ".", *, all_branches: bool = False,
        where: str | None = None, sort: str | None = None) -> list[Experiment | history.InvalidExperiment]:
    """Experiments newest first, as `mlv log --json` lists them: an unreadable one is an InvalidExperiment.

    WHERE and SORT are `mlv log`'s --filter and --sort (`"mse<0.1,r2>0.9"`, `"-r2"`); each
    experiment carries its `labels` and `tags`.
    """
    from mlv.record import listing

    _check_limit(limit)
    root = git.find_root(_folder(path))
    conditions = listing.parse_filters([where] if where else [])
    selecting = bool(conditions or sort)
    found = history.list_experiments(root, rev, None if selecting else limit, with_packages=True,
                                     all_branches=all_branches)
    listing.annotate(root, found)
    if found:
        found = listing.select(found, conditions, sort, limit)
    return [_experiment(e, root) if isinstance(e, history.Experiment) else e for e in found]


def _check_limit(limit: object) -> None:
    """A repository passed where the limit goes (`log(".")`) would silently list nothing."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise TypeError(f"mlv.api.log(): limit must be a number of experiments or None, not "
                        f"{type(limit).__name__} {limit!r:.80}; the repository goes in path=, as in "
                        f"mlv.api.log(path={limit!r:.80})")


def show(rev: str = "HEAD", path: RepoLike = ".") -> Experiment:
    from mlv.registry import revisions

    root = git.find_root(_folder(path))
    return _experiment(history.show_experiment(root, revisions.resolve(root, rev)), root)


def diff(a: str | None = None, b: str | None = None, workspace: bool = False,
         path: RepoLike = ".") -> DiffResult:
    """Compare two experiments (or one with the work tree); see `mlv diff --help`."""
    from mlv.diff import compare

    return compare.diff(git.find_root(_folder(path)), [r for r in (a, b) if r], workspace)


def reproduce(rev: str, env: str = "current", rtol: float = 0.0, atol: float = 0.0, save: bool = False,
              path: RepoLike = ".", skip_local: bool = False,
              substitute: dict[str, str] | None = None) -> ReproduceResult:
    """Re-run experiment REV in a throwaway worktree and judge it (no confirmation prompt: calling
    this is the confirmation); see `mlv reproduce --help`. With env="fresh", SKIP_LOCAL and
    SUBSTITUTE (package name -> path) settle the lockfile lines that install from a local path."""
    from mlv.reproduce import rerun

    options = rerun.ReproduceOptions(rev=rev, env=env, rtol=rtol, atol=atol, save=save,
                                          skip_local=skip_local, substitutes=dict(substitute or {}))
    plan = rerun.plan(_folder(path), options)
    return rerun.execute(plan, options)


def checkout(rev: str, force: bool = False, path: RepoLike = ".") -> CheckoutResult:
    """Put experiment REV's code and data in the work tree; see `mlv checkout --help`."""
    from mlv.checkout import checkout as _checkout  # `checkout` is this function

    return _checkout.checkout_experiment(_folder(path), rev, force=force)


def status(path: RepoLike = ".") -> StatusReport:
    """What changed since the latest experiment, what is not pushed, whether hooks are installed;
    see `mlv status --help`."""
    from mlv.status import status as repo_status  # `status` is this function

    return repo_status.status(git.find_root(_folder(path)))
