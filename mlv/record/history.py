"""Read experiment commits back: `mlv log` and `mlv show`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.env import capture as environment
from mlv.errors import MlvError
from mlv.record import record
from mlv.record.record import Record


@dataclass
class Experiment:
    commit: str
    message: str
    record: Record
    packages: dict[str, str] | None = None  # filled from the commit's lockfile when asked

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of `mlv log --json` / `mlv show --json` (docs/reference/json.md)."""
        doc = self.record.to_dict()
        env = doc.pop("environment")
        env["packages"] = self.packages if self.packages is not None else {}
        return {"commit": self.commit, "message": self.message, **doc, "environment": env}


def list_experiments(root: Path, rev: str = "HEAD", limit: int | None = None,
                     with_packages: bool = False) -> list[Experiment]:
    """Experiment commits reachable from REV, newest first (at most LIMIT)."""
    if git.head_sha(root) is None and rev == "HEAD":
        return []
    git.resolve_commit(root, rev)
    found: list[Experiment] = []
    # A damaged record is skipped below, so ask git for a few more than LIMIT.
    ask = None if limit is None else limit + 8
    for sha, _date, message in git.log_messages(root, rev, ask, grep=record.GIT_GREP):
        user, doc = record.split_message(message)
        if doc is None:
            continue
        try:
            _, rec = record.parse(message, sha)
        except MlvError:
            continue  # a newer or damaged record: `mlv show` explains; the log just skips it
        found.append(Experiment(sha, user, rec))
        if limit is not None and len(found) >= limit:
            break
    if with_packages:
        attach_packages(root, found)
    return found


def attach_packages(root: Path, experiments: list[Experiment]) -> None:
    """Fill `packages` from each commit's lockfile, reading each distinct lockfile once."""
    first_commit: dict[str, str] = {}
    for exp in experiments:
        first_commit.setdefault(exp.record.environment.lockfile, exp.commit)
    specs = {path: f"{sha}:{path}" for path, sha in first_commit.items()}
    blobs = git.read_blobs(root, list(specs.values()))
    parsed = {path: environment.parse_lockfile(blobs[spec] or b"") for path, spec in specs.items()}
    for exp in experiments:
        exp.packages = parsed[exp.record.environment.lockfile]


def show_experiment(root: Path, rev: str = "HEAD") -> Experiment:
    if rev == "HEAD" and git.head_sha(root) is None:
        raise MlvError("this repository has no commits yet", hint="Run `mlv snapshot` first.")
    sha = git.resolve_commit(root, rev)
    _date, message = git.commit_message(root, sha)
    user, rec = record.parse(message, sha)
    exp = Experiment(sha, user, rec)
    attach_packages(root, [exp])
    return exp
