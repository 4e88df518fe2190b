"""A snapshot looks for lineage sidecars in a folder's manifest without parsing it when the bytes
cannot name one; whenever they might, the verified parse decides."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlv.adapters import dvc

SUFFIX = ".mlv-lineage.json"


def _store(cache: Path, raw: bytes) -> str:
    md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest() + ".dir"  # DVC names objects so
    path = dvc.object_path(cache, md5)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return md5


def test_only_a_manifest_that_cannot_name_the_suffix_is_skipped(tmp_path: Path) -> None:
    plain = _store(tmp_path, b'[{"md5": "' + b"0" * 32 + b'", "relpath": "a.csv"}]')
    named = _store(tmp_path, b'[{"md5": "' + b"0" * 32 + b'", "relpath": "a.csv' + SUFFIX.encode() + b'"}]')
    escaped = _store(tmp_path, b'[{"md5": "' + b"0" * 32 + b'", "relpath": "a.csv\\u002emlv-lineage.json"}]')
    assert dvc.manifest_may_name(tmp_path, plain, SUFFIX) is False
    assert dvc.manifest_may_name(tmp_path, named, SUFFIX) is True
    assert dvc.manifest_may_name(tmp_path, escaped, SUFFIX) is True  # JSON could spell it escaped
    assert dvc.manifest_may_name(tmp_path, "f" * 32 + ".dir", SUFFIX) is True  # missing: the loader says so
