"""`mlv diff`: two experiments compared on code, data, environment, params, metrics and command.

Which two: no revision means the latest experiment against the one before it (or against HEAD,
when HEAD is a commit without a record made since, such as a revert); one revision means
that one against the latest experiment; two mean A against B; `workspace=True` compares one
revision (default: HEAD, the latest experiment or a commit made since) with the work tree. The
first is always the old side.
Everything is read from git objects, the DVC cache and (for the work tree) files on disk; the
work tree and the index are never written. JSON contract: docs/reference/diff-json.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.diff import code as diff_code  # `code` and `data` are DiffResult's fields
from mlv.diff import data as diff_data
from mlv.diff import values
from mlv.diff.sides import Named, Side, load_commits, load_workspace
from mlv.errors import MlvError
from mlv.record import history, record
from mlv.registry import revisions

JSON_SCHEMA_VERSION = 1
SECTIONS = ("code", "data", "environment", "params", "metrics", "command")


@dataclass
class DiffResult:
    old: Side
    new: Side
    code: diff_code.CodeSection
    data: diff_data.DataSection
    environment: values.EnvSection
    params: values.ValuesSection
    metrics: values.ValuesSection
    command: values.CommandSection

    @property
    def identical(self) -> bool:
        return not any(getattr(self, name).changed for name in SECTIONS)

    def to_json(self) -> dict[str, Any]:
        """The `mlv diff --json` document (schema: mlv/schemas/diff.schema.json)."""
        doc: dict[str, Any] = {
            "schema_version": JSON_SCHEMA_VERSION,
            "old": _side_json(self.old),
            "new": _side_json(self.new),
            "identical": self.identical,
        }
        for name in SECTIONS:
            doc[name] = getattr(self, name).to_json()
        return doc


def _side_json(side: Side) -> dict[str, Any]:
    doc: dict[str, Any] = {"label": side.label, "commit": side.commit, "message": side.message,
                           "workspace": side.is_workspace, "has_record": side.has_record}
    if not side.is_workspace:  # how the commit's record stands against its tree
        doc.update(status=side.status, notes=side.notes)
    return doc


def diff(root: Path, revisions: Sequence[str] = (), workspace: bool = False) -> DiffResult:
    """Compare two experiments (see the module docstring for which two)."""
    old, new = _load_sides(root, list(revisions), workspace)
    return DiffResult(
        old=old,
        new=new,
        code=diff_code.compare(root, old, new),
        data=diff_data.compare(root, old, new),
        environment=values.compare_environment(old, new),
        params=values.compare_values(old, new, "params"),
        metrics=values.compare_values(old, new, "metrics"),
        command=values.compare_command(old, new),
    )


def _load_sides(root: Path, revisions: list[str], workspace: bool) -> tuple[Side, Side]:
    if len(revisions) > 2:
        raise MlvError("mlv diff compares two revisions; got more",
                       hint="Give at most two revisions (A B), or one with --workspace.")
    if workspace:
        if len(revisions) > 1:
            raise MlvError("--workspace compares one revision with the work tree; got two",
                           hint="Give one revision, or none for the latest experiment.")
        old_rev = _named(root, revisions[0]) if revisions else _latest_or_head(root)
        (old,) = load_commits(root, [old_rev])
        return old, load_workspace(root, old)
    if len(revisions) == 2:
        pair = [_named(root, revisions[0]), _named(root, revisions[1])]
    elif len(revisions) == 1:
        pair = [_named(root, revisions[0]), _latest_experiments(root, 1)[0]]
    else:
        pair = _since_latest(root) or list(reversed(_latest_experiments(root, 2)))
    old, new = load_commits(root, pair)
    return old, new


def _since_latest(root: Path) -> list[Named] | None:
    """[latest experiment, HEAD] when HEAD is a commit without a record made after it (a revert,
    a merge): what the branch holds now is HEAD's tree, not the latest experiment's."""
    head = git.head_sha(root)
    if head is None or record.last_marker(git.commit_messages(root, [head])[head]) is not None:
        return None
    found = _experiments(root, 1)
    return [found[0], Named("HEAD", head)] if found else None


def _named(root: Path, rev: str) -> Named:
    return Named(rev, git.resolve_commit(root, revisions.resolve(root, rev)))


def _experiments(root: Path, count: int) -> list[Named]:
    """Up to COUNT newest readable experiments of HEAD, newest first, as already parsed sides."""
    return [Named(exp.commit[:10], exp.commit, exp) for exp in history.latest_valid(root, count)]


def _latest_experiments(root: Path, count: int) -> list[Named]:
    found = _experiments(root, count)
    if len(found) < count:
        have = "no experiment commits" if not found else "only one experiment commit"
        raise MlvError(
            f"this branch has {have}, so there is nothing to compare",
            hint="Record one with `mlv snapshot`, name two revisions (`mlv diff A B`), "
                 "or compare with the work tree (`mlv diff --workspace`).",
        )
    return found


def _latest_or_head(root: Path) -> Named:
    """HEAD, what the work tree's uncommitted changes are relative to: the latest experiment, or a
    commit made after it (a revert, a merge), described by its tree; in plain DVC, HEAD too."""
    if git.head_sha(root) is None:
        raise MlvError("this repository has no commits yet, so there is nothing to compare",
                       hint="Record an experiment first with `mlv snapshot`.")
    found = _experiments(root, 1)
    if found and found[0].sha == git.head_sha(root):
        return found[0]
    return _named(root, "HEAD")
