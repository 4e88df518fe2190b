"""`mlv model package`, `mlv model verify` and `mlv registry event`, on real registries in git tags."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import mlv


@pytest.fixture
def registered(experiment_repo: Path) -> Path:
    mlv(experiment_repo, "model", "register", "sample")
    mlv(experiment_repo, "model", "promote", "sample", "v0.0.1", "prod")
    return experiment_repo


def test_package_then_verify(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    doc = json.loads(mlv(registered, "model", "package", "sample#prod", "-o", str(out), "--json").stdout)
    assert (doc["model"], doc["version"], doc["files"]) == ("sample", "v0.0.1", 6)
    listed = sorted(line.split("  ", 1)[1] for line in (out / "SHA256SUMS").read_text().splitlines())
    assert listed == ["artifact/models/model.joblib", "lockfile.txt", "mlv-package.json", "provenance.json",
                      "record.json", "registry.json"]
    info = json.loads((out / "mlv-package.json").read_text())
    record = json.loads((out / "record.json").read_text())
    registry = json.loads((out / "registry.json").read_text())
    assert info["artifact"]["path"] == "artifact/models" and record["command"] == "python train.py"
    assert registry["stages_now"] == {"prod": "v0.0.1"} and registry["metadata"]["artifact"]["path"] == "models"
    assert (out / "artifact/models/model.joblib").read_bytes() == (registered / "models/model.joblib").read_bytes()
    subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out, check=True)  # a standard format
    shutil.move(out, tmp_path / "shipped")  # needs no repository: checked from anywhere
    shown = mlv(tmp_path, "model", "verify", "shipped").stdout
    assert shown == "verified: shipped (signature not checked: pass --key)\n"


def test_verify_reports_each_problem(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    mlv(registered, "model", "package", "sample@v0.0.1", "-o", str(out))
    (out / "lockfile.txt").write_text("tampered\n")
    (out / "record.json").unlink()
    (out / "extra.txt").write_text("smuggled\n")
    proc = mlv(tmp_path, "model", "verify", str(out), check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["problem: changed: lockfile.txt (sha256 differs from SHA256SUMS)",
                                        "problem: missing: record.json", "problem: not in SHA256SUMS: extra.txt"]
    doc = json.loads(mlv(tmp_path, "model", "verify", str(out), "--json", check=False).stdout)
    assert doc["verified"] is False and len(doc["problems"]) == 3


def test_verify_refuses_a_manifest_path_outside_the_folder(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "SHA256SUMS").write_text(f"{'0' * 64}  ../etc/passwd\n")
    proc = mlv(tmp_path, "model", "verify", "bundle", check=False)
    assert proc.returncode == 1
    assert "names a path outside the package" in proc.stderr
    assert mlv(tmp_path, "model", "verify", "nowhere", check=False).returncode == 1


def test_package_without_the_artifact_data_leaves_nothing(registered: Path, tmp_path: Path) -> None:
    shutil.rmtree(registered / ".dvc/cache")  # no cache, and the project has no DVC remote
    out = tmp_path / "bundle"
    proc = mlv(registered, "model", "package", "sample#prod", "-o", str(out), check=False)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
    assert proc.stdout == ""
    assert not out.exists() and not list(tmp_path.glob(".bundle*"))


def test_package_refuses_a_folder_in_use(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    proc = mlv(registered, "model", "package", "sample#prod", "-o", str(out), check=False)
    assert proc.returncode == 1 and "not an empty folder" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_registry_event(registered: Path, tmp_path: Path) -> None:
    def event(ref: str, cwd: Path = registered) -> dict[str, object]:
        doc: dict[str, object] = json.loads(mlv(cwd, "registry", "event", ref, "--json").stdout)
        return doc

    assert event("refs/tags/sample#prod#1") == {"event": "assign", "name": "sample", "version": "v0.0.1",
                                                "stage": "prod", "counter": 1, "tag": "sample#prod#1"}
    assert event("sample@v0.0.1")["event"] == "register"
    outside = event("refs/tags/sample@v0.0.1", tmp_path)  # no repository: the tag name alone
    assert (outside["event"], outside["version"]) == ("register", "v0.0.1")
    for unrelated in ("refs/tags/v1.2.0", "release-2024", "refs/heads/main"):
        doc = event(unrelated)
        assert doc["event"] is None  # exit 0: a deploy job skips it instead of failing
    assert mlv(registered, "registry", "event", "v1.2.0").stdout == "v1.2.0: not a registry tag\n"
    assert mlv(registered, "registry", "event", "sample#prod#1").stdout == "assign sample v0.0.1 stage prod\n"


@pytest.mark.parametrize("ref", ["refs/tags/sample#prod#5", "sample@v9.9.9", "sample#prod!#5"])
def test_registry_event_of_a_tag_that_does_not_exist_exits_1(registered: Path, ref: str) -> None:
    proc = mlv(registered, "registry", "event", ref, "--json", check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("error: tag ") and "not in this repository" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_registry_event_of_a_stage_outside_the_repository_exits_1_instead_of_a_null_version(tmp_path: Path) -> None:
    proc = mlv(tmp_path, "registry", "event", "refs/tags/sample#prod#1", "--json", check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "version sample#prod#1 assigns is unknown" in proc.stderr
