"""`.dvcignore`: the files DVC leaves out of tracked folders, read as DVC reads it (dvc/ignore.py).

Each `.dvcignore` holds gitignore-style patterns relative to its own folder, and applies to
everything below that folder. DVC matches them with pathspec's gitignore patterns; so does this
(pathspec is a DVC dependency), imported only when a repository has a `.dvcignore`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

IGNORE_FILE = ".dvcignore"


def dvcignore_filter(root: str) -> Callable[[str, bool], bool] | None:
    """A predicate (repository-relative path, is_folder) -> ignored, or None without `.dvcignore`.

    Only the root `.dvcignore` is looked for up front (one stat: the no-op snapshot stays cheap);
    when it exists, nested ones are found as the walk asks about paths below their folders. A
    nested `.dvcignore` without a root one is not read (a known gap; DVC reads it).
    """
    specs: dict[str, Any] = {}  # folder ("" for the root) -> its compiled patterns, or None

    def spec_for(folder: str) -> Any:
        if folder not in specs:
            specs[folder] = _load(os.path.join(root, folder, IGNORE_FILE))
        return specs[folder]

    if spec_for("") is None:
        return None

    def ignored(path: str, is_folder: bool) -> bool:
        parts = path.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            spec = spec_for(folder)
            if spec is None:
                continue
            rel = "/".join(parts[depth:]) + ("/" if is_folder else "")
            if spec.match_file(rel):
                return True
        return False

    return ignored


def _load(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read(1024 * 1024).splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    import pathspec

    # DVC (dvc/ignore.py) matches with GitIgnoreSpecPattern (GitWildMatchPattern before pathspec 1).
    try:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as Pattern
    except ImportError:  # pathspec < 1
        from pathspec.patterns import GitWildMatchPattern as Pattern  # type: ignore[no-redef,attr-defined,unused-ignore]
    return pathspec.PathSpec.from_lines(Pattern, lines)
