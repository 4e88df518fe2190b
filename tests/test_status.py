"""`mlv status`: changes since the latest experiment, what is not pushed, hooks; the JSON schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema

from tests.conftest import REPO_ROOT, dvc, git, mlv

SCHEMA = json.loads((REPO_ROOT / "mlv/schemas/status.schema.json").read_text())
DIFF_SCHEMA = json.loads((REPO_ROOT / "mlv/schemas/diff.schema.json").read_text())


def _status(repo: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(mlv(repo, "status", "--json").stdout)
    jsonschema.validate(doc, SCHEMA)
    if doc["changes"] is not None:
        jsonschema.validate(doc["changes"], DIFF_SCHEMA)
    return doc


def test_a_fresh_experiment_is_clean_with_nothing_to_compare_remotes_with(experiment_repo: Path) -> None:
    doc = _status(experiment_repo)
    head = git(experiment_repo, "rev-parse", "HEAD")
    assert doc["branch"] == "main" and doc["head"] == head
    assert doc["experiment"] == {"commit": head, "message": "baseline", "commits_since": 0}
    assert doc["clean"] is True
    unshared = doc["unshared"]
    assert isinstance(unshared, dict)
    assert unshared["commits"] is None and "git remote add" in unshared["commits_reason"]
    assert unshared["data_objects"] is None and "dvc remote add" in unshared["data_reason"]
    assert doc["hooks"] == {"state": "absent", "reason": None, "hooks": doc["hooks"]["hooks"]}
    out = mlv(experiment_repo, "status").stdout
    assert "latest experiment" in out and "nothing changed since it" in out
    assert "mlv hooks install" in out


def test_changes_since_the_experiment_name_code_data_and_params(experiment_repo: Path) -> None:
    params = experiment_repo / "params.yaml"
    params.write_text(params.read_text().replace("0.25", "0.4"))
    (experiment_repo / "notes.md").write_text("new file\n")
    with (experiment_repo / "data/dataset.csv").open("a") as handle:
        handle.write("1,2,3\n")
    doc = _status(experiment_repo)
    assert doc["clean"] is False
    changes = doc["changes"]
    assert isinstance(changes, dict)
    assert [f["path"] for f in changes["code"]["files"]] == ["notes.md"]
    assert [(e["path"], e["status"]) for e in changes["data"]["entries"] if e["status"] != "unchanged"] == [
        ("data", "modified")]
    assert [c["key"] for c in changes["params"]["entries"]] == ["train.test_size"]
    out = mlv(experiment_repo, "status").stdout
    assert "notes.md (added)" in out and "data (modified)" in out and "0.25 -> 0.4" in out


def test_unpushed_commits_and_data_objects_are_counted(experiment_repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "dvc-store"
    store.mkdir()
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(experiment_repo, "remote", "add", "origin", str(bare))
    dvc(experiment_repo, "remote", "add", "-d", "store", str(store))
    git(experiment_repo, "commit", "-qam", "DVC remote")
    before = _status(experiment_repo)["unshared"]
    assert isinstance(before, dict)
    assert before["commits"] == 2 and before["git_remote"] == "origin"
    assert before["data_objects"] and before["data_objects"] >= 2  # folder manifests and their files
    assert "2 commits not on origin" in mlv(experiment_repo, "status").stdout
    mlv(experiment_repo, "push")
    after = _status(experiment_repo)["unshared"]
    assert isinstance(after, dict)
    assert after["commits"] == 0 and after["data_objects"] == 0
    out = mlv(experiment_repo, "status").stdout
    assert "every commit is on origin" in out and "all data on DVC remote store" in out


def test_a_cloud_remote_is_unknown_and_detached_head_says_so(experiment_repo: Path) -> None:
    dvc(experiment_repo, "remote", "add", "-d", "cloud", "s3://bucket/path")
    doc = _status(experiment_repo)
    unshared = doc["unshared"]
    assert isinstance(unshared, dict)
    assert unshared["data_objects"] is None and "not a local folder" in unshared["data_reason"]
    git(experiment_repo, "checkout", "-q", "--detach")
    detached = _status(experiment_repo)
    assert detached["branch"] is None
    assert "detached" in mlv(experiment_repo, "status").stdout


def test_installed_hooks_and_commits_since_the_experiment(experiment_repo: Path) -> None:
    mlv(experiment_repo, "hooks", "install")
    (experiment_repo / "README.md").write_text("docs\n")
    git(experiment_repo, "add", "README.md")
    git(experiment_repo, "commit", "-qm", "docs")
    doc = _status(experiment_repo)
    assert doc["hooks"]["state"] == "installed"
    assert doc["experiment"]["commits_since"] == 1
    out = mlv(experiment_repo, "status").stdout
    assert "hooks: installed" in out and "(1 commit ago)" in out and "README.md (added)" in out


def test_no_commits_and_a_broken_config_still_give_a_status(sample_repo: Path) -> None:
    doc = _status(sample_repo)
    assert doc["head"] is None and doc["experiment"] is None and doc["clean"] is False
    assert "no experiment yet" in mlv(sample_repo, "status").stdout


def test_a_broken_config_is_reported_in_place_of_the_changes(experiment_repo: Path) -> None:
    (experiment_repo / ".mlv/config.yaml").write_text("data: [unclosed\n")
    doc = _status(experiment_repo)
    assert doc["changes"] is None and doc["changes_error"]
    assert "changes unknown" in mlv(experiment_repo, "status").stdout


def test_outside_a_repository_is_one_line(tmp_path: Path) -> None:
    proc = mlv(tmp_path, "status", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) <= 2
    assert "Traceback" not in proc.stderr


def test_status_does_not_import_dvc(experiment_repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "dvc-store"
    store.mkdir()
    dvc(experiment_repo, "remote", "add", "-d", "store", str(store))
    code = ("import sys; from pathlib import Path; from mlv import api; "
            f"api.status({str(experiment_repo)!r}); print('dvc' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
