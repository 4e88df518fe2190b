"""Remembers (inode, mtime, size) -> md5 so unchanged data is never hashed twice.

Kept per work tree in git's folder (so it is never committed, and a linked worktree gets its
own), in two files:

- `.git/mlv/state.json`: each tracked path's md5 and size with the StatChecksum of what was
  walked to compute it. A path (file or folder) whose checksum is unchanged is unchanged, so a
  snapshot of unchanged data reads only this small file.
- `.git/mlv/state-files.marshal`: each file's (inode, mtime, size) -> md5, read only when
  something changed. A file whose stat triple is unchanged is taken to be unchanged, the same bet
  git's index and DVC's state database make.

The two are written separately; either one missing, stale or damaged only costs a re-hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from mlv import cachefile
from mlv.adapters import git

_VERSION = 2  # tracked paths carry a StatChecksum; version 1 kept file entries and folders in one file


class FileStat(Protocol):
    """What the cache compares: an os.stat_result, or anything with these three fields."""

    @property
    def st_ino(self) -> int: ...
    @property
    def st_mtime_ns(self) -> int: ...
    @property
    def st_size(self) -> int: ...


class StateCache:
    def __init__(self, path: Path, tracked: dict[str, list[int | str]] | None = None,
                 entries: dict[str, list[int | str]] | None = None,
                 watched: dict[str, list[int | str]] | None = None) -> None:
        self.path = path
        # Tracked path -> [md5, size, StatChecksum of its walk when the md5 was computed].
        self.tracked: dict[str, list[int | str]] = tracked or {}
        self._entries = entries  # file key -> [inode, mtime_ns, size, md5, stored]; None until read
        # Tracked path -> [Watchman clock taken before the walk behind its tracked entry, nfiles or
        # -1 for a file]: no change reported since that clock means the entry still holds.
        self.watched: dict[str, list[int | str]] = watched or {}
        self._tracked_dirty = False
        self._entries_dirty = False

    @classmethod
    def load(cls, path: Path) -> StateCache:
        doc = cachefile.read(path, _VERSION)  # a missing or damaged cache only costs a re-hash
        if doc is None:
            return cls._upgraded(path)
        tracked, watched = doc.get("tracked"), doc.get("watched")
        return cls(path, tracked if isinstance(tracked, dict) else {}, None,
                   watched if isinstance(watched, dict) else {})

    @classmethod
    def _upgraded(cls, path: Path) -> StateCache:
        """The file entries of a version-1 cache, kept: re-hashing every dataset once after an
        upgrade would cost minutes on large data."""
        old = cachefile.read(path, 1)
        entries = (old or {}).get("entries")
        if not isinstance(entries, dict):
            return cls(path)
        state = cls(path, {}, entries)
        state._entries_dirty = True
        return state

    @property
    def entries(self) -> dict[str, list[int | str]]:
        if self._entries is None:
            doc = cachefile.read(path_of_files(self.path), _VERSION, "marshal")
            entries = (doc or {}).get("entries")
            self._entries = entries if isinstance(entries, dict) else {}
        return self._entries

    def lookup(self, key: str, st: FileStat, need_stored: bool) -> str | None:
        """The remembered md5 of KEY when its stat matches (and, if asked, it is in the cache)."""
        entry = self.entries.get(key)
        if entry is None or entry[0] != st.st_ino or entry[1] != st.st_mtime_ns or entry[2] != st.st_size:
            return None
        if need_stored and not entry[4]:
            return None
        return str(entry[3])

    def remember(self, key: str, st: FileStat, md5: str, stored: bool) -> None:
        self.set_entry(key, [st.st_ino, st.st_mtime_ns, st.st_size, md5, int(stored)])

    def set_entry(self, key: str, entry: list[int | str]) -> None:
        """Record KEY; a tracked path holding it is no longer known to be unchanged."""
        self.entries[key] = entry
        self._entries_dirty = True
        for path in [p for p in self.tracked if key == p or key.startswith(p + "/")]:
            del self.tracked[path]
            self.watched.pop(path, None)
            self._tracked_dirty = True

    def unchanged(self, path: str, checksum: str) -> tuple[str, int] | None:
        """(md5, size) remembered for tracked PATH when its walk's StatChecksum is still CHECKSUM."""
        entry = self.tracked.get(path)
        if entry is None or len(entry) != 3 or entry[2] != checksum:
            return None
        return str(entry[0]), int(entry[1])

    def remember_tracked(self, path: str, md5: str, size: int, keys: set[str], checksum: str) -> None:
        """Remember tracked PATH's hash, and forget entries under it that are no longer there."""
        prefix = path + "/"
        stale = [k for k in self.entries if k.startswith(prefix) and k not in keys]
        for key in stale:
            del self.entries[key]
        self._entries_dirty = self._entries_dirty or bool(stale)
        self.tracked[path] = [md5, size, checksum]
        self.watched.pop(path, None)  # the caller vouches again with the clock taken before its walk
        self._tracked_dirty = True

    def vouched(self, path: str) -> tuple[str, int, int | None, str] | None:
        """(md5, size, nfiles, clock) of tracked PATH as of a Watchman clock, if one was taken."""
        entry, watch = self.tracked.get(path), self.watched.get(path)
        if entry is None or watch is None or len(watch) != 2 or not isinstance(watch[0], str):
            return None
        nfiles = int(watch[1])
        return str(entry[0]), int(entry[1]), (None if nfiles < 0 else nfiles), watch[0]

    def watch(self, path: str, clock: str, nfiles: int | None) -> None:
        """Vouch that tracked PATH's entry describes it as of Watchman clock CLOCK."""
        if path in self.tracked:
            self.watched[path] = [clock, -1 if nfiles is None else nfiles]
            self._tracked_dirty = True

    def save(self) -> None:
        # Files first: a path remembered without its files only costs a lookup, never a wrong md5.
        if self._entries_dirty and self._entries is not None and cachefile.write(
                path_of_files(self.path), {"entries": self._entries}, _VERSION, "marshal"):
            self._entries_dirty = False
        if self._tracked_dirty and cachefile.write(self.path, {"tracked": self.tracked, "watched": self.watched},
                                                   _VERSION):
            self._tracked_dirty = False


def path_of_files(state_path: Path) -> Path:
    """Where the file entries of the state cache at STATE_PATH are kept."""
    return state_path.with_name(f"{state_path.stem}-files.marshal")


def of_work_tree(root: Path) -> StateCache:
    """The stat cache of the work tree at ROOT (a linked worktree has its own)."""
    return StateCache.load(git.git_dir(root) / "mlv" / "state.json")
