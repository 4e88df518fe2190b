"""mlv.cachefile: every persistent cache reads tolerantly and writes atomically."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlv import cachefile


@pytest.mark.parametrize("codec", ["json", "marshal"])
def test_round_trip_and_version(tmp_path: Path, codec: cachefile.Codec) -> None:
    path = tmp_path / "mlv" / "cache.bin"  # the folder is created on write
    assert cachefile.write(path, {"entries": {"a": [1, 2]}}, 3, codec)
    assert cachefile.read(path, 3, codec) == {"entries": {"a": [1, 2]}, "version": 3}
    assert cachefile.read(path, 4, codec) is None  # another version: as if there were none
    assert [p.name for p in path.parent.iterdir()] == ["cache.bin"]  # no temp file left


@pytest.mark.parametrize("content", [b"", b"\x00garbage", b"[1, 2]", b'{"version": 1'])
def test_damaged_or_foreign_files_read_as_none(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cache.json"
    path.write_bytes(content)
    assert cachefile.read(path, 1) is None
    assert cachefile.read(path, 1, "marshal") is None
    assert cachefile.read(tmp_path / "missing.json", 1) is None


def test_a_write_that_cannot_happen_returns_false_and_leaves_nothing(tmp_path: Path) -> None:
    # A file where the folder must be: fails for root too, unlike permission bits.
    (tmp_path / "mlv").write_text("not a folder")
    assert cachefile.write(tmp_path / "mlv" / "state.json", {"entries": {}}, 1) is False
    target = tmp_path / "state.json"
    os.mkdir(target)  # a folder where the file must go: os.replace fails
    assert cachefile.write(target, {"entries": {}}, 1) is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlv", "state.json"]
