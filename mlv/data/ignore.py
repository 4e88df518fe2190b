"""`.dvcignore`: the files DVC leaves out of tracked folders, read as DVC reads it (dvc/ignore.py).

Each `.dvcignore` holds gitignore-style patterns relative to its own folder, and applies to
everything below that folder. DVC matches them with pathspec's gitignore patterns; so does this
(pathspec is a DVC dependency), imported only when a repository has a `.dvcignore`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing and collections.abc cost milliseconds to import; the walker imports this
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

IGNORE_FILE = ".dvcignore"


def dvcignore_filter(root: str) -> Callable[[str, bool], bool] | None:
    """A predicate (repository-relative path, is_folder) -> ignored.

    DVC reads a `.dvcignore` in any folder, with or without one at the root, so each folder's is
    looked for as the walk first reaches it (one failed open per folder when there is none: about
    a millisecond for a 10,000-file walk, which itself takes a hundred). Never None any more; the
    Optional type stays for callers that pass no filter.
    """
    specs: dict[str, Any] = {}  # folder ("" for the root) -> its compiled patterns, or None
    chains: dict[str, list[tuple[int, Any]]] = {}  # parent folder -> (offset, patterns) that apply

    def spec_for(folder: str) -> Any:
        if folder not in specs:
            specs[folder] = _load(os.path.join(root, folder, IGNORE_FILE))
        return specs[folder]

    def chain(parent: str) -> list[tuple[int, Any]]:
        """The patterns that apply below PARENT, from the root down, each with where its part of a
        path starts. Worked out once per folder: the walk asks about every file in it."""
        found = chains.get(parent)
        if found is None:
            parts = parent.split("/") if parent else []
            folders = ["/".join(parts[:depth]) for depth in range(len(parts) + 1)]
            found = [(len(f) + 1 if f else 0, spec) for f in folders if (spec := spec_for(f)) is not None]
            chains[parent] = found
        return found

    def ignored(path: str, is_folder: bool) -> bool:
        active = chain(path.rpartition("/")[0])
        if not active:  # the usual case: `dvc init`'s .dvcignore holds only comments
            return False
        suffix = "/" if is_folder else ""
        return any(spec.match_file(path[offset:] + suffix) for offset, spec in active)

    return IgnoreFilter(ignored, lambda folder: bool(chain(folder)))


class IgnoreFilter:
    """The predicate, and whether any pattern applies to the entries of a folder at all: a walker
    asks once per folder and skips the per-file question in the usual case (no patterns)."""

    def __init__(self, ignored: Callable[[str, bool], bool], applies_in: Callable[[str], bool]) -> None:
        self._ignored = ignored
        self.applies_in = applies_in

    def __call__(self, path: str, is_folder: bool) -> bool:
        return self._ignored(path, is_folder)


def _load(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read(1024 * 1024).splitlines()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        return None  # comments only: ignores nothing, and pathspec need not be imported
    import pathspec

    # DVC (dvc/ignore.py) matches with GitIgnoreSpecPattern (GitWildMatchPattern before pathspec 1).
    try:
        from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern as Pattern
    except ImportError:  # pathspec < 1
        from pathspec.patterns import GitWildMatchPattern as Pattern  # type: ignore[no-redef,attr-defined,unused-ignore]
    return pathspec.PathSpec.from_lines(Pattern, lines)
