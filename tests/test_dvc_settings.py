"""DVC settings and formats that DVC users rely on, each checked against real `dvc` on a real repo:
config layers, `cache.type` links, `.dvcignore`, DVC 2 pointer files, hashless and imported
pointers, YAML and `.gitignore` spelling, and symlinks in data folders.

After each mlv command, `dvc status` / `dvc data status` must agree with mlv.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import dvc, mlv
from tests.hooks_helpers import add_dvc_remote, add_git_remote, append_row, remote_objects

CLEAN = "Data and pipelines are up to date."


def dvc_clean(root: Path) -> None:
    """`dvc status` says nothing changed and `dvc data status` reports no uncommitted data."""
    assert CLEAN in dvc(root, "status"), dvc(root, "status")
    data = json.loads(dvc(root, "data", "status", "--json", "--granular"))
    assert not data.get("uncommitted"), data
    assert not data.get("not_in_cache"), data


def _md5(root: Path, pointer: str) -> str:
    import yaml

    return str(yaml.safe_load((root / pointer).read_text())["outs"][0]["md5"])


def _object(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


# -- config layers ------------------------------------------------------------------------------


def test_global_cache_dir_is_where_snapshots_store_and_push_reads(experiment_repo: Path, tmp_path: Path,
                                                                   dvc_remote: Path) -> None:
    shared = tmp_path / "shared-cache"
    dvc(experiment_repo, "config", "--global", "cache.dir", str(shared))
    shutil.copytree(experiment_repo / ".dvc" / "cache", shared)  # as a user moving their cache would
    add_dvc_remote(experiment_repo, dvc_remote)
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    append_row(experiment_repo)

    mlv(experiment_repo, "snapshot", "-m", "more rows")

    dataset = _md5(experiment_repo, "data.dvc")
    assert _object(shared, dataset).is_file()
    assert not (experiment_repo / ".dvc" / "cache" / "files" / "md5" / dataset[:2] / dataset[2:]).exists()
    dvc_clean(experiment_repo)
    pushed = json.loads(mlv(experiment_repo, "push", "--json").stdout)
    assert pushed["uploaded"] > 0, pushed
    assert dataset in remote_objects(dvc_remote)


def test_remote_in_the_global_config_is_used(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    dvc(experiment_repo, "remote", "add", "--global", "-d", "everyone", str(dvc_remote))
    add_git_remote(experiment_repo, tmp_path / "origin.git")
    mlv(experiment_repo, "push")
    assert _md5(experiment_repo, "data.dvc") in remote_objects(dvc_remote)


def test_relative_cache_dir_in_local_config_is_relative_to_dvc_folder(experiment_repo: Path) -> None:
    dvc(experiment_repo, "config", "--local", "cache.dir", "../elsewhere")  # stored relative to .dvc/
    assert "../../elsewhere" in (experiment_repo / ".dvc" / "config.local").read_text()
    append_row(experiment_repo)
    mlv(experiment_repo, "snapshot", "-m", "more rows")
    md5 = _md5(experiment_repo, "data.dvc")
    assert _object(experiment_repo.parent / "elsewhere", md5).exists()
    assert CLEAN in dvc(experiment_repo, "status")
