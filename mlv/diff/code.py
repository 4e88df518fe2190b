"""The code section of `mlv diff`: files added, removed, modified and renamed, with line counts.

git does the comparison (one `git diff --raw --numstat` process, whatever the number of files);
we only drop what is not code: DVC pointer files (the data section covers them), mlv's own files
and anything inside a tracked data path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.diff.sides import Side

_STATUS = {"A": "added", "D": "removed", "M": "modified", "T": "modified", "R": "renamed", "C": "added"}
_BINARY_PROBE = 8000  # git's own rule: a NUL byte in the first 8000 bytes means binary
_CHUNK = 1024 * 1024


@dataclass
class CodeFile:
    path: str
    status: str  # added, removed, modified, renamed
    old_path: str | None  # where a renamed (or copied) file came from
    added_lines: int | None  # None for a binary file
    removed_lines: int | None
    binary: bool


@dataclass
class CodeSection:
    files: list[CodeFile] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "added_lines": sum(f.added_lines or 0 for f in self.files),
            "removed_lines": sum(f.removed_lines or 0 for f in self.files),
        }

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "totals": self.totals(), "files": [asdict(f) for f in self.files]}


def is_code(path: str, data_paths: set[str], recorded: set[str]) -> bool:
    """False for pointer files, mlv's own files, files inside tracked data, and the params and
    metrics files of a record (their own sections compare them key by key)."""
    if path.endswith(".dvc") or path.startswith(".mlv/") or path in recorded:
        return False
    return not any(path == d or path.startswith(f"{d}/") for d in data_paths)


def compare(root: Path, old: Side, new: Side) -> CodeSection:
    assert old.commit is not None  # noqa: S101 - the old side is always a commit
    data_paths = {*old.pointers, *new.pointers, *old.kinds, *new.kinds}
    recorded = {*old.params, *old.metrics, *new.params, *new.metrics} if old.has_record and new.has_record else set()
    files = [
        CodeFile(c.path, _STATUS.get(c.status, "modified"), c.old_path, c.added, c.removed,
                 binary=c.added is None)
        for c in git.diff_files(root, old.commit, new.commit)
        if is_code(c.path, data_paths, recorded)
    ]
    if new.is_workspace:
        for rel in git.untracked_files(root):
            if is_code(rel, data_paths, recorded):
                lines = count_lines(root / rel)
                files.append(CodeFile(rel, "added", None, lines, 0 if lines is not None else None,
                                      binary=lines is None))
    files.sort(key=lambda f: f.path)
    return CodeSection(files)


def count_lines(path: Path) -> int | None:
    """Lines in a new file as git counts them, or None when it is binary (or unreadable)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_BINARY_PROBE)
            if b"\0" in head:
                return None
            count, last = head.count(b"\n"), head[-1:]
            while chunk := handle.read(_CHUNK):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except OSError:
        return None
    return count + (1 if last and last != b"\n" else 0)
