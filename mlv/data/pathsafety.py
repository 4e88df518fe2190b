"""Refuse paths from a record or a manifest that would make mlv write outside a work tree.

A record or a `.dir` manifest may come from someone else's commit, so its paths are untrusted
input: an absolute path, a `..` that climbs out, or a symlink in the work tree that points
elsewhere could all turn a restore into a write anywhere on the machine.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from mlv.errors import MlvError


class UnsafePathError(MlvError):
    """A path would lead outside the work tree (`absolute`: it is absolute, else it climbs out)."""

    def __init__(self, message: str, absolute: bool) -> None:
        super().__init__(message)
        self.absolute = absolute


_PLAIN = re.compile(r"[^/\\\0]+(/[^/\\\0]+)*")


def safe_relpath(value: str, what: str) -> str:
    """VALUE as a normalised posix path that stays inside its base folder, else UnsafePathError."""
    # Fast path (this runs for every file of a folder manifest): a plain relative path with no
    # `.` or `..` component is already normal and safe.
    if isinstance(value, str) and _PLAIN.fullmatch(value) and not any(
            part in (".", "..") for part in value.split("/")):
        return value
    if not isinstance(value, str) or not value or value.startswith(("/", "\\")) or os.path.isabs(value):
        raise UnsafePathError(f"{what} {value!r} is an absolute path; refusing to write outside the worktree",
                              absolute=True)
    norm = posixpath.normpath(value.replace("\\", "/"))
    if norm in (".", "..") or norm.startswith("../") or "\0" in norm:
        raise UnsafePathError(f"{what} {value!r} climbs out of the repository; refusing to write there",
                              absolute=False)
    return norm


def check_no_escaping_symlink(root: Path, rel: str, what: str) -> None:
    """Refuse when an existing component of REL under ROOT is a symlink leading out of ROOT."""
    real_root = root.resolve()
    current = root
    for part in rel.split("/"):
        current = current / part
        if not current.is_symlink():
            if not current.exists():
                return  # nothing further down can be a symlink yet
            continue
        target = current.resolve()
        if target != real_root and real_root not in target.parents:
            raise UnsafePathError(
                f"{what} {rel!r} goes through the symlink {current.relative_to(root).as_posix()} "
                f"which points outside the repository; refusing to write there",
                absolute=False,
            )


def checked_path(root: Path, value: str, what: str) -> str:
    """Both checks: a safe relative path whose existing components do not escape ROOT."""
    rel = safe_relpath(value, what)
    check_no_escaping_symlink(root, rel, what)
    return rel
