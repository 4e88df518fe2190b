"""Packages you can verify anywhere: signed with the OpenSSF model-signing library (key method,
offline), carrying an in-toto/SLSA provenance statement, checked against their record; a FIFO in a
bundle is refused without being read."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import git, mlv


def keypair(folder: Path, name: str) -> tuple[Path, Path]:
    """An elliptic-curve key pair in PEM files, as `openssl ecparam -genkey -name prime256v1` makes."""
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture
def bundle(experiment_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A package of the sample's version signed with a fresh key: (bundle, repo, public key)."""
    mlv(experiment_repo, "model", "register", "sample")
    private, public = keypair(tmp_path, "release")
    out = tmp_path / "bundle"
    doc = json.loads(mlv(experiment_repo, "model", "package", "sample@v0.0.1", "-o", str(out), "--key", str(private),
                         "--json").stdout)
    assert doc["signed"] is True and (out / "model.sig").is_file()
    return out, experiment_repo, public


def _verify(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return mlv(folder.parent, "model", "verify", folder.name, *args, check=False, timeout=30)


def test_a_signed_package_verifies_anywhere_with_the_public_key(bundle: tuple[Path, Path, Path],
                                                                tmp_path: Path) -> None:
    out, repo, public = bundle
    shipped = tmp_path / "elsewhere" / "shipped"
    shutil.copytree(out, shipped)
    proc = _verify(shipped, "--key", str(public))
    assert proc.returncode == 0 and proc.stdout == "verified: shipped\n", proc.stderr
    statement = json.loads((shipped / "provenance.json").read_text())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    [subject] = statement["subject"]
    assert subject["name"] == "artifact/models/model.joblib" and len(subject["digest"]["sha256"]) == 64
    deps = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert deps[0]["digest"]["gitCommit"] == git(repo, "rev-parse", "HEAD")
    assert {d.get("name") for d in deps if "md5" in d["digest"]} == {"data"}
    assert [d["digest"]["sha256"] for d in deps if d.get("name") == "lockfile.txt"]
    assert statement["predicate"]["buildDefinition"]["externalParameters"]["command"] == "python train.py"


def _reseal(folder: Path) -> None:
    """What an attacker who can write the bundle does: recompute SHA256SUMS over the new bytes."""
    listed = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                    if p.is_file() and p.name not in ("SHA256SUMS", "model.sig"))
    lines = [subprocess.run(["sha256sum", rel], cwd=folder, capture_output=True, text=True, check=True).stdout
             for rel in listed]
    (folder / "SHA256SUMS").write_text("".join(lines))


def test_a_swapped_artifact_fails_the_signature_and_the_record(bundle: tuple[Path, Path, Path],
                                                               tmp_path: Path) -> None:
    out, _, public = bundle
    (out / "artifact/models/model.joblib").write_bytes(b"backdoor")
    info = json.loads((out / "mlv-package.json").read_text())
    md5 = subprocess.run(["md5sum", str(out / "artifact/models/model.joblib")], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    manifest = json.dumps([{"md5": md5, "relpath": "model.joblib"}], sort_keys=True)
    info["artifact"]["md5"] = hashlib.md5(manifest.encode(), usedforsecurity=False).hexdigest() + ".dir"
    (out / "mlv-package.json").write_text(json.dumps(info))
    _reseal(out)
    proc = _verify(out)  # without the key: the bytes agree with SHA256SUMS, the record does not
    assert proc.returncode == 1
    assert "problem: the artifact (md5" in proc.stderr and "is not one of the outputs of record.json" in proc.stderr
    assert "does not have the sha256 it states" in proc.stderr
    proc = _verify(out, "--key", str(public))
    assert "the signature does not verify" in proc.stderr
    _, stranger = keypair(tmp_path, "stranger")
    shutil.rmtree(out)
    mlv(bundle[1], "model", "package", "sample@v0.0.1", "-o", str(out), "--key", str(tmp_path / "release.pem"))
    proc = _verify(out, "--key", str(stranger))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "signature does not verify" in proc.stderr


def test_verify_refuses_a_fifo_without_hanging(bundle: tuple[Path, Path, Path]) -> None:
    out, _, public = bundle
    os.remove(out / "lockfile.txt")
    os.mkfifo(out / "lockfile.txt")
    proc = _verify(out, "--key", str(public))  # the helper's 30 s timeout fails the test on a hang
    assert proc.returncode == 1
    assert proc.stderr == "problem: a special file (FIFO, socket or device), not read: lockfile.txt\n"


def test_signing_needs_a_key_file_and_leaves_nothing_on_failure(experiment_repo: Path, tmp_path: Path) -> None:
    mlv(experiment_repo, "model", "register", "sample")
    out = tmp_path / "bundle"
    proc = mlv(experiment_repo, "model", "package", "sample@v0.0.1", "-o", str(out), "--key",
               str(tmp_path / "missing.pem"), check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "is not a file" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".bundle*"))
