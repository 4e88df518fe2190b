"""End to end on a DVC tutorial-shaped pipeline, with no mlv configuration edited: init, two
snapshots around a param change, diff, checkout, an honest reproduce, push, clone and pull.
After every mlv command, `dvc status` and `dvc repro --dry` must agree with mlv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import dvc, git, mlv
from tests.test_pipelines import assert_dvc_clean, build_pipeline, record_of, set_param

pytestmark = pytest.mark.slow


def test_a_pipeline_project_end_to_end(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    build_pipeline(repo)
    mlv(repo, "init")
    mlv(repo, "snapshot", "--run", "dvc repro", "-m", "first")
    assert_dvc_clean(repo)
    first_model = (repo / "model.pkl").read_bytes()

    set_param(repo, "n_est: 5", "n_est: 7")
    mlv(repo, "snapshot", "--run", "dvc repro", "-m", "second")
    assert_dvc_clean(repo)

    diff = json.loads(mlv(repo, "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert "model.pkl" in json.dumps(diff["data"]) and "modified" in json.dumps(diff["data"])
    assert_dvc_clean(repo)

    mlv(repo, "checkout", "HEAD~1")
    assert (repo / "model.pkl").read_bytes() == first_model
    assert_dvc_clean(repo)
    mlv(repo, "checkout", "main")
    assert_dvc_clean(repo)

    # A seeded pipeline re-run in its own worktree reproduces; the user's work tree is untouched.
    verdict = json.loads(mlv(repo, "reproduce", "HEAD", "--yes", "--json").stdout)
    assert verdict["verdict"] == "reproduced"
    assert_dvc_clean(repo)

    remote, store = tmp_path / "origin.git", tmp_path / "dvc-store"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    dvc(repo, "remote", "add", "-d", "store", str(store))
    git(repo, "commit", "-qam", "remote")
    mlv(repo, "push")
    assert_dvc_clean(repo)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    mlv(clone, "pull")
    assert (clone / "model.pkl").read_bytes() == (repo / "model.pkl").read_bytes()
    assert_dvc_clean(clone)
    # Every object dvc.lock needs is on the remote: DVC itself finds nothing to push or fetch.
    assert "in sync" in dvc(clone, "status", "--cloud")


def test_an_unseeded_stage_is_not_reproduced(tmp_path: Path) -> None:
    """The worktree used to share the DVC cache: the run-cache answered "Stage 'train' is cached -
    skipping run" and an unseeded pipeline got `reproduced`, a false verdict."""
    repo = tmp_path / "repo"
    build_pipeline(repo)
    set_param(repo, "train:\n  seed: 20170428", "train:\n  seed: null")
    git(repo, "commit", "-qam", "unseeded")
    mlv(repo, "init")
    mlv(repo, "snapshot", "--run", "dvc repro", "-m", "unseeded")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False)
    verdict = json.loads(proc.stdout)
    assert verdict["verdict"] == "not_reproduced", verdict
    assert "model.pkl" in json.dumps(verdict)
    assert proc.returncode == 1
    assert_dvc_clean(repo)
    assert record_of(repo)["outputs"]  # the record still describes the user's run
