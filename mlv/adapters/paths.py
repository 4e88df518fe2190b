"""The one rule for a path that a repository names as data: relative, normalised, inside the
repository, and never inside `.git/` or `.dvc/`.

Every reader applies it: pointer files and `dvc.lock` (here, in the adapters), records, manifests
and the configuration (mlv.data.pathsafety, which normalises first). git and DVC read their
configuration and hooks from those two folders, so a data path inside one could make a restore
run code on the next `git status` (core.fsmonitor) or redirect DVC's cache. The check is
case-insensitive because on a case-insensitive disk `.GIT` is `.git`. Builtins only.
"""

from __future__ import annotations

import posixpath

RESERVED = (".git", ".dvc")


def reserved_component(path: str) -> str | None:
    """The component of PATH that is `.git` or `.dvc` (in any letter case), if there is one."""
    for part in path.split("/"):
        if part.casefold() in RESERVED:
            return part
    return None


def repo_path_problem(path: str) -> str | None:
    """Why PATH cannot be a tracked path, or None when it can (PATH as written, not normalised)."""
    parts = path.split("/")
    if not path or "\0" in path or "\\" in path:
        return "is not a plain relative path"
    if path.startswith("/"):
        return "is an absolute path"
    if ".." in parts:
        return "climbs out of the repository"
    if posixpath.normpath(path) != path:
        return "is not a normalised relative path"
    if path == ".":
        return "is the whole repository"
    reserved = reserved_component(path)
    return f"lies inside {reserved}/" if reserved else None
