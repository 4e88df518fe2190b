"""Artifacts as DVC and GTO declare them: `artifacts:` in `dvc.yaml`, and GTO's `artifacts.yaml`.

A version GTO registered carries no mlv metadata, so the path of its model comes from what its
commit declares: `dvc.yaml` `artifacts: {NAME: {path: ...}}` (DVC's format, which `dvc artifacts
get` reads), else `artifacts.yaml` `{NAME: {path: ...}}` (GTO's own). Its hash then comes from the
commit's pointer files or `dvc.lock`. The other way round, `mlv model register` declares the
model in `dvc.yaml`, so DVC's own `dvc artifacts get` finds the versions of commits that hold it.
Both files come from other people's commits: read with a size cap, paths checked.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from mlv.adapters import dvc, git
from mlv.data import pathsafety
from mlv.errors import MlvError
from mlv.pipeline import dvcfiles

GTO_FILE = "artifacts.yaml"
MAX_FILE_BYTES = dvcfiles.MAX_PIPELINE_BYTES


def declared_path(root: Path, commit: str, name: str) -> str | None:
    """The path COMMIT's `dvc.yaml` (`artifacts:`) or `artifacts.yaml` gives model NAME; None if neither."""
    blobs = git.read_blobs(root, [f"{commit}:{dvcfiles.PIPELINE_FILE}", f"{commit}:{GTO_FILE}"])
    for file in (dvcfiles.PIPELINE_FILE, GTO_FILE):
        data = blobs.get(f"{commit}:{file}")
        doc = _load(data) if data is not None else None
        section = doc.get("artifacts") if isinstance(doc, dict) and file == dvcfiles.PIPELINE_FILE else doc
        entry = section.get(name) if isinstance(section, dict) else None
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and path.strip():
            try:
                return pathsafety.safe_relpath(path.strip(), f"{file} artifact path")
            except pathsafety.UnsafePathError:
                return None  # a path outside the repository names nothing mlv will fetch
    return None


def located(root: Path, commit: str, path: str) -> dict[str, Any] | None:
    """{path, md5} of PATH at COMMIT: a path a `.dvc` file or `dvc.lock` pins, or a file inside a
    folder one pins (looked up in the folder's manifest in the DVC cache); None when none does."""
    parts = path.split("/")
    owners = ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]  # PATH, then its parent folders
    blobs = git.read_blobs(root, [f"{commit}:{owner}.dvc" for owner in owners])
    pinned = {p.path: p for p in dvcfiles.stage_outputs_at(root, commit)}
    for owner in owners:
        data = blobs.get(f"{commit}:{owner}.dvc")
        pointer = pinned.get(owner)
        if data is not None:
            try:
                pointer = dvc.parse_pointer(data, f"{owner}.dvc")
            except MlvError:
                pointer = None
        if pointer is None:
            continue
        if owner == path:
            return {"path": path, "md5": pointer.md5}
        if pointer.is_dir:
            listing = dvc.load_manifest_map(dvc.cache_dir(root), pointer.md5) or {}
            md5 = listing.get(path[len(owner) + 1:])
            return {"path": path, "md5": md5} if md5 else None
    return None


def declare(root: Path, name: str, path: str) -> bool:
    """Add `artifacts: {NAME: {path: PATH, type: model}}` to the work tree's `dvc.yaml` (created if
    absent); False when NAME is declared there already (whatever its path: the user's word stands)."""
    from ruamel.yaml import YAML

    file = root / dvcfiles.PIPELINE_FILE
    if file.is_symlink():
        raise MlvError(f"{dvcfiles.PIPELINE_FILE} is a symlink; mlv never writes through one",
                       hint=f"Add `artifacts: {{{name}: {{path: {path}, type: model}}}}` to it yourself.")
    from ruamel.yaml.error import YAMLError

    yaml = YAML()
    text = file.read_bytes() if file.exists() else b""
    try:
        doc = yaml.load(text) if text.strip() else None
    except YAMLError as exc:
        raise MlvError(f"{dvcfiles.PIPELINE_FILE} cannot be read ({str(exc)[:80]}); its artifact was not "
                       "declared", hint=f"Fix {dvcfiles.PIPELINE_FILE}.") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise MlvError(f"{dvcfiles.PIPELINE_FILE} is not a mapping; its artifact was not declared",
                       hint=f"Fix {dvcfiles.PIPELINE_FILE}.")
    artifacts = doc.setdefault("artifacts", {})
    if not isinstance(artifacts, dict) or name in artifacts:
        return False
    artifacts[name] = {"path": path, "type": "model"}
    out = io.BytesIO()
    yaml.dump(doc, out)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.mlv-tmp")
    tmp.write_bytes(out.getvalue())
    os.replace(tmp, file)
    return True


def _load(data: bytes) -> Any:
    try:
        return dvc.load_untrusted_yaml(data, limit=MAX_FILE_BYTES)
    except ValueError:
        return None  # unreadable: it declares nothing
