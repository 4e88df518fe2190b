"""`mlv model package` and `mlv model verify`: a model version as a self-contained folder a deploy
step can ship and check, with no repository at hand.

```text
DIR/
  artifact/<name>          the artifact (a file or a folder), verified against its DVC md5
  lockfile.txt             the experiment's Python environment
  record.json              the experiment record (command, params, metrics, data, environment)
  registry.json            the version's registry entry and lineage (tag, stages, metadata)
  mlv-package.json         what the bundle is: model, version, commit, artifact path and md5
  SHA256SUMS               sha256 of every other file, `sha256sum -c` format
```

The bundle is built in a temporary folder beside DIR and renamed into place at the end, so a
failure (the artifact in neither cache nor remote) leaves no DIR behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.data import pathsafety
from mlv.errors import MlvError
from mlv.registry import fetch, queries, state
from mlv.registry.names import RegistryError

FORMAT = 1
MANIFEST = "SHA256SUMS"
INFO = "mlv-package.json"
_MAX_MANIFEST_BYTES = 16 << 20


@dataclass
class Packaged:
    model: str
    version: str
    path: Path
    files: int  # files listed in the manifest

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "path": str(self.path), "files": self.files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[str]:
    """Every file under FOLDER as a posix path, sorted; symlinks are listed (verify refuses them)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        entries = filenames + [d for d in dirnames if (base / d).is_symlink()]
        found += [(base / name).relative_to(folder).as_posix() for name in entries]
    return sorted(found)


def package(root: Path, text: str, out_dir: Path) -> Packaged:
    found = queries.resolve(state.load(root), text)
    model, version = found.model.name, found.version
    out_dir = out_dir.absolute()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise RegistryError(f"{out_dir} already exists and is not an empty folder",
                            hint="Package into a new folder, or remove that one first.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        got = fetch.get(root, text, tmp / "artifact")
        doc = queries.show(root, text)
        experiment = doc.get("experiment") or {}
        lockfile = (experiment.get("lockfile") or {}).get("path")
        if isinstance(lockfile, str):
            blob = git.read_blob(root, version.commit, pathsafety.safe_relpath(lockfile, "lockfile path"))
            if blob is not None:
                (tmp / "lockfile.txt").write_bytes(blob)
        _write_json(tmp / "record.json", _record(root, version.commit))
        _write_json(tmp / "registry.json", doc)
        _write_json(tmp / INFO, {"format": FORMAT, "model": model, "version": version.version,
                                 "commit": version.commit, "tag": version.tag,
                                 "artifact": {"path": got.path.relative_to(tmp).as_posix(), "md5": got.md5,
                                              "files": got.files}})
        listed = _files(tmp)
        lines = [f"{_sha256(tmp / rel)}  {rel}\n" for rel in listed]
        (tmp / MANIFEST).write_text("".join(lines), "utf-8")
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Packaged(model, version.version, out_dir, len(listed))


def _record(root: Path, commit: str) -> dict[str, Any] | None:
    from mlv.record import history

    try:
        return history.show_experiment(root, commit).record.to_json(with_packages=False)
    except MlvError:
        return None


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


def verify(folder: Path) -> list[str]:
    """Every problem of the bundle in FOLDER, one line each; [] when it verifies."""
    manifest = folder / MANIFEST
    if not manifest.is_file() or manifest.is_symlink():
        return [f"{manifest} is missing: this is not a package made by `mlv model package`"]
    if manifest.stat().st_size > _MAX_MANIFEST_BYTES:
        return [f"{manifest} is larger than {_MAX_MANIFEST_BYTES >> 20} MiB: not a package manifest"]
    problems: list[str] = []
    expected: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text("utf-8", errors="replace").splitlines(), 1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            problems.append(f"{MANIFEST} line {number} is not `SHA256  PATH`")
            continue
        try:
            expected[pathsafety.data_path(rel, "manifest path")] = digest
        except MlvError:
            problems.append(f"{MANIFEST} line {number} names a path outside the package: {rel!r}")
    present = set(_files(folder)) - {MANIFEST}
    for rel, digest in sorted(expected.items()):
        path = folder / rel
        if rel not in present:
            problems.append(f"missing: {rel}")
        elif path.is_symlink() or any(p.is_symlink() for p in path.parents if folder in p.parents):
            problems.append(f"a symlink, not a file: {rel}")
        elif _sha256(path) != digest:
            problems.append(f"changed: {rel} (sha256 differs from {MANIFEST})")
    problems += [f"not in {MANIFEST}: {rel}" for rel in sorted(present - set(expected))]
    if INFO not in expected and not problems:
        problems.append(f"{INFO} is not listed in {MANIFEST}")
    return problems
