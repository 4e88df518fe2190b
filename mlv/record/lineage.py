"""Where a dataset came from: a sidecar file beside it, checked and copied into the record.

A tool that writes a dataset (`mlv monitor export`: production rows from a prediction log) leaves
`<file>.mlv-lineage.json` beside it: what the data came from (`source`) and the md5 of the file it
describes. `mlv snapshot` copies each sidecar of its data paths into the record's `lineage` list
once its md5 matches the md5 the snapshot itself hashed for that file; a file changed after it
was written (so the sidecar no longer describes it) gets a warning and no lineage. The record then
answers "which model's predictions did this experiment train on" from git alone.

Sidecars are found beside a data file (`data/prod.csv` + `data/prod.csv.mlv-lineage.json`, the
sidecar committed to git) or inside a data folder (both hashed into DVC's cache, read from there).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlv.adapters.dvc import Pointer

SUFFIX = ".mlv-lineage.json"
FORMAT = 1
MAX_SIDECAR_BYTES = 256 * 1024
_MAX_FOLDER_SIDECARS = 100


def sidecar_path(data_file: Path) -> Path:
    return data_file.with_name(data_file.name + SUFFIX)


def sidecar_doc(md5: str, source: dict[str, Any]) -> dict[str, Any]:
    """The sidecar's JSON: FORMAT, the md5 of the file it describes, and where it came from."""
    return {"format": FORMAT, "md5": md5, "source": source}


@dataclass
class Found:
    entries: list[dict[str, Any]]  # the record's `lineage`: {"path", "md5", "source"}
    warnings: list[str]


def for_snapshot(root: Path, cache: Path, data: list[Pointer]) -> Found:
    """The lineage entries of DATA's files that have a sidecar whose md5 matches."""
    from mlv.adapters import dvc
    from mlv.errors import MlvError

    found = Found([], [])
    for pointer in data:
        if not pointer.is_dir:
            sidecar = root / (pointer.path + SUFFIX)
            if sidecar.is_file() and not sidecar.is_symlink():
                _add(found, pointer.path, pointer.md5, _read(sidecar))
            continue
        if not dvc.manifest_may_name(cache, pointer.md5, SUFFIX):
            continue  # no sidecar in it: the manifest need not be parsed (100,000 entries: ~0.5 s)
        try:
            listing = dvc.load_manifest_map(cache, pointer.md5) or {}
        except MlvError:
            continue
        sidecars = sorted(rel for rel in listing if rel.endswith(SUFFIX))[:_MAX_FOLDER_SIDECARS]
        for rel in sidecars:
            described = rel[: -len(SUFFIX)]
            if described in listing:
                _add(found, f"{pointer.path}/{described}", listing[described],
                     _read(Path(dvc.object_file(cache, listing[rel]))))
    return found


def _read(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SIDECAR_BYTES + 1)
        if len(data) > MAX_SIDECAR_BYTES:
            return None
        return json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None


def _add(found: Found, path: str, md5: str, doc: Any) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("source"), dict):
        found.warnings.append(f"{path}{SUFFIX} is not an mlv lineage file; no lineage recorded for {path}")
        return
    if doc.get("md5") != md5:
        found.warnings.append(f"{path} changed since its lineage was written ({os.path.basename(path)}{SUFFIX}); "
                              "no lineage recorded for it")
        return
    found.entries.append({"path": path, "md5": md5, "source": doc["source"]})
