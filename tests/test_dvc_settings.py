"""DVC settings and formats that DVC users rely on, each checked against real `dvc` on a real repo:
config layers, `cache.type` links, `.dvcignore`, DVC 2 pointer files, hashless and imported
pointers, YAML and `.gitignore` spelling, and symlinks in data folders.

After each mlv command, `dvc status` / `dvc data status` must agree with mlv.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import dvc, git, mlv
from tests.hooks_helpers import add_dvc_remote, add_git_remote, append_row, remote_objects

# Each test runs real mlv and real dvc several times on a copy of the sample project (~10 s each).
pytestmark = pytest.mark.slow

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


def _md5_at(root: Path, rev: str, pointer: str = "data.dvc") -> str:
    import yaml

    return str(yaml.safe_load(git(root, "show", f"{rev}:{pointer}"))["outs"][0]["md5"])


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


# -- YAML and .gitignore spelled as DVC spells them -----------------------------------------------


def _track_too(root: Path, *paths: str) -> None:
    """Add PATHS to the project's data (after `data`), as a user would in .mlv/config.yaml."""
    cfg = root / ".mlv" / "config.yaml"
    cfg.write_text(cfg.read_text().replace("data:\n- data\n", "data:\n- data\n"
                                           + "".join(f"- '{p}'\n" for p in paths)))


def test_pointer_files_and_gitignore_are_byte_identical_to_dvc_add(experiment_repo: Path, tmp_path: Path) -> None:
    names = ["1e3", "on", "#hash.txt", "!bang", "null", "x*y"]
    twin = tmp_path / "twin"
    shutil.copytree(experiment_repo, twin, symlinks=True)
    for root in (experiment_repo, twin):
        for name in names:
            (root / name).write_text(f"content of {name}\n")
    for name in names:
        dvc(twin, "add", "-q", name)
    _track_too(experiment_repo, *names)

    mlv(experiment_repo, "snapshot", "-m", "odd names")

    for name in names:
        assert (experiment_repo / f"{name}.dvc").read_bytes() == (twin / f"{name}.dvc").read_bytes(), name
    assert (experiment_repo / ".gitignore").read_text() == (twin / ".gitignore").read_text()
    assert "/\\#hash.txt\n" in (experiment_repo / ".gitignore").read_text()
    dvc_clean(experiment_repo)
    assert git(experiment_repo, "status", "--porcelain", "--ignored=matching", "1e3", "#hash.txt").count("!!") == 2


def test_a_pointer_named_on_is_read_as_a_string(experiment_repo: Path) -> None:
    (experiment_repo / "on").write_text("a file named on\n")
    dvc(experiment_repo, "add", "-q", "on")
    assert "path: on\n" in (experiment_repo / "on.dvc").read_text()  # DVC writes it unquoted
    _track_too(experiment_repo, "on")
    mlv(experiment_repo, "snapshot", "-m", "on")
    shown = json.loads(mlv(experiment_repo, "diff", "HEAD~1", "HEAD", "--json").stdout)
    assert "on" in json.dumps(shown["data"]), shown["data"]
    dvc_clean(experiment_repo)


# -- DVC 2 pointer files and the legacy cache layout ---------------------------------------------


def _dvc2_file(root: Path, name: str, content: bytes) -> str:
    """NAME tracked as DVC 2 tracked it: no `hash: md5`, object in the cache's `XX/REST` layout."""
    import hashlib

    (root / name).write_bytes(content)
    md5 = hashlib.md5(content).hexdigest()  # noqa: S324 - DVC's hash
    legacy = root / ".dvc" / "cache" / md5[:2] / md5[2:]
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(content)
    (root / f"{name}.dvc").write_text(f"outs:\n- md5: {md5}\n  size: {len(content)}\n  path: {name}\n")
    with open(root / ".gitignore", "a", encoding="utf-8") as handle:
        handle.write(f"/{name}\n")
    git(root, "add", f"{name}.dvc", ".gitignore")
    git(root, "commit", "-q", "--no-verify", "-m", f"{name} from DVC 2")
    return md5


def test_changed_dvc2_file_is_migrated_as_dvc_add_migrates_it(experiment_repo: Path, tmp_path: Path) -> None:
    _dvc2_file(experiment_repo, "old.txt", b"hello\n")
    twin = tmp_path / "twin"
    shutil.copytree(experiment_repo, twin, symlinks=True)
    for root in (experiment_repo, twin):
        (root / "old.txt").write_bytes(b"changed\n")
    dvc(twin, "add", "-q", "old.txt")
    _track_too(experiment_repo, "old.txt")

    mlv(experiment_repo, "snapshot", "-m", "changed old data")

    assert (experiment_repo / "old.txt.dvc").read_bytes() == (twin / "old.txt.dvc").read_bytes()
    assert (experiment_repo / "old.txt.dvc").read_text().endswith("hash: md5\n")
    dvc_clean(experiment_repo)


def test_dvc2_objects_in_the_legacy_layout_are_restored(experiment_repo: Path) -> None:
    _dvc2_file(experiment_repo, "old.txt", b"hello\n")
    _track_too(experiment_repo, "old.txt")
    mlv(experiment_repo, "snapshot", "-m", "with old data")
    first = git(experiment_repo, "rev-parse", "HEAD")
    (experiment_repo / "old.txt").write_bytes(b"changed\n")
    mlv(experiment_repo, "snapshot", "-m", "changed")
    # Only the legacy copy of the first version: the restore must find it there.
    import hashlib

    md5 = hashlib.md5(b"hello\n").hexdigest()  # noqa: S324 - DVC's hash
    (experiment_repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    mlv(experiment_repo, "checkout", first)
    assert (experiment_repo / "old.txt").read_bytes() == b"hello\n"
    dvc_clean(experiment_repo)


# -- pointer files without hashes, and imports -----------------------------------------------------


def _no_download_import(root: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    source.write_text("a,b\n1,2\n")
    dvc(root, "import-url", "-q", "--no-download", str(source), "remote.csv")
    git(root, "add", "remote.csv.dvc", ".gitignore")


def test_a_pointer_without_hash_never_blocks_a_commit(experiment_repo: Path, tmp_path: Path) -> None:
    mlv(experiment_repo, "hooks", "install")
    _no_download_import(experiment_repo, tmp_path)
    commit = subprocess.run(["git", "commit", "-q", "-m", "import, not downloaded"], cwd=experiment_repo,
                            capture_output=True, text=True, check=False)
    assert commit.returncode == 0, commit.stderr
    assert "Traceback" not in commit.stderr and "KeyError" not in commit.stderr


def test_diff_and_push_skip_a_pointer_without_hash_with_one_line(experiment_repo: Path, tmp_path: Path,
                                                                 dvc_remote: Path) -> None:
    _no_download_import(experiment_repo, tmp_path)
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "import, not downloaded")
    add_dvc_remote(experiment_repo, dvc_remote)
    add_git_remote(experiment_repo, tmp_path / "origin.git")

    diff = mlv(experiment_repo, "diff", "HEAD~2", "HEAD")
    push = mlv(experiment_repo, "push")

    for result in (diff, push):
        warnings = [line for line in result.stderr.splitlines() if "remote.csv.dvc" in line]
        assert len(warnings) == 1 and warnings[0].startswith("warning: "), result.stderr
    assert _md5(experiment_repo, "data.dvc") in remote_objects(dvc_remote)


def test_an_edited_import_is_refused_with_dvcs_advice(experiment_repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.csv"
    source.write_text("a,b\n1,2\n")
    dvc(experiment_repo, "import-url", "-q", str(source), "imported.csv")
    git(experiment_repo, "add", "imported.csv.dvc", ".gitignore")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "import")
    _track_too(experiment_repo, "imported.csv")
    mlv(experiment_repo, "snapshot", "-m", "with the import")  # unchanged: fine, pointer kept as is
    before = (experiment_repo / "imported.csv.dvc").read_bytes()
    head = git(experiment_repo, "rev-parse", "HEAD")
    (experiment_repo / "imported.csv").write_text("a,b\n1,3\n")

    result = mlv(experiment_repo, "snapshot", "-m", "edited import", check=False)

    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "imported" in lines[0] and "dvc update" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (experiment_repo / "imported.csv.dvc").read_bytes() == before
    assert git(experiment_repo, "rev-parse", "HEAD") == head


# -- cache.type links, .dvcignore, symlinks in data folders ----------------------------------------


def test_symlinks_into_the_cache_are_clean_data(experiment_repo: Path) -> None:
    first = git(experiment_repo, "rev-parse", "HEAD")
    append_row(experiment_repo)
    mlv(experiment_repo, "snapshot", "-m", "more rows")
    dvc(experiment_repo, "config", "cache.type", "symlink")
    dvc(experiment_repo, "checkout", "-q", "--relink")
    assert (experiment_repo / "data" / "dataset.csv").is_symlink()

    mlv(experiment_repo, "snapshot", "-m", "nothing changed")  # links are the recorded data
    mlv(experiment_repo, "checkout", first)

    assert _md5(experiment_repo, "data.dvc") == _md5_at(experiment_repo, first)
    dvc_clean(experiment_repo)


def test_dvcignore_d_files_are_neither_hashed_nor_touched(experiment_repo: Path) -> None:
    first = git(experiment_repo, "rev-parse", "HEAD")
    (experiment_repo / ".dvcignore").write_text("*.tmp\nscratch/\n")
    (experiment_repo / "data" / "notes.tmp").write_text("mine, not data\n")
    (experiment_repo / "data" / "scratch").mkdir()
    (experiment_repo / "data" / "scratch" / "x.csv").write_text("1\n")
    git(experiment_repo, "add", ".dvcignore")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "dvcignore")

    result = mlv(experiment_repo, "snapshot", "-m", "ignored files only")
    assert _md5(experiment_repo, "data.dvc") == _md5_at(experiment_repo, first)
    dvc_clean(experiment_repo)
    ignoring = git(experiment_repo, "rev-parse", "HEAD")
    append_row(experiment_repo)
    mlv(experiment_repo, "snapshot", "-m", "more rows")
    mlv(experiment_repo, "checkout", ignoring)

    assert (experiment_repo / "data" / "notes.tmp").read_text() == "mine, not data\n", result.stderr
    assert (experiment_repo / "data" / "scratch" / "x.csv").exists()
    dvc_clean(experiment_repo)


def test_a_symlink_to_a_folder_inside_a_data_folder_is_not_followed(experiment_repo: Path) -> None:
    first = git(experiment_repo, "rev-parse", "HEAD")
    elsewhere = experiment_repo / "data" / "elsewhere"  # inside the data, so the checkout keeps it
    elsewhere.mkdir()
    (elsewhere / "big.csv").write_text("not part of the data\n")
    (experiment_repo / "data" / "linked").symlink_to("elsewhere")

    mlv(experiment_repo, "snapshot", "-m", "with a folder symlink")
    dvc_clean(experiment_repo)  # DVC does not follow it either
    assert _md5(experiment_repo, "data.dvc") != _md5_at(experiment_repo, first)  # elsewhere/ is data
    mlv(experiment_repo, "checkout", first)  # the symlink holds no data: never blocks a checkout for good
    assert (experiment_repo / "data" / "linked").is_symlink()  # left alone (it now dangles: DVC errors on that)
