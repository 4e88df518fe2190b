"""`mlv snapshot`: what an experiment commit contains, end to end through the real CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlv.adapters import dvc
from mlv.env import environment
from tests.conftest import git, mlv


def _show(repo: Path, rev: str = "HEAD") -> dict[str, object]:
    doc: dict[str, object] = json.loads(mlv(repo, "show", rev, "--json").stdout)
    return doc


def test_first_snapshot_is_root_commit_with_full_record(sample_repo: Path) -> None:
    result = mlv(sample_repo, "snapshot", "--run", "python train.py", "-m", "baseline", "--json")
    doc = json.loads(result.stdout)
    sha = doc["commit"]
    assert len(sha) == 40
    assert git(sample_repo, "rev-parse", "HEAD") == sha
    assert git(sample_repo, "rev-list", "--count", "HEAD") == "1"
    # The training script's own output went to stderr, so stdout stayed valid JSON.
    assert "mse=" in result.stderr
    record = _show(sample_repo)
    assert record["commit"] == sha
    assert record["message"] == "baseline"
    assert record["command"] == "python train.py"
    assert record["run_by_mlv"] is True
    assert record["exit_code"] == 0
    assert isinstance(record["duration_s"], float)
    metrics_on_disk = json.loads((sample_repo / "metrics.json").read_text())
    assert record["metrics"] == {"metrics.json": metrics_on_disk}
    assert record["params"] == {"params.yaml": {"train": {"test_size": 0.25, "seed": 42, "fit_intercept": True}}}


def test_commit_pins_data_through_dvc_pointers(experiment_repo: Path) -> None:
    files = git(experiment_repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert "data.dvc" in files and "models.dvc" in files
    assert not [f for f in files if f.startswith(("data/", "models/"))]
    assert "train.py" in files and "params.yaml" in files and "metrics.json" in files
    record = _show(experiment_repo)
    data = record["data"]
    assert isinstance(data, list)
    pointer = dvc.parse_pointer(git(experiment_repo, "show", "HEAD:data.dvc").encode(), "data.dvc")
    assert data == [{"path": "data", "md5": pointer.md5, "size": pointer.size, "nfiles": 1}]
    cache = experiment_repo / ".dvc/cache"
    assert dvc.has_object(cache, pointer.md5)
    assert git(experiment_repo, "status", "--porcelain") == ""


def test_plain_dvc_agrees_with_mlv_pointers(experiment_repo: Path) -> None:
    """DVC's own commands keep working on an mlv repository."""
    status = subprocess.run(["dvc", "status", "--json"], cwd=experiment_repo, capture_output=True,
                            text=True, check=True)
    assert json.loads(status.stdout) == {}
    (experiment_repo / "data/dataset.csv").unlink()
    subprocess.run(["dvc", "checkout", "-q"], cwd=experiment_repo, check=True)
    assert (experiment_repo / "data/dataset.csv").stat().st_size > 0


def test_mlv_hashes_match_dvc_add(sample_repo: Path, tmp_path: Path) -> None:
    (sample_repo / "data/sub dir").mkdir()
    (sample_repo / "data/sub dir/ünï cödé.csv").write_text("a,b\n1,2\n")
    mlv(sample_repo, "snapshot", "--run", "python train.py")
    ours = dvc.parse_pointer((sample_repo / "data.dvc").read_bytes(), "data.dvc")
    twin = tmp_path / "twin"
    subprocess.run(["git", "clone", "-q", str(sample_repo), str(twin)], check=True)
    subprocess.run(["cp", "-r", str(sample_repo / "data"), str(twin / "data")], check=True)
    (twin / "data.dvc").unlink()
    subprocess.run(["dvc", "add", "-q", "data"], cwd=twin, check=True)
    theirs = dvc.parse_pointer((twin / "data.dvc").read_bytes(), "data.dvc")
    assert (ours.md5, ours.size, ours.nfiles) == (theirs.md5, theirs.size, theirs.nfiles)
    assert (sample_repo / "data.dvc").read_bytes() == (twin / "data.dvc").read_bytes()


def test_environment_lockfile_is_committed_and_installable_format(experiment_repo: Path) -> None:
    record = _show(experiment_repo)
    env = record["environment"]
    assert isinstance(env, dict)
    lockfile = env["lockfile"]
    content = git(experiment_repo, "show", f"HEAD:{lockfile}").encode() + b"\n"
    assert lockfile == environment.lockfile_path(content)
    versions = environment.parse_lockfile(content)
    assert versions["scikit-learn"] == env["packages"]["scikit-learn"]
    assert "scikit-learn==" in content.decode()
    # The project itself is installed editable: recorded with its source, never as a bare pin.
    assert any(line.startswith("-e file://") for line in content.decode().splitlines())
    assert env["python"].count(".") == 2
    assert env["platform"]


def test_snapshot_without_run_records_default_command_not_run(experiment_repo: Path) -> None:
    mlv(experiment_repo, "snapshot", "-m", "as found", "--allow-empty")
    record = _show(experiment_repo)
    assert record["command"] == "python train.py"
    assert record["run_by_mlv"] is False
    assert record["exit_code"] is None


def test_nothing_changed_snapshot_makes_no_commit(experiment_repo: Path) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    result = mlv(experiment_repo, "snapshot", "-m", "again")
    assert f"nothing changed since {head[:10]}" in result.stdout
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    doc = json.loads(mlv(experiment_repo, "snapshot", "--json").stdout)
    assert doc["created"] is False and doc["commit"] == head


def _amend_message(repo: Path, edit: tuple[str, str]) -> None:
    """Amend HEAD's message with one replacement, keeping its tree (a hand-edited record)."""
    message = git(repo, "log", "-1", "--format=%B")
    assert edit[0] in message
    git(repo, "commit", "-q", "--amend", "-m", message.replace(*edit))


def test_a_record_claiming_other_data_is_recorded_again_though_the_tree_is_the_same(experiment_repo: Path) -> None:
    record = _show(experiment_repo)
    md5 = record["data"][0]["md5"]  # type: ignore[index]
    _amend_message(experiment_repo, (md5, "0" * 32))
    head = git(experiment_repo, "rev-parse", "HEAD")
    mlv(experiment_repo, "snapshot", "-m", "true again")
    assert git(experiment_repo, "rev-parse", "HEAD~1") == head
    assert _show(experiment_repo)["data"][0]["md5"] == md5  # type: ignore[index]


def test_a_record_carried_to_another_tree_is_recorded_again(experiment_repo: Path) -> None:
    (experiment_repo / "notes.txt").write_text("amended in\n")
    git(experiment_repo, "add", "notes.txt")
    git(experiment_repo, "commit", "-q", "--amend", "--no-edit")  # the record now sits on another tree
    head = git(experiment_repo, "rev-parse", "HEAD")
    mlv(experiment_repo, "snapshot", "-m", "true again")
    assert git(experiment_repo, "rev-parse", "HEAD~1") == head


def test_a_plain_commit_on_top_is_recorded_though_nothing_changed(experiment_repo: Path) -> None:
    git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "plain")
    head = git(experiment_repo, "rev-parse", "HEAD")
    mlv(experiment_repo, "snapshot", "-m", "recorded")
    assert git(experiment_repo, "rev-parse", "HEAD~1") == head


def test_allow_empty_snapshot_makes_a_new_commit_and_keeps_tree(experiment_repo: Path) -> None:
    tree_before = git(experiment_repo, "rev-parse", "HEAD^{tree}")
    mlv(experiment_repo, "snapshot", "-m", "again", "--allow-empty")
    assert git(experiment_repo, "rev-list", "--count", "HEAD") == "2"
    assert git(experiment_repo, "rev-parse", "HEAD^{tree}") == tree_before


@pytest.mark.slow
def test_changed_param_shows_in_second_experiment(experiment_repo: Path) -> None:
    params = experiment_repo / "params.yaml"
    params.write_text(params.read_text().replace("0.25", "0.3"))
    mlv(experiment_repo, "snapshot", "--run", "python train.py", "-m", "hold out 30%")
    first, second = _show(experiment_repo, "HEAD~1"), _show(experiment_repo)
    assert first["metrics"] != second["metrics"]
    assert second["params"]["params.yaml"]["train"]["test_size"] == 0.3  # type: ignore[index]


def test_untracked_code_is_listed_and_left_out_and_ignored_files_never_committed(experiment_repo: Path) -> None:
    (experiment_repo / "features.py").write_text("X = 1\n")
    (experiment_repo / ".gitignore").write_text((experiment_repo / ".gitignore").read_text() + "scratch.txt\n")
    (experiment_repo / "scratch.txt").write_text("notes\n")
    (experiment_repo / "params.yaml").write_text("train:\n  test_size: 0.3\n  seed: 42\n  fit_intercept: true\n")
    result = mlv(experiment_repo, "snapshot", "-m", "with features")
    files = git(experiment_repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert "features.py" not in files
    assert "left out of the commit (untracked): features.py" in result.stderr
    assert "scratch.txt" not in files
    assert git(experiment_repo, "show", "HEAD:params.yaml").startswith("train:\n  test_size: 0.3")  # tracked
    assert (experiment_repo / "features.py").read_text() == "X = 1\n"
    assert (experiment_repo / "scratch.txt").read_text() == "notes\n"


def test_paths_with_spaces_and_non_ascii(repo: Path) -> None:
    (repo / "dätä sets").mkdir()
    (repo / "dätä sets/ëxample file.csv").write_text("x\n1\n")
    (repo / "trâin script.py").write_text("print('ok')\n")
    (repo / "params.yaml").write_text("lr: 0.1\n")
    mlv(repo, "init")
    config = (repo / ".mlv/config.yaml").read_text()
    config = config.replace("data: []", "data:\n- dätä sets")
    (repo / ".mlv/config.yaml").write_text(config)
    git(repo, "add", "trâin script.py")
    mlv(repo, "snapshot", "--run", "python 'trâin script.py'", "-m", "ünïcode")
    files = git(repo, "-c", "core.quotepath=false", "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert "dätä sets.dvc" in files
    assert "trâin script.py" in files
    record = _show(repo)
    assert record["message"] == "ünïcode"
    assert record["data"][0]["path"] == "dätä sets"  # type: ignore[index]


def test_failed_command_is_recorded_with_allow_failure(experiment_repo: Path) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    failing = mlv(experiment_repo, "snapshot", "--run", "python -c 'raise SystemExit(4)'", check=False)
    assert failing.returncode == 1
    assert "exited with code 4" in failing.stderr
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    mlv(experiment_repo, "snapshot", "--run", "python -c 'raise SystemExit(4)'", "--allow-failure")
    assert _show(experiment_repo)["exit_code"] == 4


def test_user_hooks_run_and_can_refuse(experiment_repo: Path) -> None:
    hook = experiment_repo / ".git/hooks/pre-commit"
    hook.write_text("#!/bin/sh\necho refused by policy >&2\nexit 1\n")
    hook.chmod(0o755)
    head = git(experiment_repo, "rev-parse", "HEAD")
    result = mlv(experiment_repo, "snapshot", "-m", "blocked", "--allow-empty", check=False)
    assert result.returncode == 1
    assert "pre-commit hook refused" in result.stderr
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    mlv(experiment_repo, "snapshot", "-m", "skip hooks", "--no-verify", "--allow-empty")
    assert git(experiment_repo, "rev-parse", "HEAD") != head


def test_project_lockfiles_are_fingerprinted_and_disagreement_warned(experiment_repo: Path) -> None:
    (experiment_repo / "requirements.txt").write_text("scikit-learn==0.0.1\n")
    result = mlv(experiment_repo, "snapshot", "-m", "with requirements")
    assert "warning: requirements.txt pins scikit-learn==0.0.1" in result.stderr
    env = _show(experiment_repo)["environment"]
    assert isinstance(env, dict)
    assert set(env["project_lockfiles"]) == {"requirements.txt"}
    assert len(env["project_lockfiles"]["requirements.txt"]) == 64


def test_toml_and_json_params_and_yaml_metrics(repo: Path) -> None:
    (repo / "p.toml").write_text("[model]\ndepth = 3\n")
    (repo / "p.json").write_text('{"lr": 0.5}')
    (repo / "m.yaml").write_text("acc: 0.9\n")
    mlv(repo, "init")
    config = (repo / ".mlv/config.yaml").read_text()
    config = config.replace("params: []", "params: [p.toml, p.json]").replace("metrics: []", "metrics: [m.yaml]")
    (repo / ".mlv/config.yaml").write_text(config)
    mlv(repo, "snapshot", "-m", "formats")
    record = _show(repo)
    assert record["params"] == {"p.toml": {"model": {"depth": 3}}, "p.json": {"lr": 0.5}}
    assert record["metrics"] == {"m.yaml": {"acc": 0.9}}


def test_record_readable_with_plain_git(experiment_repo: Path) -> None:
    message = git(experiment_repo, "log", "-1", "--format=%B")
    assert message.startswith("baseline\n")
    assert "--- mlv experiment record v1 ---" in message
    body = message.split("--- mlv experiment record v1 ---\n", 1)[1].split("\n--- end", 1)[0]
    assert json.loads(body)["schema"] == 1


def test_two_experiment_branches_merge_without_conflict(experiment_repo: Path) -> None:
    git(experiment_repo, "switch", "-q", "-c", "other")
    (experiment_repo / "other.py").write_text("Y = 2\n")
    git(experiment_repo, "add", "other.py")
    subprocess.run(["pip", "--version"], check=True, capture_output=True)
    mlv(experiment_repo, "snapshot", "-m", "on other")
    git(experiment_repo, "switch", "-q", "main")
    (experiment_repo / "main_only.py").write_text("Z = 3\n")
    git(experiment_repo, "add", "main_only.py")
    mlv(experiment_repo, "snapshot", "-m", "on main")
    git(experiment_repo, "merge", "-q", "--no-edit", "other")
    assert git(experiment_repo, "status", "--porcelain") == ""


@pytest.mark.slow
def test_repository_already_using_dvc_keeps_its_pointer_files(repo: Path) -> None:
    (repo / "data").mkdir()
    (repo / "data/a.csv").write_text("x\n1\n")
    (repo / "train.py").write_text("print('train')\n")
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "add", "-q", "data"], cwd=repo, check=True)
    pointer = repo / "data.dvc"
    pointer.write_text(pointer.read_text().replace("outs:", "outs:", 1) + "desc: raw survey data\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "dvc project")
    original = pointer.read_bytes()
    mlv(repo, "init")
    config = repo / ".mlv/config.yaml"
    config.write_text(config.read_text().replace("outputs:\n- models\n", "outputs: []\n"))
    mlv(repo, "snapshot", "-m", "adopt")
    assert pointer.read_bytes() == original  # unchanged data: the user's file, byte for byte
    (repo / "data/b.csv").write_text("y\n2\n")
    mlv(repo, "snapshot", "-m", "more data")
    updated = pointer.read_text()
    assert "desc: raw survey data" in updated
    assert "nfiles: 2" in updated
    status = subprocess.run(["dvc", "status", "--json"], cwd=repo, capture_output=True, text=True, check=True)
    assert json.loads(status.stdout) == {}


def test_folder_hash_follows_files_swapped_by_checkout(experiment_repo: Path) -> None:
    """Same file count, every file known to the stat cache, yet a different set: no stale hash."""
    data = experiment_repo / "data"
    (data / "extra_a.csv").write_text("a\n1\n")
    mlv(experiment_repo, "snapshot", "-m", "with a")
    with_a = dvc.parse_pointer((experiment_repo / "data.dvc").read_bytes(), "data.dvc")
    (data / "extra_a.csv").unlink()
    (data / "extra_b.csv").write_text("b\n2\n")
    mlv(experiment_repo, "snapshot", "-m", "with b")
    mlv(experiment_repo, "checkout", "HEAD~1")
    assert sorted(p.name for p in data.iterdir()) == ["dataset.csv", "extra_a.csv"]
    git(experiment_repo, "switch", "-q", "-c", "again")
    mlv(experiment_repo, "snapshot", "-m", "a again")
    again = dvc.parse_pointer((experiment_repo / "data.dvc").read_bytes(), "data.dvc")
    assert (again.md5, again.nfiles) == (with_a.md5, 2)
    (data / "extra_a.csv").write_text("a\n1\nchanged\n")
    mlv(experiment_repo, "snapshot", "-m", "edited")
    assert dvc.parse_pointer((experiment_repo / "data.dvc").read_bytes(), "data.dvc").md5 != with_a.md5
