"""End to end on a DVC tutorial-shaped pipeline, with no mlv configuration edited: init, two
snapshots around a param change, a `dvc exp run` experiment beside them, diff, checkout (of mlv's
experiments and of DVC's), an honest reproduce, push, clone and pull. After every mlv command,
`dvc status`, `dvc data status` and `dvc repro --dry` must agree with mlv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import copy_template, dvc, git, mlv, run_program
from tests.test_pipelines import (  # noqa: F401 - pipeline_templates_fixture is the fixture
    pipeline_templates_fixture,
    push_to_new_remotes,
    record_of,
    set_param,
)

pytestmark = pytest.mark.slow


# `dvc status`, `dvc data status` and `dvc repro --dry` in one process: the same calls DVC's CLI
# makes (filtered as `dvc data status` filters them), for one DVC start-up instead of three.
DVC_CHECKS = """
import json, sys
from dvc.repo import Repo
with Repo(sys.argv[1]) as repo:
    status = repo.status()
    data = repo.data_status()
    for shown_only_on_request in ("git", "unchanged", "untracked"):
        data.pop(shown_only_on_request, None)
    data = {k: v for k, v in data.items() if v and (not isinstance(v, dict) or any(v.values()))}
    try:
        dry = [str(stage) for stage in repo.reproduce(dry=True)]
    except Exception as exc:
        dry = [f"{type(exc).__name__}: {exc}"]
print(json.dumps({"status": status, "data status": data, "repro --dry": dry}, default=str))
"""


def assert_dvc_agrees(root: Path) -> None:
    """`dvc status`, `dvc data status` and `dvc repro --dry` all find nothing to do."""
    proc = run_program("python", ["-c", DVC_CHECKS, str(root)], root)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.splitlines()[-1])  # DVC logs its progress to stdout before it
    assert found == {"status": {}, "data status": {}, "repro --dry": []}, proc.stdout


def _model(root: Path) -> bytes:
    return (root / "model.pkl").read_bytes()


def test_a_pipeline_project_end_to_end(tmp_path: Path, _pipeline_templates: dict[str, Path]) -> None:
    repo = copy_template(_pipeline_templates["snapshotted"], tmp_path / "repo")
    assert_dvc_agrees(repo)
    first_model = _model(repo)

    set_param(repo, "n_est: 5", "n_est: 7")
    mlv(repo, "snapshot", "--run", "dvc repro", "-m", "second")
    assert_dvc_agrees(repo)
    second_model = _model(repo)

    # A DVC experiment beside mlv's: `dvc exp run` leaves its results in the work tree, and
    # `dvc exp branch` makes a branch whose commit has no mlv record. mlv records the same results.
    dvc(repo, "exp", "run", "-q", "-S", "train.n_est=9", "-n", "n9")
    dvc(repo, "exp", "branch", "n9", "exp-n9")
    n9_model = _model(repo)
    mlv(repo, "snapshot", "-m", "n9 applied")
    assert_dvc_agrees(repo)
    log = json.loads(mlv(repo, "log", "--json").stdout)
    assert [e["message"] for e in log] == ["n9 applied", "second", "first"]  # DVC's commit is no experiment
    same = json.loads(mlv(repo, "diff", "exp-n9", "HEAD", "--json").stdout)
    assert not same["data"]["changed"] and not same["params"]["changed"], same

    diff = json.loads(mlv(repo, "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert "model.pkl" in json.dumps(diff["data"]) and "modified" in json.dumps(diff["data"])
    assert [(p["key"], p["old"], p["new"]) for p in diff["params"]["entries"]] == [("train.n_est", 7, 9)]
    assert_dvc_agrees(repo)

    mlv(repo, "checkout", "HEAD~2")
    assert _model(repo) == first_model
    assert_dvc_agrees(repo)
    # DVC's experiment commit is checked out by what its tree pins.
    checked = json.loads(mlv(repo, "checkout", "exp-n9", "--json").stdout)
    assert checked["has_record"] is False
    assert _model(repo) == n9_model
    assert record_of(repo, "exp-n9")["status"] == "plain"
    assert_dvc_agrees(repo)
    mlv(repo, "checkout", "main")
    assert _model(repo) == n9_model != second_model
    assert_dvc_agrees(repo)

    # A seeded pipeline re-run in its own worktree reproduces what `dvc exp run` made; the user's
    # work tree is untouched.
    verdict = json.loads(mlv(repo, "reproduce", "HEAD", "--yes", "--json").stdout)
    assert verdict["verdict"] == "reproduced"
    assert_dvc_agrees(repo)

    remote, _store = push_to_new_remotes(repo, tmp_path)
    assert_dvc_agrees(repo)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    mlv(clone, "pull")
    assert _model(clone) == _model(repo)
    assert_dvc_agrees(clone)
    # Every object dvc.lock needs is on the remote: DVC itself finds nothing to push or fetch.
    assert "in sync" in dvc(clone, "status", "--cloud")


def test_an_unseeded_stage_is_not_reproduced(tmp_path: Path, _pipeline_templates: dict[str, Path]) -> None:
    """The worktree used to share the DVC cache: the run-cache answered "Stage 'train' is cached -
    skipping run" and an unseeded pipeline got `reproduced`, a false verdict."""
    repo = copy_template(_pipeline_templates["plain"], tmp_path / "repo")
    set_param(repo, "train:\n  seed: 20170428", "train:\n  seed: null")
    git(repo, "commit", "-qam", "unseeded")
    mlv(repo, "init")
    mlv(repo, "snapshot", "--run", "dvc repro", "-m", "unseeded")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False)
    verdict = json.loads(proc.stdout)
    assert verdict["verdict"] == "not_reproduced", verdict
    assert "model.pkl" in json.dumps(verdict)
    assert proc.returncode == 1
    assert_dvc_agrees(repo)
    assert record_of(repo)["outputs"]  # the record still describes the user's run
