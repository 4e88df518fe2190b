"""`mlv model`: tags exactly as GTO writes them, lineage in the tag message, gates, reads, get."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlv.registry import actions, resolve_registry_rev
from mlv.registry.names import RegistryError
from tests.conftest import git, mlv
from tests.hooks_helpers import add_dvc_remote, add_git_remote
from tests.test_registry_helpers import (
    GATE_DROP_BOUNDARIES,
    fake_experiment,
    tag_block,
    tag_message,
    tags,
    write_models_config,
)


@pytest.fixture
def registered(experiment_repo: Path) -> Path:
    """The sample experiment registered as churn v0.0.1 (in-process: the CLI is tested elsewhere)."""
    actions.register(experiment_repo, "churn")
    return experiment_repo


def test_register_writes_gto_tag_with_lineage_and_remembers_the_path(experiment_repo: Path) -> None:
    out = json.loads(mlv(experiment_repo, "model", "register", "churn", "--json").stdout)
    head = git(experiment_repo, "rev-parse", "HEAD")
    assert out["tag"] == "churn@v0.0.1" and out["commit"] == head
    assert git(experiment_repo, "cat-file", "-t", "churn@v0.0.1") == "tag"  # annotated, as GTO needs
    block = tag_block(experiment_repo, "churn@v0.0.1")
    assert block["experiment"]["commit"] == head and block["experiment"]["command"] == "python train.py"
    assert block["artifact"]["path"] == "models" and block["artifact"]["md5"].endswith(".dir")
    assert block["metrics"]["metrics.json"]["mse"] > 0 and block["params"]["params.yaml"]["train"]["seed"] == 42
    assert block["data"][0]["path"] == "data" and len(block["lockfile"]["sha256"]) == 64
    assert block["lockfile"]["packages"] > 10 and "reproduce" not in block  # no saved verdict: omitted
    assert tag_message(experiment_repo, "churn@v0.0.1").startswith("Register churn v0.0.1 from experiment")
    assert "churn:\n    path: models" in (experiment_repo / ".mlv/config.yaml").read_text()


def test_versions_bump_and_events_use_gto_tag_names(registered: Path) -> None:
    repo = registered
    fake_experiment(repo, "second", {"mse": 0.09, "r2": 0.995})
    actions.register(repo, "churn")  # patch bump by default
    fake_experiment(repo, "third", {"mse": 0.08, "r2": 0.996})
    mlv(repo, "model", "register", "churn", "--bump", "minor", "-m", "new features")
    actions.promote(repo, "churn", "v0.0.1", "staging")
    actions.promote(repo, "churn", "v0.1.0", "prod")
    actions.demote(repo, "churn", "prod")
    actions.deregister(repo, "churn", "v0.0.2")
    assert tags(repo) == ["churn#prod!#3", "churn#prod#2", "churn#staging#1", "churn@v0.0.1", "churn@v0.0.2",
                          "churn@v0.0.2!", "churn@v0.1.0"]
    assert tag_message(repo, "churn@v0.1.0").startswith("new features\n")
    rows = json.loads(mlv(repo, "model", "list", "--json").stdout)
    assert [(r["model"], r["latest"], r["stages"]) for r in rows] == [("churn", "v0.1.0", {"staging": "v0.0.1"})]
    assert rows[0]["metrics"] == {"mse": 0.08, "r2": 0.996}
    events = json.loads(mlv(repo, "model", "history", "churn", "--json").stdout)
    assert [(e["event"], e["version"], e["stage"]) for e in events] == [
        ("register", "v0.0.1", None), ("register", "v0.0.2", None), ("register", "v0.1.0", None),
        ("assign", "v0.0.1", "staging"), ("assign", "v0.1.0", "prod"), ("unassign", "v0.1.0", "prod"),
        ("deregister", "v0.0.2", None)]
    assert all(e["tagger"] == "Test Committer" for e in events)
    mlv(repo, "model", "deprecate", "churn")
    assert "churn@deprecated" in tags(repo)
    assert "churn (deprecated)" in mlv(repo, "model", "list").stdout


def test_show_resolves_stage_and_version_with_lineage(registered: Path) -> None:
    actions.promote(registered, "churn", "v0.0.1", "prod")
    doc = json.loads(mlv(registered, "model", "show", "churn#prod", "--json").stdout)
    assert doc["version"] == "v0.0.1" and doc["stages"] == ["prod"]
    exp = doc["experiment"]
    assert exp["message"] == "baseline" and exp["command"] == "python train.py"
    assert exp["lockfile"]["packages"] > 10 and exp["data"][0]["md5"].endswith(".dir")
    assert doc["reproduce_verdicts"] == []
    text = mlv(registered, "model", "show", "churn@latest").stdout
    assert "python train.py" in text and "packages)" in text and "metric    metrics.json.mse" in text
    head = git(registered, "rev-parse", "HEAD")
    assert resolve_registry_rev(registered, "churn#prod") == head
    assert resolve_registry_rev(registered, "churn@v0.0.1") == head
    assert resolve_registry_rev(registered, "churn@latest") == head
    assert resolve_registry_rev(registered, "main") is None  # not a registry reference
    assert resolve_registry_rev(registered, "other@v0.0.1") is None  # no such model: git's turn
    with pytest.raises(RegistryError):
        resolve_registry_rev(registered, "churn#staging")


def test_hand_made_tag_with_broken_message_is_listed_without_metadata(registered: Path) -> None:
    fake_experiment(registered, "other", {"mse": 1.0})
    git(registered, "tag", "-a", "churn@v0.0.7", "-m", "by hand\n\n--- mlv registry record v1 ---\n{\"metrics\": [")
    huge = registered.parent / "huge.txt"
    huge.write_text("x" * 300_000 + "\n\n--- mlv registry record v1 ---\n{}\n--- end mlv registry record ---\n")
    git(registered, "tag", "-a", "churn@v0.0.8", "HEAD~1", "-F", str(huge))  # over the size cap
    git(registered, "tag", "lightweight@v1.0.0")  # lightweight: ignored, as by GTO
    result = mlv(registered, "model", "list")
    assert "no mlv metadata" in result.stdout and "lightweight" not in result.stdout
    doc = json.loads(mlv(registered, "model", "show", "churn@v0.0.7", "--json").stdout)
    assert doc["has_metadata"] is False and doc["message"] == "by hand"


def _fails(repo: Path, *args: str, code: int = 1) -> str:
    before = tags(repo)
    result = mlv(repo, *args, check=False)
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert tags(repo) == before  # no tag made
    return result.stderr


def test_unknown_model(registered: Path) -> None:
    assert "unknown model 'nope'" in _fails(registered, "model", "promote", "nope", "v0.0.1", "prod")


def test_version_not_semver(registered: Path) -> None:
    fake_experiment(registered, "x", {"mse": 1.0})
    assert "not SemVer" in _fails(registered, "model", "register", "churn", "--version", "1.2")


def test_version_already_exists(registered: Path) -> None:
    fake_experiment(registered, "x", {"mse": 1.0})
    assert "exists already" in _fails(registered, "model", "register", "churn", "--version", "v0.0.1")


def test_commit_already_registered(registered: Path) -> None:
    assert "registered already as churn v0.0.1" in _fails(registered, "model", "register", "churn")


def test_stage_not_allowed_by_config(registered: Path) -> None:
    write_models_config(registered, "    stages: [staging, prod]\n")
    assert "stage 'qa' is not allowed" in _fails(registered, "model", "promote", "churn", "v0.0.1", "qa")


def test_rev_not_an_experiment(registered: Path) -> None:
    (registered / "README.md").write_text("docs\n")
    git(registered, "add", "README.md")
    git(registered, "commit", "-qm", "docs only")
    assert "not an experiment commit" in _fails(registered, "model", "register", "other", "HEAD")


def test_path_not_an_output(experiment_repo: Path) -> None:
    assert "is not an output" in _fails(experiment_repo, "model", "register", "churn", "--path", "data")


def test_tag_name_git_refuses(experiment_repo: Path) -> None:
    assert "git refuses the tag name 'a//b@v0.0.1'" in _fails(experiment_repo, "model", "register", "a//b")


def test_file_inside_output_folder_is_an_artifact(experiment_repo: Path) -> None:
    mlv(experiment_repo, "model", "register", "churn", "--path", "models/model.joblib")
    block = tag_block(experiment_repo, "churn@v0.0.1")
    assert block["artifact"]["path"] == "models/model.joblib" and not block["artifact"]["md5"].endswith(".dir")


GATES = """models:
  churn:
    stages: [staging, prod]
    gates:
      prod:
        from: [staging]
        reproduced: true
        metrics:
          mse: {max: 0.5, max_drop_rel: 0.05}
          r2: {min: 0.999}
"""


def test_gates_refuse_with_one_line_per_failed_rule_and_force_is_recorded(registered: Path) -> None:
    repo = registered
    config = repo / ".mlv/config.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("\nmodels:") + 1] + GATES)
    result = mlv(repo, "model", "promote", "churn", "v0.0.1", "prod", check=False)
    assert result.returncode == 4
    lines = result.stderr.splitlines()
    assert [line.split(":")[1].strip().split()[0] for line in lines] == ["r2", "reproduced", "from"], lines
    assert "r2 0.993" in lines[0] and "< min 0.999" in lines[0]
    assert "churn#prod#1" not in tags(repo)
    actions.promote(repo, "churn", "v0.0.1", "staging")  # no gate for staging
    refused = _fails_lines(repo, "model", "promote", "churn", "v0.0.1", "prod")
    assert len(refused) == 2  # r2 and reproduced; `from` passes now
    assert _fails(repo, "model", "promote", "churn", "v0.0.1", "prod", "--force").startswith("error: --force needs")
    out = json.loads(mlv(repo, "model", "promote", "churn", "v0.0.1", "prod", "--force", "--reason", "hotfix",
                         "--json").stdout)
    block = tag_block(repo, out["tag"])
    assert block["forced"] is True and block["reason"] == "hotfix"
    assert [g["rule"] for g in block["gates"] if not g["passed"]] == ["min", "reproduced"]
    assert "FORCED: hotfix" in tag_message(repo, out["tag"])
    events = json.loads(mlv(repo, "model", "history", "churn", "--json").stdout)
    assert events[-1]["forced"] is True


def _fails_lines(repo: Path, *args: str) -> list[str]:
    result = mlv(repo, *args, check=False)
    assert result.returncode == 4, result.stderr
    return result.stderr.splitlines()


def test_max_drop_compares_with_the_version_in_the_stage(registered: Path) -> None:
    repo = registered
    actions.promote(repo, "churn", "v0.0.1", "prod")
    fake_experiment(repo, "worse", {"mse": 0.2, "r2": 0.98})
    actions.register(repo, "churn")
    write_models_config(repo, "    gates:\n      prod:\n        metrics:\n          mse: {max_drop_rel: 0.05}\n"
                              "          r2: {max_drop_abs: 0.05}\n        branches: [main]\n")
    lines = _fails_lines(repo, "model", "promote", "churn", "v0.0.2", "prod")
    assert len(lines) == 1 and "mse 0.2 vs prod v0.0.1 0.098433" in lines[0], lines


@pytest.mark.parametrize(("base", "new", "bound", "passes"), GATE_DROP_BOUNDARIES)
def test_promotion_gates_at_the_drop_boundaries(registered: Path, base: float, new: float,
                                                bound: dict[str, float], passes: bool) -> None:
    """The same boundaries as `mlv gate`'s, against the version in the stage."""
    repo = registered
    fake_experiment(repo, "base", {"score": base})
    actions.register(repo, "churn")  # v0.0.2
    actions.promote(repo, "churn", "v0.0.2", "prod")
    fake_experiment(repo, "candidate", {"score": new})
    actions.register(repo, "churn")  # v0.0.3
    [(key, limit)] = bound.items()
    write_models_config(repo, "    gates:\n      prod:\n        metrics:\n"
                              f"          score: {{higher_is_better: true, {key}: {limit}}}\n")
    result = mlv(repo, "model", "promote", "churn", "v0.0.3", "prod", check=False)
    if passes:
        assert result.returncode == 0, result.stderr
        assert "churn#prod#2" in tags(repo)
    else:
        assert result.returncode == 4, result.stderr
        [line] = result.stderr.splitlines()
        assert key in line and "score -1.2 vs prod v0.0.2 -1" in line, line
        assert "churn#prod#2" not in tags(repo)


def test_get_writes_the_verified_artifact_and_never_through_a_symlink(registered: Path, tmp_path: Path) -> None:
    out = tmp_path / "deploy"
    doc = json.loads(mlv(registered, "model", "get", "churn@v0.0.1", "-o", str(out), "--json").stdout)
    assert doc["files"] == 1 and doc["fetched"] == 0
    assert (out / "models/model.joblib").read_bytes() == (registered / "models/model.joblib").read_bytes()
    outside = tmp_path / "outside"
    outside.mkdir()
    trap = tmp_path / "trap"
    trap.mkdir()
    os.symlink(outside, trap / "models")
    result = mlv(registered, "model", "get", "churn@latest", "-o", str(trap), "--force", check=False)
    assert result.returncode == 1 and "symlink" in result.stderr and result.stderr.count("\n") == 1
    assert list(outside.iterdir()) == []


def test_get_fetches_from_the_remote_and_says_when_data_is_nowhere(registered: Path, dvc_remote: Path,
                                                                  tmp_path: Path) -> None:
    from mlv.errors import DvcError
    from mlv.registry import fetch

    # A local DVC 3 remote has the cache's layout: moving the cache there is a push without dvc's start-up.
    shutil.rmtree(dvc_remote)
    shutil.move(registered / ".dvc/cache", dvc_remote)
    with (registered / ".dvc/config").open("a") as handle:
        handle.write(f"[core]\n    remote = store\n['remote \"store\"']\n    url = {dvc_remote}\n")
    got = fetch.get(registered, "churn@v0.0.1", tmp_path / "a")
    assert got.fetched >= 1 and (tmp_path / "a/models/model.joblib").is_file()
    subprocess.run(["chmod", "-R", "u+w", str(registered / ".dvc/cache"), str(dvc_remote)], check=True)
    shutil.rmtree(registered / ".dvc/cache")
    shutil.rmtree(dvc_remote)
    dvc_remote.mkdir()
    with pytest.raises(DvcError) as caught:
        fetch.get(registered, "churn@v0.0.1", tmp_path / "b")
    assert caught.value.exit_code == 2 and "neither the DVC cache nor the remote" in caught.value.message
    assert not (tmp_path / "b/models").exists()


def test_registry_names_are_revisions_for_show_diff_checkout_and_reproduce(registered: Path) -> None:
    head = git(registered, "rev-parse", "HEAD")
    actions.promote(registered, "churn", "v0.0.1", "prod")
    for name in ("churn@v0.0.1", "churn@latest", "churn#prod"):
        shown = json.loads(mlv(registered, "show", name, "--json").stdout)
        assert shown["commit"] == head, name
    compared = json.loads(mlv(registered, "diff", "churn#prod", "churn@latest", "--json").stdout)
    assert [side["commit"] for side in (compared["old"], compared["new"])] == [head, head]
    git(registered, "commit", "-q", "-am", "remember the model path")  # register wrote it
    mlv(registered, "checkout", "churn#prod")
    assert git(registered, "rev-parse", "HEAD") == head
    verdict = json.loads(mlv(registered, "reproduce", "churn#prod", "--yes", "--json").stdout)
    assert verdict["commit"] == head and verdict["verdict"] == "reproduced"
    # A model that is not registered stays an unknown revision for git: one line, exit 1.
    proc = mlv(registered, "show", "nosuch#prod", check=False)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_push_shares_registry_tags_and_pull_fetches_them(registered: Path, tmp_path: Path, dvc_remote: Path) -> None:
    actions.promote(registered, "churn", "v0.0.1", "prod")
    git(registered, "commit", "-q", "-am", "remember the model path")
    add_dvc_remote(registered, dvc_remote)
    bare = tmp_path / "team.git"
    add_git_remote(registered, bare)
    pushed = json.loads(mlv(registered, "push", "--json").stdout)
    assert pushed["registry_tags"] == 2
    assert git(bare, "tag", "--list").splitlines() == ["churn#prod#1", "churn@v0.0.1"]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-tags", str(bare), str(clone))
    assert git(clone, "tag", "--list") == ""
    mlv(clone, "pull")
    assert git(clone, "tag", "--list").splitlines() == ["churn#prod#1", "churn@v0.0.1"]
    assert resolve_registry_rev(clone, "churn#prod") == git(registered, "rev-parse", "churn@v0.0.1^{commit}")


def test_a_drop_rule_with_nothing_in_the_stage_yet_says_it_was_skipped_and_why(registered: Path) -> None:
    config = registered / ".mlv/config.yaml"
    text = config.read_text()
    config.write_text(text[: text.index("\nmodels:") + 1]
                      + "models:\n  churn:\n    gates:\n      prod:\n        metrics:\n"
                        "          mse: {max_drop_rel: 0.05}\n")
    proc = mlv(registered, "model", "promote", "churn", "v0.0.1", "prod")
    assert "skipped: mse: max_drop_rel not checked" in proc.stderr
    assert "promoted churn v0.0.1 to prod" in proc.stdout


@pytest.mark.parametrize("point", ["register-after-tag", "config-before-rename"])
def test_register_killed_midway_is_completed_by_running_it_again(experiment_repo: Path, point: str) -> None:
    first = git(experiment_repo, "rev-parse", "HEAD")
    killed = mlv(experiment_repo, "model", "register", "churn", check=False, env={"MLV_TEST_CRASH_AT": point})
    assert killed.returncode in (-9, 137)
    assert git(experiment_repo, "cat-file", "-t", "churn@v0.0.1") == "tag"  # the tag was made
    assert "path: models" not in (experiment_repo / ".mlv/config.yaml").read_text()
    (experiment_repo / "notes.txt").write_text("a change worth a snapshot\n")
    git(experiment_repo, "add", "notes.txt")  # a snapshot commits untracked files only when asked
    mlv(experiment_repo, "snapshot", "-m", "after the kill")
    committed = git(experiment_repo, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert "notes.txt" in committed
    assert [p for p in committed if ".mlv-tmp-" in p or p.endswith(".tmp")] == []  # mlv's debris stays out
    again = json.loads(mlv(experiment_repo, "model", "register", "churn", first, "--json").stdout)
    assert again["tag"] == "churn@v0.0.1" and "interrupted" in " ".join(again["notes"])
    assert "churn:\n    path: models" in (experiment_repo / ".mlv/config.yaml").read_text()
    refused = mlv(experiment_repo, "model", "register", "churn", first, check=False)  # nothing left undone
    assert refused.returncode != 0 and "registered already" in refused.stderr
