"""`mlv init`: detection, idempotence, reuse of an existing DVC setup, bad input."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.conftest import git, mlv


def test_init_detects_sample_layout(sample_repo: Path) -> None:
    config = yaml.safe_load((sample_repo / ".mlv/config.yaml").read_text())
    assert config["data"] == ["data"]
    assert config["outputs"] == ["models"]
    assert config["params"] == ["params.yaml"]
    assert config["metrics"] == ["metrics.json"]
    assert config["command"] == "python train.py"
    assert (sample_repo / ".dvc").is_dir()


def test_init_is_idempotent_and_keeps_edits(sample_repo: Path) -> None:
    path = sample_repo / ".mlv/config.yaml"
    edited = path.read_text().replace("python train.py", "python train.py --fast")
    path.write_text(edited)
    result = mlv(sample_repo, "init")
    assert "already present" in result.stdout
    assert path.read_text() == edited


def test_init_reuses_existing_dvc_setup_untouched(repo: Path, tmp_path: Path) -> None:
    subprocess.run(["dvc", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "store")], cwd=repo, check=True)
    before = (repo / ".dvc/config").read_bytes()
    result = mlv(repo, "init", "--json")
    assert '"initialised_dvc": false' in result.stdout
    assert (repo / ".dvc/config").read_bytes() == before


def test_init_outside_git_is_one_clear_line(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    result = mlv(folder, "init", check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "not inside a git repository" in result.stderr
    assert "mlv init --git" in result.stderr
    assert not (folder / ".mlv").exists()


def test_init_with_git_flag_creates_repository(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    mlv(folder, "init", "--git")
    assert (folder / ".git").is_dir()
    assert (folder / ".mlv/config.yaml").is_file()
    assert git(folder, "rev-parse", "--is-inside-work-tree") == "true"


def test_init_rejects_malformed_existing_config(sample_repo: Path) -> None:
    (sample_repo / ".mlv/config.yaml").write_text("data: [unclosed\n")
    result = mlv(sample_repo, "init", check=False)
    assert result.returncode == 1
    assert "not valid YAML" in result.stderr
    assert "Traceback" not in result.stderr


def test_hooks_strict_is_read_from_the_configuration(sample_repo: Path) -> None:
    from mlv.project import config
    from mlv.share import push

    path = sample_repo / ".mlv/config.yaml"
    assert push.hooks_strict(sample_repo) is False
    path.write_text(path.read_text() + "hooks:\n  strict: true\n")
    assert config.load(sample_repo).hooks_strict is True
    assert push.hooks_strict(sample_repo) is True
    path.write_text(path.read_text().replace("strict: true", "strict: maybe"))
    result = mlv(sample_repo, "snapshot", check=False)
    assert result.returncode == 1
    assert "`hooks` must be a mapping like `{strict: true}`" in result.stderr
    assert push.hooks_strict(sample_repo) is False  # a broken file never blocks a push
