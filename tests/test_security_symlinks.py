"""Files a repository can point elsewhere: a committed symlink never carries an outside file into
a record or a commit, and a committed `.dvc/cache` symlink is never followed.

Each test plants the symlink a hostile clone would hold, runs the real command, and checks the one
line on stderr, its exit code, that HEAD did not move and that the secret is in no git object.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mlv.data import track
from mlv.errors import EXIT_USER_ERROR, UnsafeFileError
from tests.conftest import git, mlv

PLANTED = "TOKEN-9c2e41: never to be committed"


def _no_secret_anywhere(root: Path) -> None:
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=root,
                             capture_output=True, check=True).stdout
    assert PLANTED.encode() not in objects


def _refused(root: Path, what: str) -> None:
    head = git(root, "rev-parse", "HEAD")
    result = mlv(root, "snapshot", "-m", "hostile", check=False)
    assert result.returncode == EXIT_USER_ERROR, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert what in result.stderr and "symlink" in result.stderr
    assert PLANTED not in result.stdout + result.stderr
    assert git(root, "rev-parse", "HEAD") == head
    _no_secret_anywhere(root)


def test_a_params_file_linked_outside_is_refused(experiment_repo: Path, tmp_path: Path) -> None:
    token = tmp_path / "token.yaml"
    token.write_text(f"lr: 0.1\ntoken: {PLANTED}\n")
    (experiment_repo / "params.yaml").unlink()
    (experiment_repo / "params.yaml").symlink_to(token)
    _refused(experiment_repo, "params.yaml")


def test_a_metrics_file_linked_outside_is_refused(experiment_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "credentials.json"
    outside.write_text(f'{{"aws_secret_access_key": "{PLANTED}"}}\n')
    metrics = experiment_repo / "metrics.json"
    assert metrics.is_file()
    metrics.unlink()
    metrics.symlink_to(outside)
    _refused(experiment_repo, "metrics.json")


def test_a_symlink_inside_the_work_tree_is_read(experiment_repo: Path) -> None:
    """Only a way out is refused: params kept in a subfolder and linked from the top are fine."""
    (experiment_repo / "conf").mkdir()
    (experiment_repo / "params.yaml").rename(experiment_repo / "conf" / "params.yaml")
    (experiment_repo / "params.yaml").symlink_to("conf/params.yaml")
    mlv(experiment_repo, "snapshot", "-m", "linked params")


def test_a_gitignore_linked_to_a_private_key_is_not_copied(sample_repo: Path) -> None:
    key = Path(os.environ["HOME"]) / ".ssh" / "id_rsa"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PLANTED}\n")
    (sample_repo / ".gitignore").unlink(missing_ok=True)
    (sample_repo / ".gitignore").symlink_to(key)
    with pytest.raises(UnsafeFileError) as caught:
        track.gitignore_updates(sample_repo, ["models"])
    assert ".gitignore" in caught.value.one_line() and PLANTED not in caught.value.one_line()
    assert caught.value.exit_code == EXIT_USER_ERROR
    assert key.read_text().startswith("-----BEGIN")  # and nothing was written through it


def test_a_committed_dvc_cache_symlink_is_not_followed(experiment_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-cache"
    outside.mkdir()
    cache = experiment_repo / ".dvc" / "cache"
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    cache.symlink_to(outside)
    git(experiment_repo, "add", "-f", ".dvc/cache")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "cache elsewhere")
    (experiment_repo / "data" / "extra.csv").write_text("x\n1\n")
    head = git(experiment_repo, "rev-parse", "HEAD")
    result = mlv(experiment_repo, "snapshot", "-m", "hostile", check=False)
    assert result.returncode == EXIT_USER_ERROR, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and ".dvc/cache" in result.stderr
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    assert list(outside.iterdir()) == []
