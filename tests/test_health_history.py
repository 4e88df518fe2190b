"""Data health from git history: profiles committed at snapshot, `mlv data check` against the latest
experiment, a registered model or a revision, profiles of older commits from the DVC cache or
remote, and `--on-drift reproduce`.

Data commands run in-process (tests.test_health_cli.run); snapshots that must show what a user sees
(stderr lines, the modules a no-op snapshot imports) run the real executable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlv.datahealth.model import Profile
from mlv.record.history import show_experiment
from tests.conftest import REPO_ROOT, dvc, git, mlv
from tests.test_health_cli import SCHEMA, run


def _valid(doc: Any) -> Any:
    import jsonschema

    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    return doc


def _data_md5(repo: Path, rev: str = "HEAD") -> str:
    return show_experiment(repo, rev).record.data[0].md5


def _regenerate(repo: Path, *args: str) -> None:
    subprocess.run([sys.executable, "generate_data.py", *args], cwd=repo, check=True, capture_output=True)


def _shadowed_pyarrow(tmp_path: Path) -> dict[str, str]:
    """An environment in which `import pyarrow` fails, as without the `mlv-vcs[data]` extra."""
    shadow = tmp_path / "shadow" / "pyarrow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('simulated: pyarrow is not installed')\n")
    return {"PYTHONPATH": f"{shadow.parent}{os.pathsep}{REPO_ROOT}"}


def test_snapshot_commits_the_profile_by_md5_and_a_no_op_snapshot_neither_recomputes_nor_imports_pyarrow(
        experiment_repo: Path) -> None:
    md5 = _data_md5(experiment_repo)
    rel = f".mlv/profiles/{md5}.json"
    committed = Profile.from_json(json.loads(git(experiment_repo, "show", f"HEAD:{rel}")))
    assert committed.rows == 2000 and [c.name for c in committed.columns] == ["x1", "x2", "x3", "x4", "y"]
    before = os.stat(experiment_repo / rel)
    proc = mlv(experiment_repo, "snapshot", "-m", "nothing changed", env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "import time:" in line}
    assert "mlv.datahealth.store" in imported and not {m for m in imported if m.startswith(("pyarrow", "numpy"))}
    after = os.stat(experiment_repo / rel)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert git(experiment_repo, "ls-tree", "--name-only", "HEAD", ".mlv/profiles/") == rel


def _snapshot_of_folder(repo: Path, folder: str, files: dict[str, str]) -> str:
    """`mlv init` and a first snapshot of REPO with FOLDER (holding FILES) as its one data path;
    the folder's md5."""
    (repo / folder).mkdir()
    for name, text in files.items():
        (repo / folder / name).write_text(text)
    (repo / "params.yaml").write_text("lr: 0.1\n")
    mlv(repo, "init")
    config = repo / ".mlv/config.yaml"
    config.write_text(config.read_text().replace("data: []", f"data:\n- {folder}"))
    mlv(repo, "snapshot", "-m", folder)
    return show_experiment(repo, "HEAD").record.data[0].md5


def test_a_folder_without_tables_is_listed_once_and_gets_a_profile_when_a_table_arrives(repo: Path) -> None:
    md5 = _snapshot_of_folder(repo, "images", {"a.png": "\x89PNG not a table"})
    skipped = repo / ".git/mlv/profile-skipped.txt"
    assert skipped.read_text().split() == [md5]  # no CSV or Parquet in it: its listing is not read again
    mlv(repo, "snapshot", "-m", "again", "--allow-empty")
    assert skipped.read_text().split() == [md5]
    (repo / "images/labels.csv").write_text("name,label\na.png,1\n")
    mlv(repo, "snapshot", "-m", "labels")
    new = show_experiment(repo, "HEAD").record.data[0].md5
    assert git(repo, "ls-tree", "--name-only", "HEAD", ".mlv/profiles/") == f".mlv/profiles/{new}.json"


def test_a_folder_of_many_tables_is_profiled_on_demand_not_at_every_snapshot(repo: Path) -> None:
    from mlv.datahealth.store import SNAPSHOT_MAX_FILES

    md5 = _snapshot_of_folder(repo, "shards", {f"part{i:03d}.csv": f"x,y\n{i},{i * 2}\n"
                                               for i in range(SNAPSHOT_MAX_FILES + 1)})
    assert git(repo, "ls-tree", "--name-only", "HEAD", ".mlv/profiles/") == ""
    assert (repo / ".git/mlv/profile-skipped.txt").read_text().split() == [md5]
    doc = json.loads(run(repo, "data", "profile", "shards", "--json").stdout)  # computed when asked
    assert doc["rows"] == SNAPSHOT_MAX_FILES + 1


def test_check_against_the_latest_experiment_passes_on_its_data_and_fails_on_shifted_data(
        experiment_repo: Path) -> None:
    proc = run(experiment_repo, "data", "check")
    assert "healthy: 0 of 5 columns drifted" in proc.stdout and "(the latest experiment)" in proc.stdout
    _regenerate(experiment_repo, "--shift", "0.8", "--missing", "0.05")
    proc = run(experiment_repo, "data", "check", "--json", check=False)
    assert proc.returncode == 1
    doc = _valid(json.loads(proc.stdout))
    assert "x1" in doc["drifted_columns"] and doc["reference_commit"] == git(experiment_repo, "rev-parse", "HEAD")
    assert {(i["rule"], i["column"]) for i in doc["issues"]} >= {("missing_new", "x2")}
    assert doc["current"] == "data (work tree)"


def test_check_and_profile_against_a_registered_model_version(experiment_repo: Path) -> None:
    from mlv.registry import actions

    actions.register(experiment_repo, "churn")
    doc = json.loads(run(experiment_repo, "data", "profile", "--rev", "churn@v0.0.1", "--json").stdout)
    assert doc["rows"] == 2000
    _regenerate(experiment_repo, "--shift", "0.8")
    proc = run(experiment_repo, "data", "check", "data", "--against", "churn@v0.0.1", "--md", check=False)
    assert proc.returncode == 1
    assert "against `data @ " in proc.stdout and "(churn@v0.0.1)`" in proc.stdout
    assert "| x1 | numeric | wasserstein |" in proc.stdout
    actions.promote(experiment_repo, "churn", "v0.0.1", "prod")
    staged = run(experiment_repo, "data", "check", "data", "--against", "churn#prod", "--json", check=False)
    assert staged.returncode == 1 and json.loads(staged.stdout)["reference"].endswith("(churn#prod)")


def test_a_commit_without_a_stored_profile_has_it_computed_from_the_dvc_remote(
        experiment_repo: Path, tmp_path: Path) -> None:
    repo = experiment_repo
    # An experiment from before profiles were stored: HEAD's record on a tree without them.
    git(repo, "rm", "-r", "-q", "--cached", ".mlv/profiles")
    shutil.rmtree(repo / ".mlv/profiles")
    message = git(repo, "log", "-1", "--format=%B")
    tree = git(repo, "write-tree")
    git(repo, "update-ref", "HEAD", subprocess.run(["git", "commit-tree", tree, "-p", "HEAD", "-F", "-"], cwd=repo,
                                                    input=message, capture_output=True, text=True,
                                                    check=True).stdout.strip())
    dvc(repo, "remote", "add", "-d", "store", str(tmp_path / "store"))
    dvc(repo, "push", "-q")
    shutil.rmtree(repo / ".dvc" / "cache")
    doc = json.loads(run(repo, "data", "profile", "--rev", "HEAD", "--json").stdout)
    assert doc["rows"] == 2000
    assert (repo / ".git/mlv/profiles" / f"{_data_md5(repo)}.json").is_file()  # remembered, never committed
    assert not (repo / ".mlv/profiles").exists() and git(repo, "status", "--porcelain", "--", ".mlv") == ""

    # Neither in the cache nor on a remote: could not run, one line.
    shutil.rmtree(repo / ".git/mlv/profiles")
    shutil.rmtree(repo / ".dvc" / "cache")
    dvc(repo, "remote", "remove", "store")
    proc = run(repo, "data", "check", "--against", "HEAD", check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: data: content ") and "cannot be fetched: no DVC remote" in proc.stderr


@pytest.mark.parametrize(("args", "config", "expected"), [
    (["--against", "nope"], None, "error: unknown revision 'nope'"),
    (["--against", "HEAD", "--against-file", "x.json"], None, "error: --against and --against-file cannot be combined"),
    (["--rev", "HEAD", "--on-drift", "reproduce"], None, "error: --on-drift re-runs the experiment on the data in"),
    (["--on-drift", "retrain"], None, "error: --on-drift 'retrain' is not known"),
    (["no/such.csv"], None, "error: no/such.csv is not data of the latest experiment"),
    ([], "data_check:\n  p_valu: 0.01\n", "error: unknown key data_check.p_valu in .mlv/config.yaml"),
])
def test_could_not_run_is_exit_2_and_one_line(experiment_repo: Path, args: list[str], config: str | None,
                                              expected: str) -> None:
    if config:
        with (experiment_repo / ".mlv/config.yaml").open("a") as handle:
            handle.write(config)
    proc = run(experiment_repo, "data", "check", *args, check=False)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(expected), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


def test_thresholds_come_from_the_config(experiment_repo: Path) -> None:
    _regenerate(experiment_repo, "--shift", "0.05")  # W/std about 0.05: below the default 0.1
    assert run(experiment_repo, "data", "check").returncode == 0
    with (experiment_repo / ".mlv/config.yaml").open("a") as handle:
        handle.write("data_check:\n  wasserstein: 0.02\n  drift_share: 0.2\n")
    doc = json.loads(run(experiment_repo, "data", "check", "--json", check=False).stdout)
    assert doc["dataset_drift"] and doc["thresholds"]["wasserstein"] == 0.02


def test_without_the_extra_a_snapshot_is_made_and_says_so_once(experiment_repo: Path, tmp_path: Path) -> None:
    env = _shadowed_pyarrow(tmp_path)
    _regenerate(experiment_repo, "--shift", "0.8")
    first = mlv(experiment_repo, "snapshot", "-m", "new data", env=env)
    notes = [line for line in first.stderr.splitlines() if line.startswith("mlv: ")]
    assert notes == ["mlv: data profiles are skipped: install the optional extra to record them "
                     "(pip install 'mlv-vcs[data]')"]
    assert not (experiment_repo / f".mlv/profiles/{_data_md5(experiment_repo)}.json").exists()
    second = mlv(experiment_repo, "snapshot", "-m", "again", env=env)
    assert "mlv: " not in second.stderr
    # With the extra back, the next snapshot adds the missing profile.
    mlv(experiment_repo, "snapshot", "-m", "with the extra")
    assert (experiment_repo / f".mlv/profiles/{_data_md5(experiment_repo)}.json").is_file()


@pytest.mark.slow  # trains the sample model again
def test_on_drift_reproduce_records_a_new_experiment_on_the_new_data(experiment_repo: Path) -> None:
    reference = git(experiment_repo, "rev-parse", "HEAD")
    _regenerate(experiment_repo, "--shift", "0.8")
    # The real executable: with --json the command's output goes to file descriptor 2.
    proc = mlv(experiment_repo, "data", "check", "--on-drift", "reproduce", "--json", check=False)
    assert proc.returncode == 1, proc.stderr  # the data drifted, whatever the re-run found
    doc = _valid(json.loads(proc.stdout))
    head = git(experiment_repo, "rev-parse", "HEAD")
    assert doc["revalidation"]["commit"] == head != reference and doc["revalidation"]["exit_code"] == 0
    assert "r2" in doc["revalidation"]["metrics"]["metrics.json"]
    new = show_experiment(experiment_repo, head)
    assert new.message.startswith("Re-validate on drifted data: python train.py")
    assert _data_md5(experiment_repo) != _data_md5(experiment_repo, reference)
    assert git(experiment_repo, "cat-file", "-t", f"HEAD:.mlv/profiles/{_data_md5(experiment_repo)}.json") == "blob"


def _forge_nan(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _forge_nan(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_forge_nan(v) for v in doc]
    return float("nan") if isinstance(doc, float) else doc


def test_a_forged_stored_profile_is_profiled_again_from_the_data_or_refused_never_healthy(
        experiment_repo: Path) -> None:
    repo = experiment_repo
    rel = f".mlv/profiles/{_data_md5(repo)}.json"
    (repo / rel).write_text(json.dumps(_forge_nan(json.loads((repo / rel).read_text()))))
    git(repo, "add", rel)
    message = git(repo, "log", "-1", "--format=%B")  # the same experiment, with the forged profile
    tree = git(repo, "write-tree")
    git(repo, "update-ref", "HEAD", subprocess.run(["git", "commit-tree", tree, "-p", "HEAD", "-F", "-"], cwd=repo,
                                                    input=message, capture_output=True, text=True,
                                                    check=True).stdout.strip())
    _regenerate(repo, "--shift", "0.8")
    proc = run(repo, "data", "check", "--json", check=False)
    assert proc.returncode == 1 and "x1" in json.loads(proc.stdout)["drifted_columns"]  # profiled again

    shutil.rmtree(repo / ".git/mlv/profiles")
    shutil.rmtree(repo / ".dvc" / "cache")
    proc = run(repo, "data", "check", check=False)
    assert proc.returncode == 2 and proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    assert "invalid data profile" in proc.stderr and "cannot be profiled again" in proc.stderr
