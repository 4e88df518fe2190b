"""Commits made with DVC alone (`.dvc` files, `dvc.yaml`/`dvc.lock`, no mlv record): show, checkout
and reproduce read them as "no mlv record", with what their tree says.

Checkout restores what the tree pins exactly as for an experiment (`dvc status` clean after). A
re-run of a pipeline commit is `dvc repro`, run only with consent, compared with `dvc.lock` and the
committed metrics files; the environment is unknown, so the verdict is never `reproduced`.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import REPO_ROOT, copy_template, derived_template, dvc, git, mlv
from tests.diff_helpers import build_plain_dvc, shared_repo
from tests.test_pipelines import plain_pipeline_template, set_param

VERDICT_SCHEMA = json.loads((REPO_ROOT / "mlv" / "schemas" / "verdict.schema.json").read_text())
EXPERIMENT_SCHEMA = json.loads((REPO_ROOT / "mlv" / "schemas" / "experiment.schema.json").read_text())


def _run_pipeline(root: Path) -> None:
    """Two pipeline runs committed with git and DVC alone; branch `unseeded` adds an unseeded run."""
    dvc(root, "repro", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first run")
    set_param(root, "n_est: 5", "n_est: 7")
    dvc(root, "repro", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "n_est 7")
    git(root, "checkout", "-qb", "unseeded")
    set_param(root, "train:\n  seed: 20170428", "train:\n  seed: null")
    dvc(root, "repro", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "unseeded")
    git(root, "checkout", "-q", "-")
    dvc(root, "checkout", "-q")


@pytest.fixture(scope="session")
def _plain_pipeline_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, plain_pipeline_template(tmp_path_factory), _run_pipeline)


@pytest.fixture
def plain_pipeline(tmp_path: Path, _plain_pipeline_template: Path) -> Path:
    return copy_template(_plain_pipeline_template, tmp_path / "repo")


@pytest.fixture
def dvc_add_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two `dvc add` commits, no dvc.yaml (shared, read only)."""
    return shared_repo(tmp_path_factory, "diff-plain-dvc", build_plain_dvc)


def _assert_dvc_agrees(root: Path) -> None:
    assert "Data and pipelines are up to date" in dvc(root, "status")
    assert "No changes" in dvc(root, "data", "status")
    assert "Running stage" not in dvc(root, "repro", "--dry")


def test_show_reads_a_plain_dvc_commit_from_its_tree(plain_pipeline: Path) -> None:
    doc = json.loads(mlv(plain_pipeline, "show", "HEAD", "--json").stdout)
    jsonschema.validate(doc, {**EXPERIMENT_SCHEMA, "$ref": "#/$defs/plain", "required": [], "properties": {},
                              "additionalProperties": True})
    assert doc["status"] == "plain" and doc["command"] == "dvc repro"
    assert doc["params"]["params.yaml"]["train"]["n_est"] == 7
    assert set(doc["metrics"]["eval/metrics.json"]) == {"avg_prec", "n"}
    outputs = {item["path"]: item.get("stage") for item in doc["data"]}
    assert outputs == {"data/data.xml": None, "data/prepared": "prepare", "data/features": "featurize",
                       "model.pkl": "train"}


@pytest.mark.slow
def test_checkout_restores_what_a_plain_dvc_commit_pins(plain_pipeline: Path) -> None:
    branch = git(plain_pipeline, "rev-parse", "--abbrev-ref", "HEAD").strip()
    newest_model = (plain_pipeline / "model.pkl").read_bytes()
    result = json.loads(mlv(plain_pipeline, "checkout", "HEAD~1", "--json").stdout)
    assert result["has_record"] is False
    assert "model.pkl" in result["restored"]
    assert len(json.loads((plain_pipeline / "model.pkl").read_text())["weights"]) == 5
    _assert_dvc_agrees(plain_pipeline)
    human = mlv(plain_pipeline, "checkout", branch).stdout
    assert "no mlv record: restored the data its tree pins" in human
    assert (plain_pipeline / "model.pkl").read_bytes() == newest_model
    assert "Data and pipelines are up to date" in dvc(plain_pipeline, "status")


def test_checkout_of_a_dvc_add_commit_restores_its_data(dvc_add_only: Path, tmp_path: Path) -> None:
    repo = copy_template(dvc_add_only, tmp_path / "repo")
    mlv(repo, "checkout", "HEAD~1")
    assert sorted(p.name for p in (repo / "data").iterdir()) == [f"part{i}.csv" for i in range(5)]
    assert "Data and pipelines are up to date" in dvc(repo, "status")


def test_a_commit_of_neither_mlv_nor_dvc_is_still_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "plain git")
    for command in ("checkout", "reproduce"):
        proc = mlv(repo, command, "HEAD", "--yes" if command == "reproduce" else "--force", check=False)
        assert proc.returncode == (2 if command == "reproduce" else 1), proc.stderr
        assert proc.stderr.count("\n") == 1 and "is not an mlv experiment commit" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_reproduce_without_dvc_yaml_or_record_says_there_is_no_command(dvc_add_only: Path) -> None:
    proc = mlv(dvc_add_only, "reproduce", "HEAD", "--yes", "--json", check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "has no mlv record and no dvc.yaml, so there is no command to re-run" in proc.stderr
    assert "mlv snapshot --run COMMAND" in proc.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--save"], "--save records a re-run of an experiment"),
    (["--env", "fresh"], "no environment lockfile to build a fresh environment from"),
])
def test_reproduce_refuses_what_a_plain_commit_cannot_give(plain_pipeline: Path, args: list[str],
                                                          says: str) -> None:
    proc = mlv(plain_pipeline, "reproduce", "HEAD", "--yes", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and says in proc.stderr
    assert not (plain_pipeline / ".git" / "mlv" / "reproduce").exists()  # refused before any worktree


def test_reproduce_of_a_plain_commit_asks_first(plain_pipeline: Path) -> None:
    proc = mlv(plain_pipeline, "reproduce", "HEAD", check=False, input_text="y\n")
    assert proc.returncode == 2, proc.stderr
    assert "without confirmation" in proc.stderr
    assert "no mlv record; running the pipeline dvc.yaml declares" in proc.stderr


def _verdict(repo: Path, rev: str, code: int, *args: str) -> dict[str, object]:
    proc = mlv(repo, "reproduce", rev, "--yes", "--json", *args, check=False)
    assert proc.returncode == code, proc.stderr
    doc: dict[str, object] = json.loads(proc.stdout)
    jsonschema.validate(doc, VERDICT_SCHEMA)
    return doc


@pytest.mark.slow
def test_a_matching_plain_pipeline_rerun_is_unverified_never_reproduced(plain_pipeline: Path) -> None:
    # --keep restores the inputs from the user's DVC cache: the worktree's own cache is empty.
    doc = _verdict(plain_pipeline, "HEAD", 5, "--keep")
    kept = Path(str(doc["worktree"]))
    assert (kept / "data/data.xml").read_bytes() == (plain_pipeline / "data/data.xml").read_bytes()
    assert doc["verdict"] == "unverified" and doc["cause"] == "no_record"
    assert doc["has_record"] is False and doc["command"] == "dvc repro"
    outputs = doc["outputs"]
    assert isinstance(outputs, list)
    assert {o["path"]: o["status"] for o in outputs} == {
        "data/prepared": "identical", "data/features": "identical", "model.pkl": "identical"}
    assert {m["name"]: m["status"] for m in doc["metrics"]} == {"avg_prec": "equal", "n": "equal"}  # type: ignore[attr-defined]
    assert "environment it was made in is unknown" in str(doc["cause_detail"])
    _assert_dvc_agrees(plain_pipeline)


@pytest.mark.slow
def test_an_unseeded_plain_pipeline_is_not_reproduced(plain_pipeline: Path) -> None:
    proc = mlv(plain_pipeline, "reproduce", "unseeded", "--yes", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "verdict: not_reproduced" in proc.stdout
    assert "cause: no_record: the commit has no mlv record" in proc.stdout and "unseeded randomness" in proc.stdout
    assert "not recorded" in proc.stdout  # the environment row
    assert "no mlv record; running the pipeline dvc.yaml declares" in proc.stderr


# -- a dvc.lock older than its commit's tree --------------------------------------------------------

LOCK = """\
schema: '2.0'
stages:
  prepare:
    cmd: python src/prepare.py
    deps:
    - path: data/data.xml
      hash: md5
      md5: {data}
      size: 1
    - path: src/prepare.py
      hash: md5
      md5: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
      size: 1
    outs:
    - path: data/prepared
      hash: md5
      md5: {prepared}.dir
      size: 1
      nfiles: 1
  train:
    cmd: python src/train.py
    deps:
    - path: data/prepared
      hash: md5
      md5: {prepared}.dir
      size: 1
      nfiles: 1
    - path: src/train.py
      hash: md5
      md5: {train}
      size: 1
    params:
      params.yaml:
        train.seed: {seed}
    outs:
    - path: model.pkl
      hash: md5
      md5: dddddddddddddddddddddddddddddddd
      size: 1
"""


def _lock(data: str = "a" * 32, prepared: str = "c" * 32, train: str = "e" * 32, seed: int = 1) -> bytes:
    # Hashes with letters: 32 bare digits are a YAML number (DVC would quote them).
    return LOCK.format(data=data, prepared=prepared, train=train, seed=seed).encode()


def test_a_lock_that_matches_the_rerun_is_not_stale() -> None:
    from mlv.reproduce.plain import stale_inputs

    # An intermediate output that differs is the re-run's own doing, not a stale lock.
    assert stale_inputs(_lock(), _lock(prepared="ca" * 16), ["data/data.xml"]) == []
    assert stale_inputs(None, _lock(), []) == [] and stale_inputs(_lock(), b"stages: [", []) == []


def test_code_params_and_data_the_lock_pins_differently_are_named() -> None:
    from mlv.reproduce.plain import stale_inputs

    assert stale_inputs(_lock(), _lock(train="f" * 32, seed=2, data="ab" * 16), ["data/data.xml"]) == [
        ("code", "params.yaml"), ("code", "src/train.py"), ("data", "data/data.xml")]


def test_a_stale_lock_is_the_cause_not_the_unknown_environment() -> None:
    from mlv.adapters.dvc import Pointer
    from mlv.verdict import verdict

    outputs = verdict.compare_outputs([Pointer(path="model.pkl", md5="4" * 32, size=1)], {"model.pkl": "8" * 32})
    exit_ok = verdict.compare_exit(None, 0)
    code = verdict.decide(outputs, [], exit_ok,
                          inputs=verdict.Inputs(no_record=True, stale_lock=(("code", "src/train.py"),)))
    assert (code.verdict, code.cause) == (verdict.NOT_REPRODUCED, verdict.CODE_CHANGED)
    assert "dvc.lock is out of date with its tree" in str(code.cause_detail)
    assert "src/train.py" in str(code.cause_detail)
    data = verdict.decide(outputs, [], exit_ok,
                          inputs=verdict.Inputs(no_record=True, stale_lock=(("data", "data/data.xml"),)))
    assert data.cause == verdict.DATA_CHANGED
    unknown = verdict.decide(outputs, [], exit_ok, inputs=verdict.Inputs(no_record=True))
    assert (unknown.verdict, unknown.cause) == (verdict.NOT_REPRODUCED, verdict.NO_RECORD)
    same = verdict.compare_outputs([Pointer(path="model.pkl", md5="4" * 32, size=1)], {"model.pkl": "4" * 32})
    matched = verdict.decide(same, [], exit_ok, inputs=verdict.Inputs(no_record=True))
    assert (matched.verdict, matched.cause) == (verdict.UNVERIFIED, verdict.NO_RECORD)
    failed = verdict.decide(same, [], verdict.compare_exit(None, 1), inputs=verdict.Inputs(no_record=True))
    assert (failed.verdict, failed.cause) == (verdict.NOT_REPRODUCED, verdict.EXIT_CODE)
