"""Remembers (inode, mtime, size) -> md5 so unchanged data is never hashed twice.

Kept per work tree in `.git/mlv/state.json` (git's folder, so it is never committed, and a linked
worktree gets its own). A file whose stat triple is unchanged is taken to be unchanged, the same
bet git's index and DVC's state database make.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mlv import cachefile
from mlv.adapters import git

_VERSION = 1


class FileStat(Protocol):
    """What the cache compares: an os.stat_result, or anything with these three fields."""

    @property
    def st_ino(self) -> int: ...
    @property
    def st_mtime_ns(self) -> int: ...
    @property
    def st_size(self) -> int: ...


@dataclass
class StateCache:
    path: Path
    entries: dict[str, list[int | str]] = field(default_factory=dict)
    # Tracked folder -> [md5, size, nfiles] as last computed. Valid while every file in it still
    # matches `entries` and their number is unchanged: `prune` keeps the folder's entries
    # exactly the files last seen, so an equal count of matching files is the same set.
    folders: dict[str, list[int | str]] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> StateCache:
        doc = cachefile.read(path, _VERSION)  # a missing or damaged cache only costs a re-hash
        entries, folders = (doc or {}).get("entries"), (doc or {}).get("folders", {})
        if isinstance(entries, dict) and isinstance(folders, dict):
            return cls(path, entries, folders)
        return cls(path)

    def lookup(self, key: str, st: FileStat, need_stored: bool) -> str | None:
        """The remembered md5 of KEY when its stat matches (and, if asked, it is in the cache)."""
        entry = self.entries.get(key)
        if entry is None or entry[:3] != [st.st_ino, st.st_mtime_ns, st.st_size]:
            return None
        if need_stored and not entry[4]:
            return None
        return str(entry[3])

    def remember(self, key: str, st: FileStat, md5: str, stored: bool) -> None:
        self.set_entry(key, [st.st_ino, st.st_mtime_ns, st.st_size, md5, int(stored)])

    def set_entry(self, key: str, entry: list[int | str]) -> None:
        """Record KEY; a folder remembered around it is no longer known to be unchanged."""
        self.entries[key] = entry
        for folder in [f for f in self.folders if key.startswith(f + "/")]:
            del self.folders[folder]
        self.dirty = True

    def folder(self, path: str, nfiles: int) -> tuple[str, int] | None:
        """(md5, size) remembered for folder PATH if it held NFILES files (caller: all matched)."""
        entry = self.folders.get(path)
        if entry is None or entry[2] != nfiles:
            return None
        return str(entry[0]), int(entry[1])

    def remember_folder(self, path: str, md5: str, size: int, keys: set[str]) -> None:
        """Remember folder PATH's hash, and forget entries under it that are no longer there."""
        prefix = path + "/"
        for key in [k for k in self.entries if k.startswith(prefix) and k not in keys]:
            del self.entries[key]
        self.folders[path] = [md5, size, len(keys)]
        self.dirty = True

    def save(self) -> None:
        if self.dirty and cachefile.write(self.path, {"entries": self.entries, "folders": self.folders}, _VERSION):
            self.dirty = False


def of_work_tree(root: Path) -> StateCache:
    """The stat cache of the work tree at ROOT (a linked worktree has its own)."""
    return StateCache.load(git.git_dir(root) / "mlv" / "state.json")
