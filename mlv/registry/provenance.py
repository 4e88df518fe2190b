"""The provenance statement a package carries (`provenance.json`): an in-toto Statement v1 with a
SLSA v1 provenance predicate, saying what the artifact was built from.

- subject: each artifact file, by sha256;
- buildDefinition.externalParameters: the command and params;
- buildDefinition.resolvedDependencies: the code commit (gitCommit), each data path (md5, as DVC
  hashes it) and the lockfile (sha256);
- runDetails.byproducts: the saved `mlv reproduce` verdict whose evidence checks out, if any.

`check` compares a statement with the bundle's bytes and its `record.json`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:mlv:experiment-record:v1"  # an mlv experiment commit (docs/reference/record-format.md)
FILE = "provenance.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def statement(subjects: dict[str, str], commit: str, record: dict[str, Any], lockfile_sha256: str | None,
              verdict: dict[str, Any] | None) -> dict[str, Any]:
    """SUBJECTS maps each artifact file (its path in the bundle) to its sha256."""
    data = [{"name": str(d.get("path")), "digest": {"md5": str(d.get("md5"))}} for d in record.get("data") or []]
    lock = [{"name": "lockfile.txt", "digest": {"sha256": lockfile_sha256}}] if lockfile_sha256 else []
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(subjects.items())],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"command": record.get("command"), "params": record.get("params")},
                "resolvedDependencies": [{"uri": f"git+commit:{commit}", "digest": {"gitCommit": commit}},
                                         *data, *lock],
            },
            "runDetails": {
                "builder": {"id": "urn:mlv:snapshot"},
                "metadata": {"startedOn": record.get("started"), "finishedOn": record.get("created")},
                "byproducts": [{"name": "mlv-reproduce-verdict", "content": verdict}] if verdict else [],
            },
        },
    }


def check(folder: Path, doc: Any, record: Any, commit: Any) -> list[str]:
    """Each way the statement DOC disagrees with FOLDER's bytes or with RECORD (record.json)."""
    if not isinstance(doc, dict) or doc.get("_type") != STATEMENT_TYPE or doc.get("predicateType") != PREDICATE_TYPE:
        return [f"{FILE} is not an in-toto statement with a SLSA provenance predicate"]
    if not isinstance(record, dict):
        return ["record.json is not an experiment record"]
    found = []
    for subject in doc.get("subject") or []:
        name = str((subject or {}).get("name"))
        path = folder / name
        if not path.is_file() or path.is_symlink() or sha256_of(path) != (subject.get("digest") or {}).get("sha256"):
            found.append(f"{FILE}: the artifact file {name!r} does not have the sha256 it states")
    if not doc.get("subject"):
        found.append(f"{FILE} names no artifact")
    build = (doc.get("predicate") or {}).get("buildDefinition") or {}
    deps = build.get("resolvedDependencies") or []
    digests = [(d.get("name"), d["digest"]) for d in deps if isinstance(d, dict) and isinstance(d.get("digest"), dict)]
    commits = [digest["gitCommit"] for _, digest in digests if "gitCommit" in digest]
    if commits != [commit]:
        found.append(f"{FILE}: the code commit is not the package's")
    md5s = {name: digest["md5"] for name, digest in digests if "md5" in digest}
    if md5s != {str(d.get("path")): str(d.get("md5")) for d in record.get("data") or []}:
        found.append(f"{FILE}: the data md5s are not the record's")
    lock = (record.get("environment") or {}).get("lockfile_sha256")
    stated = [digest.get("sha256") for name, digest in digests if name == "lockfile.txt"]
    if lock and (stated != [lock] or not (folder / "lockfile.txt").is_file()
                 or sha256_of(folder / "lockfile.txt") != lock):
        found.append(f"{FILE}: the lockfile's sha256 is not the record's")
    if (build.get("externalParameters") or {}).get("command") != record.get("command"):
        found.append(f"{FILE}: the command is not the record's")
    return found
