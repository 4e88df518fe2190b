"""The data section of `mlv diff`: datasets and outputs compared through their DVC hashes.

A pointer's md5 settles "unchanged" without reading anything else. For a changed folder, the two
`.dir` manifests in the DVC cache (one JSON read each) name the files added, removed and modified;
nothing is checked out. When a manifest is not in the local cache we say so instead of failing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlv.adapters import dvc
from mlv.diff.sides import Side

NOT_IN_CACHE = "changed, contents not in the local cache; run `dvc fetch`"


@dataclass
class FolderChanges:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class DataEntry:
    path: str
    kind: str  # "data" or "output"
    status: str  # unchanged, modified, added, removed
    old: dict[str, Any] | None  # {md5, size, nfiles}; None when absent on that side
    new: dict[str, Any] | None
    size_change: int | None  # bytes, new minus old; None when one side is absent
    folder: FolderChanges | None = None  # for a changed folder whose manifests are both at hand
    note: str | None = None  # e.g. NOT_IN_CACHE

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["folder"] = asdict(self.folder) if self.folder else None
        return doc


@dataclass
class DataSection:
    entries: list[DataEntry] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(e.status != "unchanged" for e in self.entries)

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "entries": [e.to_json() for e in self.entries]}


def _pointer_json(pointer: dvc.Pointer | None) -> dict[str, Any] | None:
    if pointer is None:
        return None
    return {"md5": pointer.md5, "size": pointer.size, "nfiles": pointer.nfiles}


def compare(root: Path, old: Side, new: Side) -> DataSection:
    cache = dvc.cache_dir(root)
    entries = []
    for path in sorted({*old.pointers, *new.pointers}):
        a, b = old.pointers.get(path), new.pointers.get(path)
        kind = new.kinds.get(path) or old.kinds.get(path) or "data"
        if kind == "plot" and ((a is None and not old.knows_plots) or (b is None and not new.knows_plots)):
            continue  # a side that does not know its plots (an older record, a plain commit) claims nothing
        entry = DataEntry(path, kind, _status(a, b), _pointer_json(a), _pointer_json(b),
                          b.size - a.size if a and b else None)
        # A plots folder lives in git, not the DVC cache: there are no manifests to compare.
        if entry.status == "modified" and a and b and a.is_dir and b.is_dir and kind != "plot":
            listing_a = _listing(old, a.md5, cache)
            listing_b = _listing(new, b.md5, cache)
            if listing_a is None or listing_b is None:
                entry.note = NOT_IN_CACHE
            else:
                entry.folder = folder_changes(listing_a, listing_b)
        entries.append(entry)
    return DataSection(entries)


def _listing(side: Side, md5: str, cache: Path) -> dict[str, str] | None:
    """A folder's listing: computed from the work tree, or its manifest in the DVC cache."""
    if md5 in side.manifests:
        return side.manifests[md5]
    return dvc.load_manifest_map(cache, md5)


def _status(a: dvc.Pointer | None, b: dvc.Pointer | None) -> str:
    if a is None:
        return "added"
    if b is None:
        return "removed"
    return "unchanged" if a.md5 == b.md5 else "modified"


def folder_changes(before: dict[str, str], after: dict[str, str]) -> FolderChanges:
    """What changed between two folder listings (relpath -> md5)."""
    common = before.keys() & after.keys()
    modified = sorted(p for p in common if before[p] != after[p])
    return FolderChanges(
        added=sorted(after.keys() - before.keys()),
        removed=sorted(before.keys() - after.keys()),
        modified=modified,
        unchanged=len(common) - len(modified),
    )
