"""`mlv model package` and `mlv model verify`: a model version as a self-contained folder a deploy
step can ship and check, with no repository at hand.

```text
DIR/
  artifact/<name>          the artifact (a file or a folder), verified against its record's md5
  lockfile.txt             the experiment's Python environment
  record.json              the experiment record (command, params, metrics, data, environment)
  registry.json            the version's registry entry and lineage (tag, stages, metadata)
  provenance.json          an in-toto statement with SLSA provenance (mlv.registry.provenance)
  input-schema.json        the model's input features (when the model is servable: servable.py)
  reference-predictions.parquet   its predictions on the reference rows (idem)
  mlv-package.json         what the bundle is: model, version, commit, artifact path and md5
  SHA256SUMS               sha256 of every other file, `sha256sum -c` format
  model.sig                with --key: the model-signing signature over every other file
```

Building is in steps: `_write_contents` writes the files, then `seal` lists and signs whatever the
folder holds, so a file another module adds before sealing is covered like the others. The bundle
is built in a temporary folder beside DIR and renamed into place at the end, so a failure (the
artifact in neither cache nor remote, an invalid version) leaves no DIR behind.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv.adapters import dvc, git
from mlv.data import pathsafety
from mlv.data.safe_write import TEMP_MARK
from mlv.errors import MlvError
from mlv.registry import fetch, lineage, provenance, queries, servable, signature
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
    signed: bool = False
    notes: list[str] = field(default_factory=list)  # what was left out (e.g. not servable) and why

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "path": str(self.path), "files": self.files,
                "signed": self.signed, "notes": self.notes}


def _files(folder: Path) -> list[str]:
    """Every entry under FOLDER that is not a folder, as a posix path, sorted: files, symlinks and
    special files alike (verify refuses all but plain files). Nothing is opened."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        entries = filenames + [d for d in dirnames if (base / d).is_symlink()]
        found += [(base / name).relative_to(folder).as_posix() for name in entries]
    return sorted(found)


def package(root: Path, text: str, out_dir: Path, signing_key: Path | None = None,
            reference: Path | None = None) -> Packaged:
    """Package TEXT's version into OUT_DIR (new or empty); signed with SIGNING_KEY (PEM) when given;
    REFERENCE: rows for the reference predictions (default: the recorded dataset)."""
    found, _ = queries.resolve_trusted(root, text, "package")
    if signing_key is not None:
        signature.check_key(signing_key)  # before any work: a wrong path fails at once
    out_dir = out_dir.absolute()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise RegistryError(f"{out_dir} already exists and is not an empty folder",
                            hint="Package into a new folder, or remove that one first.")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}{TEMP_MARK}{os.getpid()}")  # never committed by a snapshot
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        notes = _write_contents(root, text, found, tmp, reference)
        listed = seal(tmp, signing_key)
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Packaged(found.model.name, found.version.version, out_dir, listed, signed=signing_key is not None,
                    notes=notes)


def _write_contents(root: Path, text: str, found: queries.Resolved, tmp: Path,
                    reference: Path | None) -> list[str]:
    """The bundle's files into TMP; notes on what was left out (a model that cannot be served)."""
    version = found.version
    got = fetch.get(root, text, tmp / "artifact")
    doc = queries.show(root, text)
    experiment = doc.get("experiment") or {}
    lockfile = (experiment.get("lockfile") or {}).get("path")
    if isinstance(lockfile, str):
        blob = git.read_blob(root, version.commit, pathsafety.safe_relpath(lockfile, "lockfile path"))
        if blob is not None:
            (tmp / "lockfile.txt").write_bytes(blob)
    record = _record(root, version.commit)
    _write_json(tmp / "record.json", record)
    notes = servable.write_serving_files(root, record, tmp, got.path, reference)
    _write_json(tmp / "registry.json", doc)
    artifact_rel = got.path.relative_to(tmp).as_posix()
    subjects = {rel: provenance.sha256_of(tmp / rel) for rel in _files(tmp) if rel == artifact_rel or
                rel.startswith(artifact_rel + "/")}
    verdict = next((v for v in lineage.reproduce_verdicts(root, version.commit) if v["checked"]), None)
    lock_sha = provenance.sha256_of(tmp / "lockfile.txt") if (tmp / "lockfile.txt").is_file() else None
    _write_json(tmp / provenance.FILE, provenance.statement(
        subjects, version.commit, record or {}, lock_sha,
        {"verdict": verdict["verdict"], "saved_commit": verdict["saved_commit"]} if verdict else None))
    _write_json(tmp / INFO, {"format": FORMAT, "model": found.model.name, "version": version.version,
                             "commit": version.commit, "tag": version.tag,
                             "artifact": {"path": artifact_rel, "md5": got.md5, "files": got.files}})
    return notes


def seal(folder: Path, signing_key: Path | None) -> int:
    """Write SHA256SUMS over every file FOLDER holds now, then (with SIGNING_KEY) model.sig over
    all of them; the number of files listed."""
    listed = _files(folder)
    lines = [f"{provenance.sha256_of(folder / rel)}  {rel}\n" for rel in listed]
    (folder / MANIFEST).write_text("".join(lines), "utf-8")
    if signing_key is not None:
        signature.sign(folder, signing_key)
    return len(listed)


def _record(root: Path, commit: str) -> dict[str, Any] | None:
    from mlv.record import history

    try:
        return history.show_experiment(root, commit).record.to_json(with_packages=False)
    except MlvError:
        return None


def _write_json(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", "utf-8")


def _special_files(folder: Path, entries: list[str]) -> list[str]:
    """ENTRIES that are neither plain files nor symlinks (FIFOs, sockets, devices): never opened,
    since reading a FIFO would wait forever."""
    return [rel for rel in entries if not (stat.S_ISREG(mode := os.lstat(folder / rel).st_mode) or stat.S_ISLNK(mode))]


def verify(folder: Path, public_key: Path | None = None) -> list[str]:
    """Every problem of the bundle in FOLDER, one line each; [] when it verifies: its bytes against
    SHA256SUMS, its provenance and artifact against its record.json, and (with PUBLIC_KEY) its
    model-signing signature."""
    entries = _files(folder)
    special = _special_files(folder, entries)
    if special:
        return [f"a special file (FIFO, socket or device), not read: {rel}" for rel in special]
    problems = _byte_problems(folder, entries)
    if not problems:
        problems = _record_problems(folder)
    if public_key is not None:
        problems += signature.problems(folder, public_key)
    return problems


def _byte_problems(folder: Path, entries: list[str]) -> list[str]:
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
    present = set(entries) - {MANIFEST, signature.SIGNATURE}
    for rel, digest in sorted(expected.items()):
        path = folder / rel
        if rel not in present:
            problems.append(f"missing: {rel}")
        elif path.is_symlink() or any(p.is_symlink() for p in path.parents if folder in p.parents):
            problems.append(f"a symlink, not a file: {rel}")
        elif provenance.sha256_of(path) != digest:
            problems.append(f"changed: {rel} (sha256 differs from {MANIFEST})")
    problems += [f"not in {MANIFEST}: {rel}" for rel in sorted(present - set(expected))]
    if INFO not in expected and not problems:
        problems.append(f"{INFO} is not listed in {MANIFEST}")
    return problems


def _read_json(path: Path) -> Any:
    if not path.is_file() or path.stat().st_size > _MAX_MANIFEST_BYTES:
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (ValueError, RecursionError):
        return None


def _record_problems(folder: Path) -> list[str]:
    """The bundle against its own record: the artifact's bytes hash to the md5 of one of the
    record's outputs, and the provenance statement says what the record says."""
    info, record = _read_json(folder / INFO), _read_json(folder / "record.json")
    if not isinstance(info, dict) or not isinstance(record, dict):
        return [f"{INFO} or record.json is not readable: the package cannot be checked against its record"]
    artifact = info["artifact"] if isinstance(info.get("artifact"), dict) else {}
    problems = _artifact_problems(folder, artifact, record)
    if not (folder / provenance.FILE).is_file():
        return [*problems, f"{provenance.FILE} is missing"]
    return problems + provenance.check(folder, _read_json(folder / provenance.FILE), record, info.get("commit"))


def _artifact_problems(folder: Path, artifact: dict[str, Any], record: dict[str, Any]) -> list[str]:
    rel, md5 = str(artifact.get("path")), artifact.get("md5")
    try:
        path = folder / pathsafety.data_path(rel, "artifact path")
    except MlvError:
        return [f"{INFO} names an artifact outside the package: {rel!r}"]
    if path.is_dir():
        entries = [dvc.ManifestEntry(p.relative_to(path).as_posix(), dvc.hash_file(p))
                   for p in sorted(path.rglob("*")) if p.is_file()]
        actual = dvc.dir_hash(entries)[0]
    elif path.is_file():
        actual = dvc.hash_file(path)
    else:
        return [f"the artifact {rel} is missing"]
    if actual != md5:
        return [f"the artifact's bytes do not have the md5 {INFO} states ({str(md5)[:40]})"]
    outputs = {str(o.get("md5")) for o in record.get("outputs") or [] if isinstance(o, dict)}
    # A file registered from inside an output folder is listed in that folder's manifest, which
    # the package does not carry: such a file is checked by `mlv model get` in the repository.
    in_a_folder = not str(md5).endswith(".dir") and any(m.endswith(".dir") for m in outputs)
    if md5 not in outputs and not in_a_folder:
        return [f"the artifact (md5 {str(md5)[:12]}) is not one of the outputs of record.json"]
    return []
