"""Hashing tracked folders with the stat cache: an unchanged folder is answered from its StatChecksum
alone, and every change to it (edit, rename, deletion, addition) gives the md5 a fresh hash gives."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlv.data import statecache, track
from mlv.data.statecache import StateCache


@pytest.fixture
def folder(repo: Path) -> Path:
    data = repo / "data"
    (data / "sub").mkdir(parents=True)
    for name, text in (("a.txt", "alpha\n"), ("b.txt", "bravo\n"), ("sub/c.txt", "charlie\n")):
        (data / name).write_text(text)
    return repo


def _md5(root: Path, state: StateCache | None = None) -> str:
    state = state if state is not None else statecache.of_work_tree(root)
    md5 = track.track_paths(root, ["data"], state)[0].md5
    state.save()
    return md5


def _fresh_md5(root: Path) -> str:
    """The md5 without anything remembered: what the folder holds."""
    return _md5(root, StateCache(root / ".git" / "mlv" / "unused.json"))


def test_an_unchanged_folder_needs_neither_its_files_nor_their_entries(folder: Path) -> None:
    first = _md5(folder)
    files = statecache.path_of_files(folder / ".git" / "mlv" / "state.json")
    files.write_bytes(b"damaged")  # were the per-file entries read, every file would be hashed again
    before = files.stat().st_mtime_ns
    assert _md5(folder) == first
    assert files.read_bytes() == b"damaged" and files.stat().st_mtime_ns == before


def test_an_edit_keeping_the_size_is_seen(folder: Path) -> None:
    first = _md5(folder)
    target = folder / "data/sub/c.txt"
    st = target.stat()
    target.write_text("CHARLIE\n")
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert _md5(folder) == _fresh_md5(folder) != first


@pytest.mark.parametrize("change", ["rename", "delete", "add"])
def test_a_changed_listing_is_seen(folder: Path, change: str) -> None:
    first = _md5(folder)
    data = folder / "data"
    if change == "rename":  # same inode, mtime and size: only the folder's mtime tells
        (data / "a.txt").rename(data / "z.txt")
    elif change == "delete":
        (data / "b.txt").unlink()
    else:
        (data / "sub/d.txt").write_text("delta\n")
    assert _md5(folder) == _fresh_md5(folder) != first


def test_a_file_dvc_ignores_changes_nothing(folder: Path) -> None:
    first = _md5(folder)
    (folder / ".dvcignore").write_text("*.tmp\n")
    (folder / "data/scratch.tmp").write_text("not data\n")
    assert _md5(folder) == first


def test_file_entries_of_a_version_1_cache_are_kept_after_an_upgrade(folder: Path) -> None:
    state_path = folder / ".git" / "mlv" / "state.json"
    st = (folder / "data/a.txt").stat()
    remembered = "0123456789abcdef0123456789abcdef"  # not a.txt's md5: seen only if the entry is used
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps({"version": 1, "folders": {}, "entries": {
        "data/a.txt": [st.st_ino, st.st_mtime_ns, st.st_size, remembered, 1]}}))
    assert track.track_paths(folder, ["data/a.txt"], StateCache.load(state_path))[0].md5 == remembered
