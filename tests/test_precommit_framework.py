"""mlv's hooks through the real pre-commit framework, from a hook repository cloned locally."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, git, tree_fingerprint
from tests.hooks_helpers import (
    add_dvc_remote,
    add_git_remote,
    append_row,
    new_experiment,
    pointer_md5s,
    remote_objects,
    run_git,
)

PRE_COMMIT = str(Path(sys.executable).parent / "pre-commit")


@pytest.fixture
def framework_repo(experiment_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The experiment repo with mlv's hooks installed through pre-commit (no network needed)."""
    hook_repo = tmp_path / "mlv-hooks"
    hook_repo.mkdir()
    shutil.copy(REPO_ROOT / ".pre-commit-hooks.yaml", hook_repo / ".pre-commit-hooks.yaml")
    git(hook_repo, "init", "-q")
    git(hook_repo, "add", ".pre-commit-hooks.yaml")
    git(hook_repo, "commit", "-q", "-m", "hooks")
    rev = git(hook_repo, "rev-parse", "HEAD")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    (experiment_repo / ".pre-commit-config.yaml").write_text(
        "default_install_hook_types: [pre-commit, post-checkout, post-merge, pre-push]\n"
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        "      - id: mlv-pre-commit\n"
        "      - id: mlv-post-checkout\n"
        "      - id: mlv-post-merge\n"
        "      - id: mlv-pre-push\n"
    )
    git(experiment_repo, "add", ".pre-commit-config.yaml")
    git(experiment_repo, "commit", "-q", "-m", "pre-commit config")
    subprocess.run([PRE_COMMIT, "install"], cwd=experiment_repo, check=True, capture_output=True,
                   env={**os.environ})
    assert "pre-commit" in (experiment_repo / ".git" / "hooks" / "post-checkout").read_text()
    return experiment_repo


def test_framework_pre_commit_passes_clean_and_refuses_stale_data(framework_repo: Path) -> None:
    (framework_repo / "notes.md").write_text("notes\n")
    git(framework_repo, "add", "notes.md")
    ok = run_git(framework_repo, "commit", "-q", "-m", "notes")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "mlv - data matches its DVC pointer files" in ok.stdout + ok.stderr

    head = git(framework_repo, "rev-parse", "HEAD")
    append_row(framework_repo)
    (framework_repo / "notes.md").write_text("more\n")
    git(framework_repo, "add", "notes.md")
    before = tree_fingerprint(framework_repo)
    refused = run_git(framework_repo, "commit", "-q", "-m", "stale")
    assert refused.returncode == 1
    assert "data no longer matches the hash in its pointer file" in refused.stdout + refused.stderr
    assert git(framework_repo, "rev-parse", "HEAD") == head
    assert tree_fingerprint(framework_repo) == before


@pytest.mark.slow
def test_framework_post_checkout_restores_data(framework_repo: Path) -> None:
    git(framework_repo, "switch", "-q", "-c", "exp")
    new_experiment(framework_repo, "exp")
    switch = run_git(framework_repo, "switch", "-q", "main")
    assert switch.returncode == 0, switch.stdout + switch.stderr
    assert not (framework_repo / "data" / "extra.csv").exists()
    merge = run_git(framework_repo, "merge", "-q", "--ff-only", "exp")
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert (framework_repo / "data" / "extra.csv").read_text() == "experiment,exp\n"


def test_framework_pre_push_uploads_data(framework_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    add_dvc_remote(framework_repo, dvc_remote)
    add_git_remote(framework_repo, tmp_path / "origin.git")
    push = run_git(framework_repo, "push", "-q", "origin", "main")
    assert push.returncode == 0, push.stdout + push.stderr
    assert set(pointer_md5s(framework_repo).values()) <= remote_objects(dvc_remote)
