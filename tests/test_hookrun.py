"""The installed hooks driven by real `git commit`, `git checkout`, `git merge` and `git push`."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, mlv, tree_fingerprint
from tests.hooks_helpers import (
    add_dvc_remote,
    add_git_remote,
    append_row,
    install_hooks,
    new_experiment,
    pointer_md5s,
    remote_objects,
    run_git,
)

STALE = "mlv pre-commit hook: error: data no longer matches the hash in its pointer file"


def _head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD")


# -- pre-commit ----------------------------------------------------------------------------------


def test_commit_with_unchanged_data_passes_silently(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    (experiment_repo / "notes.md").write_text("notes\n")
    git(experiment_repo, "add", "notes.md")
    commit = run_git(experiment_repo, "commit", "-q", "-m", "notes")
    assert commit.returncode == 0
    assert commit.stderr == ""


def test_stale_data_refuses_the_commit_and_names_the_path(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    head = _head(experiment_repo)
    append_row(experiment_repo)
    (experiment_repo / "notes.md").write_text("notes\n")
    git(experiment_repo, "add", "notes.md")
    before = tree_fingerprint(experiment_repo)
    commit = run_git(experiment_repo, "commit", "-q", "-m", "notes")
    assert commit.returncode == 1
    line = commit.stderr.strip()
    assert "\n" not in line
    assert line.startswith(STALE)
    assert "`mlv snapshot`" in line and "dvc add data" in line
    assert _head(experiment_repo) == head
    assert tree_fingerprint(experiment_repo) == before  # the refusal changed nothing


def test_commit_all_checks_the_index_git_commits_from(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    params = experiment_repo / "params.yaml"
    params.write_text(params.read_text() + "# tuned\n")
    assert run_git(experiment_repo, "commit", "-q", "-a", "-m", "tune").returncode == 0
    append_row(experiment_repo)
    params.write_text(params.read_text() + "# again\n")
    commit = run_git(experiment_repo, "commit", "-q", "-a", "-m", "stale")
    assert commit.returncode == 1 and commit.stderr.startswith(STALE)


def test_snapshot_passes_the_hook_with_new_data(experiment_repo: Path) -> None:
    # mlv snapshot runs pre-commit against its private index, where the new pointers are staged
    # before they are written to the work tree: the hook must read the staged ones.
    install_hooks(experiment_repo)
    old = pointer_md5s(experiment_repo)
    append_row(experiment_repo)
    result = mlv(experiment_repo, "snapshot", "-m", "more data")
    assert "hook" not in result.stderr
    assert pointer_md5s(experiment_repo)["data"] != old["data"]


def test_a_dvc_added_file_changed_after_staging_is_caught(experiment_repo: Path) -> None:
    # Any staged pointer file is checked, not only the paths in .mlv/config.yaml.
    install_hooks(experiment_repo)
    (experiment_repo / "side.txt").write_text("one\n")
    subprocess.run(["dvc", "add", "-q", "side.txt"], cwd=experiment_repo, check=True, capture_output=True)
    git(experiment_repo, "add", "side.txt.dvc", ".gitignore")
    (experiment_repo / "side.txt").write_text("two\n")
    commit = run_git(experiment_repo, "commit", "-q", "-m", "side")
    assert commit.returncode == 1
    assert "side.txt no longer matches" in commit.stderr


def test_out_of_date_lockfile_warns_but_commits(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    env_dir = experiment_repo / ".mlv" / "env"
    (lock,) = env_dir.glob("requirements-*.txt")
    old = env_dir / "requirements-000000000000.txt"
    old.write_text(lock.read_text().replace("==", "==0.0.0+old", 1))
    git(experiment_repo, "rm", "-q", "--cached", str(lock.relative_to(experiment_repo)))
    git(experiment_repo, "add", str(old.relative_to(experiment_repo)))
    commit = run_git(experiment_repo, "commit", "-q", "-m", "old environment")
    assert commit.returncode == 0
    line = commit.stderr.strip()
    assert line.startswith("mlv pre-commit hook: warning: the Python environment")
    assert "requirements-000000000000.txt" in line and "mlv snapshot" in line


def test_repo_without_mlv_configuration_is_left_alone(repo: Path) -> None:
    install_hooks(repo)
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    commit = run_git(repo, "commit", "-q", "-m", "a")
    assert (commit.returncode, commit.stderr) == (0, "")
    git(repo, "switch", "-q", "-c", "other")
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", "-m", "b")
    switch = run_git(repo, "switch", "-q", "main")
    assert (switch.returncode, switch.stderr) == (0, "")


def test_hooks_finish_an_interrupted_snapshot_first(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    append_row(experiment_repo)
    crashed = mlv(experiment_repo, "snapshot", "--no-verify", "-m", "killed",
                  env={"MLV_TEST_CRASH_AT": "after-ref-update"}, check=False)
    assert crashed.returncode != 0
    assert (experiment_repo / ".git" / "mlv" / "publish-journal.json").exists()
    commit = run_git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "after crash")
    assert commit.returncode == 0, commit.stderr
    assert "completed an interrupted snapshot" in commit.stderr
    assert not (experiment_repo / ".git" / "mlv" / "publish-journal.json").exists()


# -- post-checkout and post-merge ----------------------------------------------------------------


def test_checkout_between_branches_restores_their_data(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    model = (experiment_repo / "models" / "model.joblib").read_bytes()
    git(experiment_repo, "switch", "-q", "-c", "exp")
    new_experiment(experiment_repo, "exp")
    exp_model = (experiment_repo / "models" / "model.joblib").read_bytes()
    assert exp_model != model
    switch = run_git(experiment_repo, "switch", "-q", "main")
    assert switch.returncode == 0, switch.stderr
    assert "restored" in switch.stderr
    assert not (experiment_repo / "data" / "extra.csv").exists()
    assert (experiment_repo / "models" / "model.joblib").read_bytes() == model
    run_git(experiment_repo, "checkout", "-q", "exp")
    assert (experiment_repo / "data" / "extra.csv").read_text() == "experiment,exp\n"
    assert (experiment_repo / "models" / "model.joblib").read_bytes() == exp_model


def test_checkout_with_identical_pointers_does_nothing(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    git(experiment_repo, "switch", "-q", "-c", "same")
    (experiment_repo / "notes.md").write_text("n\n")
    git(experiment_repo, "add", "notes.md")
    git(experiment_repo, "commit", "-q", "-m", "notes")
    append_row(experiment_repo)  # unsaved, but no pointer differs: the hook must not look
    switch = run_git(experiment_repo, "switch", "-q", "main")
    assert (switch.returncode, switch.stderr) == (0, "")


def test_checkout_refuses_to_overwrite_unsaved_data(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    git(experiment_repo, "switch", "-q", "-c", "exp")
    new_experiment(experiment_repo, "exp")
    edited = append_row(experiment_repo)
    unsaved = edited.read_bytes()
    switch = run_git(experiment_repo, "switch", "-q", "main")
    assert switch.returncode == 0  # git has switched; the hook explains, it cannot undo that
    line = switch.stderr.strip()
    assert "\n" not in line
    assert line.startswith("mlv: HEAD is now ") and ", but the data was not restored: " in line
    assert "data/dataset.csv has changes that are not saved" in line
    assert "dvc add" in line
    assert edited.read_bytes() == unsaved  # never overwritten
    assert (experiment_repo / "data" / "extra.csv").exists()  # nothing of that path touched


def test_file_checkout_is_not_followed(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    git(experiment_repo, "switch", "-q", "-c", "exp")
    new_experiment(experiment_repo, "exp")
    exp_data = (experiment_repo / "data" / "extra.csv").read_bytes()
    result = run_git(experiment_repo, "checkout", "main", "--", "params.yaml")
    assert (result.returncode, result.stderr) == (0, "")
    assert (experiment_repo / "data" / "extra.csv").read_bytes() == exp_data


def test_merge_fast_forward_restores_the_merged_data(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    git(experiment_repo, "switch", "-q", "-c", "exp")
    new_experiment(experiment_repo, "exp")
    git(experiment_repo, "switch", "-q", "main")
    assert not (experiment_repo / "data" / "extra.csv").exists()
    merge = run_git(experiment_repo, "merge", "-q", "--ff-only", "exp")
    assert merge.returncode == 0, merge.stderr
    assert (experiment_repo / "data" / "extra.csv").read_text() == "experiment,exp\n"


def test_squash_merge_restores_the_merged_data(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    git(experiment_repo, "switch", "-q", "-c", "exp")
    new_experiment(experiment_repo, "exp")
    git(experiment_repo, "switch", "-q", "main")
    merge = run_git(experiment_repo, "merge", "-q", "--squash", "exp")
    assert merge.returncode == 0, merge.stderr
    assert (experiment_repo / "data" / "extra.csv").read_text() == "experiment,exp\n"


# -- pre-push ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_push_uploads_the_data_of_every_pushed_commit(experiment_repo: Path, tmp_path: Path,
                                                      dvc_remote: Path) -> None:
    install_hooks(experiment_repo)
    add_dvc_remote(experiment_repo, dvc_remote)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    first = pointer_md5s(experiment_repo)
    new_experiment(experiment_repo, "second")
    second = pointer_md5s(experiment_repo)
    push = run_git(experiment_repo, "push", "-q", "origin", "main")
    assert push.returncode == 0, push.stderr
    stored = remote_objects(dvc_remote)
    # Both experiments' data, not only the tip's, and each folder's files with its manifest.
    assert set(first.values()) | set(second.values()) <= stored
    dataset = hashlib.md5((experiment_repo / "data" / "dataset.csv").read_bytes(), usedforsecurity=False).hexdigest()
    extra = hashlib.md5((experiment_repo / "data" / "extra.csv").read_bytes(), usedforsecurity=False).hexdigest()
    assert {dataset, extra} <= stored
    assert git(tmp_path / "origin.git", "rev-parse", "main") == _head(experiment_repo)


def test_push_without_dvc_remote_warns_once_and_goes_on(experiment_repo: Path, tmp_path: Path) -> None:
    install_hooks(experiment_repo)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    push = run_git(experiment_repo, "push", "-q", "origin", "main")
    assert push.returncode == 0
    warnings = [line for line in push.stderr.splitlines() if "mlv" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith("mlv pre-push hook: warning: no DVC remote is configured")
    assert git(tmp_path / "origin.git", "rev-parse", "main") == _head(experiment_repo)


def _strict(root: Path) -> None:
    config = root / ".mlv" / "config.yaml"
    config.write_text(config.read_text() + "hooks:\n  strict: true\n")
    git(root, "commit", "-q", "--no-verify", "-am", "strict hooks")


def test_strict_push_without_dvc_remote_is_refused(experiment_repo: Path, tmp_path: Path) -> None:
    install_hooks(experiment_repo)
    _strict(experiment_repo)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    push = run_git(experiment_repo, "push", "-q", "origin", "main")
    assert push.returncode != 0
    line = next(x for x in push.stderr.splitlines() if x.startswith("mlv"))
    assert line.startswith("mlv pre-push hook: error: no DVC remote is configured; the push was refused")
    assert run_git(tmp_path / "origin.git", "rev-parse", "-q", "--verify", "main").returncode != 0


def _unreachable_remote(root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the remote's folder should be\n")
    add_dvc_remote(root, blocker / "remote")


def test_unreachable_dvc_remote_warns_and_pushes(experiment_repo: Path, tmp_path: Path) -> None:
    install_hooks(experiment_repo)
    _unreachable_remote(experiment_repo, tmp_path)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    push = run_git(experiment_repo, "push", "-q", "origin", "main")
    assert push.returncode == 0, push.stderr
    line = next(x for x in push.stderr.splitlines() if x.startswith("mlv"))
    assert line.startswith("mlv pre-push hook: warning: dvc push failed")
    assert "pushing the commits without their data" in line
    assert git(tmp_path / "origin.git", "rev-parse", "main") == _head(experiment_repo)


def test_unreachable_dvc_remote_refuses_the_push_when_strict(experiment_repo: Path, tmp_path: Path) -> None:
    install_hooks(experiment_repo)
    _unreachable_remote(experiment_repo, tmp_path)
    _strict(experiment_repo)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    push = run_git(experiment_repo, "push", "-q", "origin", "main")
    assert push.returncode != 0
    line = next(x for x in push.stderr.splitlines() if x.startswith("mlv"))
    assert line.startswith("mlv pre-push hook: error: dvc push failed")
    assert "the push was refused because `hooks: {strict: true}`" in line
    assert run_git(tmp_path / "origin.git", "rev-parse", "-q", "--verify", "main").returncode != 0


def test_chained_pre_push_hook_reads_the_same_refs(experiment_repo: Path, tmp_path: Path,
                                                   dvc_remote: Path) -> None:
    seen = tmp_path / "seen.txt"
    hook = experiment_repo / ".git" / "hooks" / "pre-push"
    hook.write_text(f"#!/bin/sh\ncat > {seen}\n")
    hook.chmod(0o755)
    install_hooks(experiment_repo)
    add_dvc_remote(experiment_repo, dvc_remote)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    push = run_git(experiment_repo, "push", "-q", "origin", "main")
    assert push.returncode == 0, push.stderr
    assert seen.read_text().split()[:2] == ["refs/heads/main", _head(experiment_repo)]
    assert set(pointer_md5s(experiment_repo).values()) <= remote_objects(dvc_remote)


def test_mlv_checkout_force_still_discards_with_hooks_installed(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    baseline = git(experiment_repo, "rev-parse", "HEAD")
    saved = (experiment_repo / "data" / "dataset.csv").read_bytes()
    git(experiment_repo, "switch", "-q", "-c", "exp")
    new_experiment(experiment_repo, "exp")
    append_row(experiment_repo)
    result = mlv(experiment_repo, "checkout", baseline, "--force", check=False)
    assert result.returncode == 0, result.stderr
    assert _head(experiment_repo) == baseline
    assert (experiment_repo / "data" / "dataset.csv").read_bytes() == saved


def test_skip_variable_turns_mlvs_part_off(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    append_row(experiment_repo)
    commit = run_git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "skip",
                     env={"MLV_SKIP_HOOKS": "1"})
    assert (commit.returncode, commit.stderr) == (0, "")


def test_an_unexpected_error_is_one_line_and_its_traceback_shows_under_mlv_debug(experiment_repo: Path) -> None:
    install_hooks(experiment_repo)
    # A publish journal mlv never wrote: the hook's recovery meets a fault no message anticipates.
    (experiment_repo / ".git" / "mlv" / "publish-journal.json").write_text("[]")
    quiet = run_git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert quiet.returncode != 0  # git reports a failed hook as its own exit 1
    assert quiet.stderr.startswith("mlv pre-commit hook: error: unexpected ")
    assert "rerun with MLV_DEBUG=1" in quiet.stderr and "Traceback" not in quiet.stderr
    debug = run_git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "x", env={"MLV_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr


def test_run_refuses_an_unknown_hook(experiment_repo: Path) -> None:
    result = mlv(experiment_repo, "hooks", "run", "post-commit", check=False)
    assert result.returncode == 2
    assert result.stderr == "mlv: unknown hook 'post-commit'\n"


def test_run_by_hand_checks_the_real_index(experiment_repo: Path) -> None:
    assert mlv(experiment_repo, "hooks", "run", "pre-commit").returncode == 0
    append_row(experiment_repo)
    result = mlv(experiment_repo, "hooks", "run", "pre-commit", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(STALE)


@pytest.mark.slow
def test_plain_git_pull_brings_the_data_from_the_dvc_remote(experiment_repo: Path, tmp_path: Path,
                                                            dvc_remote: Path) -> None:
    add_dvc_remote(experiment_repo, dvc_remote)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    mlv(experiment_repo, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(clone))
    mlv(clone, "pull")
    install_hooks(clone)
    new_experiment(experiment_repo, "second")
    mlv(experiment_repo, "push")
    pull = run_git(clone, "pull", "-q", "--ff-only")
    assert pull.returncode == 0, pull.stderr
    assert "mlv: restored" in pull.stderr and "objects downloaded" in pull.stderr
    assert (clone / "data" / "extra.csv").read_text() == "experiment,second\n"
