"""Remembers (inode, mtime, size) -> md5 so unchanged data is never hashed twice.

Kept per work tree in `.git/mlv/state.json` (git's folder, so it is never committed, and a linked
worktree gets its own). A file whose stat triple is unchanged is taken to be unchanged, the same
bet git's index and DVC's state database make.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

_VERSION = 1


@dataclass
class StateCache:
    path: Path
    entries: dict[str, list[int | str]] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> StateCache:
        try:
            doc = json.loads(path.read_text("utf-8"))
            if doc.get("version") == _VERSION:
                return cls(path, doc["entries"])
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # a missing or damaged cache only costs a re-hash
        return cls(path)

    def lookup(self, key: str, st: os.stat_result, need_stored: bool) -> str | None:
        """The remembered md5 of KEY when its stat matches (and, if asked, it is in the cache)."""
        entry = self.entries.get(key)
        if entry is None or entry[:3] != [st.st_ino, st.st_mtime_ns, st.st_size]:
            return None
        if need_stored and not entry[4]:
            return None
        return str(entry[3])

    def remember(self, key: str, st: os.stat_result, md5: str, stored: bool) -> None:
        self.entries[key] = [st.st_ino, st.st_mtime_ns, st.st_size, md5, int(stored)]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": _VERSION, "entries": self.entries}), "utf-8")
        os.replace(tmp, self.path)
        self.dirty = False
