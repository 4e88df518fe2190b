"""`mlv checkout`: an experiment's code and data into the working tree, refusing to lose work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlv.adapters import dvc as dvc_adapter  # `dvc` is the helper that runs DVC (tests.conftest)
from tests.conftest import copy_template, derived_template, dvc, git, mlv, tree_fingerprint
from tests.reproduce_helpers import add_remote, read_all, repo_state

FILES = ("data", "models", "params.yaml", "metrics.json")
TwoExperiments = tuple[Path, dict[str, dict[str, bytes]], dict[str, dict[str, bytes]]]


@pytest.fixture(scope="session")
def _two_experiments_template(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> TwoExperiments:
    """Built once per session (training runs twice): each test gets a copy."""
    def build(repo: Path) -> None:
        with (repo / "data" / "dataset.csv").open("a") as handle:
            handle.write("0.1,0.2,0.3,0.4,9.0\n")
        (repo / "params.yaml").write_text((repo / "params.yaml").read_text().replace("0.25", "0.3"))
        mlv(repo, "snapshot", "--run", "python train.py", "-m", "second")

    template = derived_template(tmp_path_factory, _templates["experiment"], build)
    first, second = _files(_templates["experiment"]), _files(template)
    assert first != second and first["data"] != second["data"]
    return template, first, second


@pytest.fixture
def two_experiments(_two_experiments_template: TwoExperiments, tmp_path: Path) -> TwoExperiments:
    """Two experiments whose data, params, metrics and model all differ; the files of each."""
    template, first, second = _two_experiments_template
    return copy_template(template, tmp_path / "repo"), first, second


def _files(repo: Path) -> dict[str, dict[str, bytes]]:
    return {p: read_all(repo / p) for p in FILES}


def test_checkout_switches_code_and_data_between_experiments(two_experiments: tuple) -> None:
    repo, first, second = two_experiments
    proc = mlv(repo, "checkout", "HEAD~1")
    assert "detached HEAD" in proc.stdout and "restored" in proc.stdout
    assert _files(repo) == first
    assert git(repo, "rev-parse", "HEAD") == git(repo, "rev-parse", "main~1")
    proc = mlv(repo, "checkout", "main")
    assert "(branch main)" in proc.stdout
    assert _files(repo) == second
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert git(repo, "status", "--porcelain") == ""


def test_checkout_json(two_experiments: tuple) -> None:
    repo, _, _ = two_experiments
    doc = json.loads(mlv(repo, "checkout", "HEAD~1", "--json").stdout)
    assert doc["commit"] == git(repo, "rev-parse", "HEAD")
    assert doc["branch"] is None and doc["message"] == "baseline"
    assert sorted(doc["restored"]) == ["data", "models"] and doc["fetched"] == 0
    again = json.loads(mlv(repo, "checkout", "HEAD", "--json").stdout)
    assert again["restored"] == [] and sorted(again["unchanged"]) == ["data", "models"]


def _refused(repo: Path, *args: str) -> str:
    before = repo_state(repo)
    proc = mlv(repo, "checkout", *args, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert repo_state(repo) == before
    return proc.stderr


def test_uncommitted_change_the_checkout_would_overwrite_is_refused(two_experiments: tuple) -> None:
    repo, _, _ = two_experiments
    (repo / "params.yaml").write_text("# my edit\n")  # the two experiments' params.yaml differ
    line = _refused(repo, "HEAD~1")
    assert "uncommitted changes (params.yaml)" in line and "--force" in line and "mlv snapshot" in line


def test_untracked_file_the_target_has_is_refused(two_experiments: tuple) -> None:
    repo, _, _ = two_experiments
    git(repo, "rm", "-q", "--cached", "train.py")
    git(repo, "commit", "-q", "-m", "train.py out of git")
    (repo / "train.py").write_text("x = 1\n")  # untracked now; HEAD~1 has its own train.py
    assert "train.py" in _refused(repo, "HEAD~1")


def test_unsaved_data_change_is_refused(two_experiments: tuple) -> None:
    repo, _, _ = two_experiments
    (repo / "data" / "dataset.csv").write_text("x1,y\n1,2\n")  # data is git-ignored: only mlv sees it
    line = _refused(repo, "HEAD~1")
    assert "data/dataset.csv" in line and "not saved in the DVC cache" in line


def test_force_discards_code_and_data_changes(two_experiments: tuple) -> None:
    repo, first, _ = two_experiments
    (repo / "params.yaml").write_text("edited: true\n")
    (repo / "data" / "dataset.csv").write_text("x1,y\n1,2\n")
    mlv(repo, "checkout", "HEAD~1", "--force")
    assert _files(repo) == first


def test_unknown_revision(experiment_repo: Path) -> None:
    assert "unknown revision 'nope'" in _refused(experiment_repo, "nope")


def test_a_branch_only_the_remote_has_becomes_a_local_branch_that_follows_it(two_experiments: tuple,
                                                                             tmp_path: Path) -> None:
    """As `git checkout BRANCH` does: `origin/BRANCH` alone makes the local BRANCH, switched to."""
    repo, first, _ = two_experiments
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "update-ref", "refs/remotes/origin/earlier", "HEAD~1")
    proc = mlv(repo, "checkout", "earlier")
    assert "(branch earlier)" in proc.stdout
    assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/earlier"
    assert git(repo, "rev-parse", "--abbrev-ref", "earlier@{upstream}") == "origin/earlier"
    assert _files(repo) == first
    # Two remotes with that branch: ambiguous, as for git; nothing is made.
    mlv(repo, "checkout", "main")
    git(repo, "remote", "add", "other", str(tmp_path / "other.git"))
    git(repo, "update-ref", "refs/remotes/origin/twice", "HEAD~1")
    git(repo, "update-ref", "refs/remotes/other/twice", "HEAD~1")
    assert "unknown revision 'twice'" in _refused(repo, "twice")
    assert git(repo, "branch", "--list", "twice") == ""


def test_a_commit_without_a_record_is_checked_out_by_its_tree(experiment_repo: Path) -> None:
    # A commit without a record (a plain `git commit`, a revert) is restored as its tree pins it;
    # a commit of neither mlv nor DVC is refused (tests/test_plain_dvc_commits.py).
    git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "plain")
    result = json.loads(mlv(experiment_repo, "checkout", "HEAD", "--json").stdout)
    assert result["has_record"] is False and result["message"] == "plain"
    assert sorted(result["unchanged"]) == ["data", "models"]


def test_missing_data_without_a_remote_changes_nothing(two_experiments: tuple) -> None:
    repo, _, _ = two_experiments
    cache = dvc_adapter.cache_dir(repo)
    shutil.rmtree(cache)
    line = _refused(repo, "HEAD~1")
    assert "no DVC remote is configured" in line and "dvc remote add" in line


def test_corrupt_cache_object_is_refused(two_experiments: tuple) -> None:
    repo, _, _ = two_experiments
    md5 = json.loads(mlv(repo, "show", "HEAD~1", "--json").stdout)["outputs"][0]["md5"]
    cache = dvc_adapter.cache_dir(repo)
    manifest = dvc_adapter.load_manifest(cache, md5)
    assert manifest is not None
    model = manifest[0]
    obj = dvc_adapter.object_path(cache, model.md5)
    obj.chmod(0o644)
    obj.write_bytes(b"not a model")
    line = _refused(repo, "HEAD~1")
    assert "corrupt" in line and "models/model.joblib" in line


@pytest.mark.slow
def test_fresh_clone_with_a_dvc_remote(two_experiments: tuple, dvc_remote: Path, tmp_path: Path) -> None:
    repo, first, second = two_experiments
    add_remote(repo, dvc_remote, local=True)
    dvc(repo, "push", "--all-commits")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    add_remote(clone, dvc_remote, local=True)
    assert not (clone / "data").exists()
    doc = json.loads(mlv(clone, "checkout", "HEAD~1", "--json").stdout)
    assert doc["fetched"] > 0
    assert _files(clone) == first
    mlv(clone, "checkout", "main")
    assert _files(clone) == second
    assert git(clone, "status", "--porcelain") == ""


def test_fresh_clone_without_a_dvc_remote(two_experiments: tuple, tmp_path: Path) -> None:
    repo, _, _ = two_experiments
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    before = tree_fingerprint(clone)
    proc = mlv(clone, "checkout", "HEAD~1", check=False)
    assert proc.returncode == 1
    assert "is not in the local DVC cache" in proc.stderr and "no DVC remote is configured" in proc.stderr
    assert tree_fingerprint(clone) == before
    assert git(clone, "symbolic-ref", "HEAD") == "refs/heads/main"
