"""Find experiment commits and read them back: the one finder behind log, show, diff and the API.

Each commit message is read from git once and parsed once; what comes out is an `Experiment` (a
typed record) or, for a commit whose record cannot be read, an `InvalidExperiment` saying why, so
`mlv log` can list the rest and mark that one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.adapters import git
from mlv.env import environment
from mlv.errors import MlvError
from mlv.record import record, treecheck
from mlv.record.record import InvalidRecordError, Record
from mlv.record.treecheck import REWRITTEN, Difference, TreeFacts

if TYPE_CHECKING:
    from mlv.adapters.dvc import Pointer

INVALID = "invalid"
__all__ = ["INVALID", "REWRITTEN", "Difference", "Experiment", "InvalidExperiment"]


@dataclass
class Experiment:
    commit: str
    message: str
    record: Record
    # Set by mlv.record.listing.annotate for `mlv log`: what happened to it, and the git tags on it.
    labels: list[str] | None = None
    tags: list[str] | None = None
    # What the commit's tree pins, filled whenever history reads the experiment; the tree is the
    # truth, so data comes from here, and a record that disagrees is "rewritten".
    tree: TreeFacts | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return self.tree.status if self.tree is not None else treecheck.OK

    @property
    def rewritten(self) -> bool:
        return self.status == REWRITTEN

    @property
    def differences(self) -> list[Difference]:
        return self.tree.differences if self.tree is not None else []

    @property
    def data(self) -> list[Pointer]:
        """The data the commit's tree pins (for the record's data paths)."""
        return self.tree.data if self.tree is not None else self.record.data

    @property
    def outputs(self) -> list[Pointer]:
        """The outputs the commit's tree pins (for the record's output paths)."""
        return self.tree.outputs if self.tree is not None else self.record.outputs

    @property
    def lockfiles_in_tree(self) -> list[str]:
        return self.tree.lockfiles if self.tree is not None else [self.record.environment.lockfile]

    @property
    def packages(self) -> dict[str, str] | None:
        """Package name -> version from the commit's lockfile; None until it has been read."""
        env = self.record.environment
        return None if env.packages is None else env.package_versions()

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of `mlv log --json` / `mlv show --json` (docs/reference/json.md)."""
        doc = self.record.to_json(with_packages=True)
        env = doc.pop("environment")
        annotations = {name: value for name, value in (("labels", self.labels), ("tags", self.tags))
                       if value is not None}
        return {"commit": self.commit, "message": self.message, **doc, "environment": env,
                "status": self.status, "differences": [d.to_json() for d in self.differences],
                "lockfiles_in_tree": self.lockfiles_in_tree, **annotations}


@dataclass
class InvalidExperiment:
    """A commit with a record block that cannot be read; ERROR says why, in one line."""

    commit: str
    message: str
    error: str

    def to_json(self) -> dict[str, Any]:
        """An item of `mlv log --json` for such a commit (`#/$defs/invalid` in the schema)."""
        return {"commit": self.commit, "message": self.message, "status": INVALID, "error": self.error}


def read_commit(sha: str, message: str) -> Experiment | InvalidExperiment | None:
    """The experiment in commit SHA's MESSAGE; None when the message carries no record block."""
    try:
        user, rec = record.parse_if_present(message, sha)
    except InvalidRecordError as exc:
        return InvalidExperiment(sha, _user_message(message), exc.message)
    return None if rec is None else Experiment(sha, user, rec)


def _user_message(message: str) -> str:
    match = record.last_marker(message)
    return record.user_text(message[: match.start()] if match else message)


# Every branch but those `mlv reproduce --save` makes (their commits are shown as labels instead).
ALL_BRANCHES = ("--exclude=mlv/reproduced/*", "--branches")


def list_experiments(root: Path, rev: str = "HEAD", limit: int | None = None,
                     with_packages: bool = False, all_branches: bool = False) -> list[Experiment | InvalidExperiment]:
    """Experiment commits reachable from REV (or from every branch), newest first (at most LIMIT),
    unreadable ones marked."""
    if all_branches:
        shas = git.log_shas(root, ALL_BRANCHES, record.GIT_GREP, limit)
    else:
        if git.head_sha(root) is None and rev == "HEAD":
            return []
        git.resolve_commit(root, rev)
        shas = git.log_shas(root, rev, record.GIT_GREP, limit)
    messages = git.commit_messages(root, shas)
    found = [exp for exp in (read_commit(sha, messages[sha]) for sha in shas) if exp is not None]
    check_trees(root, [e for e in found if isinstance(e, Experiment)])
    if with_packages:
        attach_packages(root, [e for e in found if isinstance(e, Experiment)])
    return found


def latest_valid(root: Path, count: int, rev: str = "HEAD") -> list[Experiment]:
    """Up to COUNT newest readable experiments of REV, newest first; [] when HEAD has no commits.

    Unreadable records are skipped, so git is asked for more commits while they crowd the top.
    """
    if git.head_sha(root) is None:
        return []
    ask = count + 8
    while True:
        listed = list_experiments(root, rev, ask)
        valid = [e for e in listed if isinstance(e, Experiment)]
        if len(valid) >= count or len(listed) < ask:
            return valid[:count]
        ask *= 4


def check_trees(root: Path, experiments: list[Experiment]) -> None:
    """Check each record against its commit's tree (one git process for all of them)."""
    facts = treecheck.check_all(root, [(e.commit, e.record) for e in experiments])
    for exp in experiments:
        exp.tree = facts[exp.commit]


def attach_packages(root: Path, experiments: list[Experiment]) -> None:
    """Fill each environment's packages from its commit's lockfile, reading each distinct one once.

    A lockfile that cannot be read leaves the packages None (shown as none)."""
    first_commit: dict[str, str] = {}
    for exp in experiments:
        first_commit.setdefault(exp.record.environment.lockfile, exp.commit)
    specs = {path: f"{sha}:{path}" for path, sha in first_commit.items()}
    blobs = git.read_blobs(root, list(specs.values()))
    parsed = {path: environment.packages_from_lockfile(blobs[spec] or b"") for path, spec in specs.items()}
    for exp in experiments:
        exp.record.environment.packages = parsed[exp.record.environment.lockfile]


def show_experiment(root: Path, rev: str = "HEAD") -> Experiment:
    """Experiment REV with its packages; raises when it is not an experiment or not a valid one."""
    if rev == "HEAD" and git.head_sha(root) is None:
        raise MlvError("this repository has no commits yet", hint="Run `mlv snapshot` first.")
    sha = git.resolve_commit(root, rev)
    user, rec = record.parse(git.commit_messages(root, [sha])[sha], sha)
    exp = Experiment(sha, user, rec)
    check_trees(root, [exp])
    attach_packages(root, [exp])
    return exp
