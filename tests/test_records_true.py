"""Records that stay true: a record is checked against its commit's tree whenever it is read.

Each history is built with real git (cherry-pick, rebase, squash, fixup, amend, a hand-crafted
lying record, a merge that keeps two lockfiles, a revert), and show, log, diff, checkout and
reproduce are checked against what the tree pins. Also: snapshot --run records only what its run
wrote, and its standard output as evidence.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import copy_template, derived_template, dvc, git, mlv
from tests.terminal_helpers import terminal_stdout

TRAIN = "python train.py"
Refs = dict[str, str]


def _cut_data(repo: Path, rows: int) -> None:
    path = repo / "data" / "dataset.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-rows]) + "\n")


def _set_param(repo: Path, old: str, new: str) -> None:
    path = repo / "params.yaml"
    path.write_text(path.read_text().replace(old, new))


def _commit_with(repo: Path, message: str) -> None:
    (repo.parent / "msg.txt").write_text(message)
    git(repo, "commit", "-q", "--allow-empty", "-F", str(repo.parent / "msg.txt"))


def _message(repo: Path, rev: str) -> str:
    return git(repo, "log", "-1", "--format=%B", rev)


def _build_histories(repo: Path) -> None:
    """main: baseline -> less data (M1). Branches, each ending in the commit a test reads."""
    git(repo, "branch", "base")
    # feat: params changed on top of the baseline, snapshot with its run.
    git(repo, "switch", "-q", "-c", "feat")
    _set_param(repo, "0.25", "0.3")
    mlv(repo, "snapshot", "--run", TRAIN, "-m", "feat 0.3")
    # comment: only code changed on top of the baseline.
    git(repo, "switch", "-q", "-c", "comment", "base")
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# a comment\n")
    mlv(repo, "snapshot", "--run", TRAIN, "-m", "comment only")
    git(repo, "switch", "-q", "main")
    _cut_data(repo, 100)
    mlv(repo, "snapshot", "--run", TRAIN, "-m", "less data")
    # picked: feat cherry-picked onto main; the conflicts resolved in feat's favour.
    git(repo, "switch", "-q", "-c", "picked", "main")
    if os.system(f"cd '{repo}' && git cherry-pick feat >/dev/null 2>&1") != 0:  # noqa: S605 - conflicts expected
        git(repo, "checkout", "--theirs", "metrics.json", "models.dvc")
        git(repo, "add", "-A")
        git(repo, "-c", "core.editor=true", "cherry-pick", "--continue")
    # rebased: the code-only experiment rebased onto main (no conflict: it keeps its record).
    git(repo, "switch", "-q", "-c", "rebased", "comment")
    git(repo, "rebase", "-q", "main")
    # amended: main's experiment amended with a new file.
    git(repo, "switch", "-q", "-c", "amended", "main")
    (repo / "notes.txt").write_text("added later\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "--amend", "--no-edit")
    # fixup: a fixup commit squashed into main's experiment by an autosquash rebase.
    git(repo, "switch", "-q", "-c", "fixedup", "main")
    (repo / "fix.py").write_text("X = 1\n")
    git(repo, "add", "fix.py")
    git(repo, "commit", "-q", "--fixup=HEAD")
    git(repo, "-c", "sequence.editor=true", "rebase", "-q", "-i", "--autosquash", "main~1")
    # squashed: two experiments squashed with `reset --soft`, both messages kept (git's default).
    git(repo, "switch", "-q", "-c", "squashed", "main")
    _set_param(repo, "seed: 42", "seed: 7")
    mlv(repo, "snapshot", "--run", TRAIN, "-m", "seed 7")
    _set_param(repo, "seed: 7", "seed: 8")
    mlv(repo, "snapshot", "--run", TRAIN, "-m", "seed 8")
    first, second = _message(repo, "HEAD~1"), _message(repo, "HEAD")
    git(repo, "reset", "-q", "--soft", "main")
    _commit_with(repo, f"{first}\n\n{second}\n")
    # squashed-reversed: the same squash with the older record last: it survives, and is wrong.
    git(repo, "branch", "squashed-reversed", "squashed")
    git(repo, "switch", "-q", "squashed-reversed")
    git(repo, "reset", "-q", "--soft", "main")
    _commit_with(repo, f"{second}\n\n{first}\n")
    # liar: main's record on a tree with the baseline's data.
    git(repo, "switch", "-q", "-c", "liar", "main")
    git(repo, "checkout", "base", "--", "data.dvc")
    _commit_with(repo, _message(repo, "main"))
    # no-lockfile: main's record, edited by hand to name a lockfile the tree does not hold.
    git(repo, "switch", "-q", "-c", "no-lockfile", "main")
    message = re.sub(r"requirements-[0-9a-f]{12}\.txt", "requirements-000000000000.txt", _message(repo, "main"))
    _commit_with(repo, message)
    # merged: two branches that each add a lockfile, merged: the tree keeps both.
    git(repo, "switch", "-q", "-c", "merged", "main")
    lockfile = next((repo / ".mlv/env").glob("requirements-*.txt"))
    (repo / ".mlv/env/requirements-aaaaaaaaaaaa.txt").write_bytes(lockfile.read_bytes() + b"six==1.16.0\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "another environment")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "comment")
    # reverted: main's experiment reverted.
    git(repo, "switch", "-q", "-c", "reverted", "main")
    git(repo, "revert", "--no-edit", "HEAD")
    git(repo, "switch", "-q", "main")


@pytest.fixture(scope="session")
def _histories_template(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _build_histories)


@pytest.fixture
def histories(_histories_template: Path, tmp_path: Path) -> Path:
    return copy_template(_histories_template, tmp_path / "repo")


def _show(repo: Path, rev: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(mlv(repo, "show", rev, "--json").stdout)
    return doc


def _kinds(doc: dict[str, object]) -> set[str]:
    return {d["kind"] for d in doc["differences"]}  # type: ignore[attr-defined]


def _tree_md5(repo: Path, rev: str, path: str) -> str:
    match = re.search(r"md5: (\S+)", git(repo, "show", f"{rev}:{path}.dvc"))
    assert match
    return match.group(1)


# -- show and log -----------------------------------------------------------------------------------


def test_a_snapshot_records_its_tree_and_reads_back_ok(histories: Path) -> None:
    doc = _show(histories, "main")
    assert doc["tree"] == git(histories, "rev-parse", "main^{tree}")
    assert doc["status"] == "ok" and doc["differences"] == []


def test_cherry_picked_record_is_rewritten_and_show_gives_the_trees_data(histories: Path) -> None:
    doc = _show(histories, "picked")
    assert doc["status"] == "rewritten"
    assert {"code", "data"} <= _kinds(doc)
    data = next(d for d in doc["differences"] if d["kind"] == "data")  # type: ignore[attr-defined]
    assert data["tree"] == _tree_md5(histories, "picked", "data") != data["recorded"]
    text = mlv(histories, "show", "picked").stdout
    assert "status    rewritten" in text
    assert f"data      data  md5 {_tree_md5(histories, 'picked', 'data')}" in text


@pytest.mark.parametrize(("branch", "kinds"), [
    ("rebased", {"code", "data"}),
    ("amended", {"code"}),
    ("fixedup", {"code"}),
    ("squashed-reversed", {"code", "params"}),
    ("liar", {"code", "data"}),
    ("no-lockfile", {"lockfile"}),
])
def test_rewritten_histories_are_marked(histories: Path, branch: str, kinds: set[str]) -> None:
    doc = _show(histories, branch)
    assert doc["status"] == "rewritten"
    assert kinds <= _kinds(doc), doc["differences"]


def test_a_squash_keeps_the_last_record_which_matches_the_tree(histories: Path) -> None:
    doc = _show(histories, "squashed")
    assert doc["status"] == "ok"
    assert doc["params"]["params.yaml"]["train"]["seed"] == 8  # type: ignore[index]


def test_a_record_naming_a_lockfile_not_in_the_tree_is_rewritten(histories: Path) -> None:
    text = mlv(histories, "show", "no-lockfile").stdout
    assert "lockfile .mlv/env/requirements-000000000000.txt: named by the record, not in the commit's tree" in text


def test_log_marks_rewritten_records(histories: Path) -> None:
    items = json.loads(mlv(histories, "log", "picked", "--json").stdout)
    assert [i["status"] for i in items] == ["rewritten", "ok", "ok"]
    table = mlv(histories, "log", "picked", env=terminal_stdout(160)).stdout
    assert "status" in table.splitlines()[0]
    assert "rewritten" in table


def test_log_of_true_records_has_no_status_column(histories: Path) -> None:
    table = mlv(histories, "log", env=terminal_stdout(160)).stdout  # the table, not TSV
    assert "status" not in table.splitlines()[0]


# -- diff ---------------------------------------------------------------------------------------------


def test_diff_of_a_lying_record_is_not_no_differences(histories: Path) -> None:
    result = mlv(histories, "diff", "main", "liar")
    assert "no differences" not in result.stdout
    assert "record is rewritten" in result.stdout
    doc = json.loads(mlv(histories, "diff", "main", "liar", "--json").stdout)
    assert doc["identical"] is False
    assert doc["new"]["status"] == "rewritten" and doc["old"]["status"] == "ok"
    data = next(e for e in doc["data"]["entries"] if e["path"] == "data")
    assert data["new"]["md5"] == _tree_md5(histories, "liar", "data")


def test_diff_of_a_cherry_pick_uses_the_trees_data_and_says_the_metrics_came_from_elsewhere(histories: Path) -> None:
    doc = json.loads(mlv(histories, "diff", "main", "picked", "--json").stdout)
    assert doc["new"]["status"] == "rewritten"
    assert any("metrics came from another tree" in n for n in doc["new"]["notes"])
    data = next(e for e in doc["data"]["entries"] if e["path"] == "data")
    assert data["status"] == "unchanged"  # the tree kept main's data, whatever the record says


def test_diff_and_show_name_two_lockfiles_after_a_merge(histories: Path) -> None:
    doc = json.loads(mlv(histories, "diff", "main", "merged", "--json").stdout)
    assert any("2 environment lockfiles" in n for n in doc["new"]["notes"])
    assert "re-snapshot" in mlv(histories, "diff", "main", "merged").stdout


# -- checkout and reproduce --------------------------------------------------------------------------


@pytest.mark.slow
def test_checkout_of_a_rewritten_record_restores_the_trees_data(histories: Path) -> None:
    proc = mlv(histories, "checkout", "picked")
    assert "record of" in proc.stderr and "the data restored is what the commit's tree pins" in proc.stderr
    assert "Data and pipelines are up to date" in dvc(histories, "status")
    mlv(histories, "checkout", "liar")
    assert "Data and pipelines are up to date" in dvc(histories, "status")


@pytest.mark.slow
def test_reproduce_of_a_cherry_pick_uses_the_trees_data_and_names_the_cause(histories: Path) -> None:
    proc = mlv(histories, "reproduce", "picked", "--yes", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "not_reproduced" and proc.returncode == 1
    assert doc["cause"] == "code_changed"
    assert "another tree" in doc["cause_detail"]
    assert any("rewritten" in w for w in doc["warnings"])
    assert "rewritten" in proc.stderr


# -- snapshot: only what this run produced ---------------------------------------------------------


def test_snapshot_run_that_writes_nothing_leaves_old_metrics_and_outputs_out(experiment_repo: Path) -> None:
    result = mlv(experiment_repo, "snapshot", "--run", "echo hi", "-m", "echo")
    assert "left out of the record: metrics.json, models" in result.stderr
    doc = _show(experiment_repo, "HEAD")
    assert doc["metrics"] == {} and doc["outputs"] == []
    assert doc["stdout"]["tail"] == ["hi"]  # type: ignore[index]
    assert doc["status"] == "ok"


def test_failed_run_kept_with_allow_failure_records_no_stale_metrics(experiment_repo: Path) -> None:
    mlv(experiment_repo, "snapshot", "--run", "python -c 'raise SystemExit(3)'", "--allow-failure")
    doc = _show(experiment_repo, "HEAD")
    assert doc["exit_code"] == 3 and doc["metrics"] == {} and doc["outputs"] == []


def test_stdout_is_recorded_as_evidence_and_metrics_read_when_no_file_is_declared(sample_repo: Path) -> None:
    (sample_repo / ".mlv/config.yaml").write_text(
        "version: 1\ndata: [data]\noutputs: []\nparams: [params.yaml]\nmetrics: []\ncommand: python score.py\n")
    (sample_repo / "score.py").write_text("print('epoch 1')\nprint('Test MSE: 0.25')\nprint('acc=0.5 n=3')\n")
    git(sample_repo, "add", "score.py")
    mlv(sample_repo, "snapshot", "--run", "python score.py", "-m", "printed")
    doc = _show(sample_repo, "HEAD")
    assert doc["metrics_from"] == "stdout"
    assert doc["metrics"] == {"stdout": {"Test MSE": 0.25, "acc": 0.5, "n": 3}}
    stdout = doc["stdout"]
    assert stdout["tail"] == ["epoch 1", "Test MSE: 0.25", "acc=0.5 n=3"]  # type: ignore[index]
    assert stdout["bytes"] == 35 and len(stdout["sha256"]) == 64  # type: ignore[index]
    verdict = json.loads(mlv(sample_repo, "reproduce", "HEAD", "--yes", "--json").stdout)
    assert verdict["verdict"] == "reproduced"
    assert {m["name"]: m["status"] for m in verdict["metrics"]} == {"Test MSE": "equal", "acc": "equal", "n": "equal"}
    assert verdict["stdout"]["status"] == "identical"


# -- commits without a record: revert, merge ---------------------------------------------------------


def test_show_of_a_revert_describes_its_tree_instead_of_refusing(histories: Path) -> None:
    doc = _show(histories, "reverted")
    assert doc["status"] == "plain"
    data = {p["path"]: p["md5"] for p in doc["data"]}  # type: ignore[attr-defined]
    assert data["data"] == _tree_md5(histories, "base", "data")
    assert doc["metrics"] == {"metrics.json": json.loads(git(histories, "show", "base:metrics.json"))}
    assert "is not an mlv experiment commit; what its tree holds:" in mlv(histories, "show", "reverted").stdout


def test_diff_of_a_revert_compares_what_the_trees_hold(histories: Path) -> None:
    doc = json.loads(mlv(histories, "diff", "main", "reverted", "--json").stdout)
    data = next(e for e in doc["data"]["entries"] if e["path"] == "data")
    assert data["status"] == "modified" and data["new"]["md5"] == _tree_md5(histories, "base", "data")
    assert doc["metrics"]["available"] is True and doc["metrics"]["changed"] is True
    assert doc["environment"]["available"] is True and doc["environment"]["changed"] is False


@pytest.mark.slow
def test_diff_workspace_after_a_revert_compares_with_the_revert(histories: Path) -> None:
    git(histories, "switch", "-q", "reverted")
    dvc(histories, "checkout")
    doc = json.loads(mlv(histories, "diff", "--workspace", "--json").stdout)
    assert doc["old"]["commit"] == git(histories, "rev-parse", "reverted")
    assert doc["code"]["changed"] is False and doc["data"]["changed"] is False
    assert doc["metrics"]["changed"] is False and doc["params"]["changed"] is False


def test_show_of_a_merge_with_two_lockfiles_says_so(histories: Path) -> None:
    text = mlv(histories, "show", "merged").stdout
    assert "2 environment lockfiles" in text and "re-snapshot" in text
    doc = _show(histories, "merged")
    assert len(doc["lockfiles_in_tree"]) == 2 and doc["environment"] is None  # type: ignore[arg-type]


# -- where data comes from --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_remote_added_after_the_experiment_serves_a_fresh_clone(experiment_repo: Path, tmp_path: Path) -> None:
    dvc(experiment_repo, "remote", "add", "-d", "store", str(tmp_path / "remote"))
    git(experiment_repo, "commit", "-qam", "add a DVC remote")
    dvc(experiment_repo, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(experiment_repo), str(clone))
    doc = json.loads(mlv(clone, "reproduce", "HEAD~1", "--yes", "--json").stdout)
    assert doc["verdict"] == "reproduced"
    mlv(clone, "checkout", "HEAD~1")
    assert "Data and pipelines are up to date" in dvc(clone, "status")


def test_post_merge_hook_names_two_lockfiles(histories: Path) -> None:
    mlv(histories, "hooks", "install")
    proc = subprocess.run(["git", "merge", "-q", "merged"], cwd=histories, capture_output=True, text=True,
                          check=True)
    assert "the merge left 2 environment lockfiles" in proc.stderr and "re-snapshot" in proc.stderr


def test_diff_without_revisions_after_a_revert_compares_the_latest_experiment_with_it(histories: Path) -> None:
    git(histories, "switch", "-q", "reverted")
    doc = json.loads(mlv(histories, "diff", "--json").stdout)
    assert doc["old"]["commit"] == git(histories, "rev-parse", "main")
    assert doc["new"]["commit"] == git(histories, "rev-parse", "reverted") and doc["new"]["has_record"] is False
    assert doc["data"]["changed"] is True and doc["metrics"]["changed"] is True


def test_a_pointer_file_of_another_name_still_pins_the_recorded_path(histories: Path) -> None:
    git(histories, "switch", "-q", "-c", "renamed", "main")
    git(histories, "mv", "data.dvc", "dataset.dvc")  # DVC tracks `data` through any pointer file name
    _commit_with(histories, _message(histories, "main"))
    doc = _show(histories, "renamed")
    assert _kinds(doc) == {"code"}  # the tree changed, the data it pins did not
