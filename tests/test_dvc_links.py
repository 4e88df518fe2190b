"""DVC's `cache.type` links: checkout, pull and the post-checkout hook write symlinks or hardlinks
into the cache when DVC's config asks, with DVC's fallbacks and read-only cache objects; a
snapshot handles a data file that is such a link. Each checked against real `dvc`.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import copy_template, derived_template, dvc, git, mlv
from tests.hooks_helpers import add_dvc_remote, add_git_remote, append_row, install_hooks, run_git
from tests.test_dvc_settings import dvc_clean

# Real mlv and dvc several times per test on a copy of the sample project.
pytestmark = pytest.mark.slow

DATA = "data/dataset.csv"
EMPTY = "data/empty.txt"


def _second_run(root: Path) -> None:
    append_row(root)
    (root / EMPTY).write_bytes(b"")  # DVC writes an empty file, never a hardlink, for these
    mlv(root, "snapshot", "-m", "more rows")


@pytest.fixture(scope="session")
def _two_runs(tmp_path_factory: pytest.TempPathFactory, _templates: dict[str, Path]) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _second_run)


@pytest.fixture
def two_runs(tmp_path: Path, _two_runs: Path) -> Path:
    """The baseline experiment (HEAD~1), then one with a changed dataset and an empty file (HEAD)."""
    return copy_template(_two_runs, tmp_path / "repo")


def _object(cache: Path, root: Path, rel: str) -> Path:
    """The cache object holding the current content of ROOT/REL (DVC 3 layout)."""
    md5 = subprocess.run(["md5sum", str(root / rel)], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def _assert_linked(root: Path, kind: str, cache: Path | None = None) -> None:
    cache = cache or root / ".dvc" / "cache"
    path = root / DATA
    obj = _object(cache, root, DATA)
    if kind == "symlink":
        assert path.is_symlink(), path
        assert os.readlink(path) == str(obj)  # what DVC writes, so `dvc checkout --relink` keeps it
    else:
        assert not path.is_symlink()
        assert path.stat().st_ino == obj.stat().st_ino
    assert stat.S_IMODE(obj.stat().st_mode) == 0o444  # protected, as DVC protects linked objects


def test_checkout_writes_symlinks_that_dvc_keeps(two_runs: Path) -> None:
    dvc(two_runs, "config", "cache.type", "symlink")
    mlv(two_runs, "checkout", "HEAD~1")
    _assert_linked(two_runs, "symlink")
    before = os.readlink(two_runs / DATA)
    dvc_clean(two_runs)
    dvc(two_runs, "checkout", "--relink")  # DVC relinks only links that are not its own
    assert os.readlink(two_runs / DATA) == before

    mlv(two_runs, "checkout", "main")
    _assert_linked(two_runs, "symlink")
    assert (two_runs / EMPTY).is_symlink()  # DVC symlinks empty files too
    dvc_clean(two_runs)


def test_checkout_writes_hardlinks_and_empty_files_as_dvc_does(two_runs: Path) -> None:
    mlv(two_runs, "checkout", "HEAD~1")
    dvc(two_runs, "config", "cache.type", "hardlink")
    mlv(two_runs, "checkout", "main")
    _assert_linked(two_runs, "hardlink")
    empty = (two_runs / EMPTY).stat()
    assert empty.st_nlink == 1 and empty.st_size == 0  # DVC's rule: an empty file, not a link
    dvc_clean(two_runs)


def test_a_snapshot_with_linked_data_changes_neither_the_link_nor_the_cache(two_runs: Path) -> None:
    dvc(two_runs, "config", "cache.type", "hardlink")
    mlv(two_runs, "checkout", "HEAD~1")
    git(two_runs, "switch", "-q", "-c", "again")
    obj = _object(two_runs / ".dvc" / "cache", two_runs, DATA)
    content = obj.read_bytes()

    mlv(two_runs, "snapshot", "-m", "nothing changed")  # hashes the link: no copy onto itself

    assert obj.read_bytes() == content
    _assert_linked(two_runs, "hardlink")
    dvc_clean(two_runs)


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
def test_an_edited_linked_file_is_a_new_version_and_the_cache_keeps_the_old(two_runs: Path, kind: str) -> None:
    dvc(two_runs, "config", "cache.type", kind)
    mlv(two_runs, "checkout", "HEAD~1")
    git(two_runs, "switch", "-q", "-c", "edits")
    old = _object(two_runs / ".dvc" / "cache", two_runs, DATA)
    content = old.read_bytes()
    if kind == "symlink":
        dvc(two_runs, "unprotect", "data")  # DVC's way to edit linked data: a writable copy
    else:  # or replace the file, as most tools write their outputs
        (two_runs / DATA).unlink()
        (two_runs / DATA).write_bytes(content)
    append_row(two_runs)

    mlv(two_runs, "snapshot", "-m", "edited")

    assert old.read_bytes() == content  # the cache was never written through the link
    assert stat.S_IMODE(old.stat().st_mode) == 0o444
    dvc_clean(two_runs)
    mlv(two_runs, "checkout", "HEAD~1")  # the edit is saved, so moving away loses nothing
    _assert_linked(two_runs, kind)
    dvc_clean(two_runs)


def test_the_post_checkout_hook_writes_links(two_runs: Path) -> None:
    install_hooks(two_runs)
    dvc(two_runs, "config", "cache.type", "symlink")
    result = run_git(two_runs, "checkout", "-q", "HEAD~1")
    assert result.returncode == 0, result.stderr
    assert "restored data" in result.stderr, result.stderr
    _assert_linked(two_runs, "symlink")
    dvc_clean(two_runs)


def test_pull_writes_links_from_the_global_config(two_runs: Path, tmp_path: Path, dvc_remote: Path) -> None:
    add_dvc_remote(two_runs, dvc_remote)
    add_git_remote(two_runs, tmp_path / "origin.git")
    mlv(two_runs, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(clone))
    dvc(clone, "config", "--global", "cache.type", "hardlink")  # the per-test DVC_GLOBAL_CONFIG_DIR

    mlv(clone, "pull")

    _assert_linked(clone, "hardlink")
    dvc_clean(clone)


@pytest.fixture
def other_file_system() -> Iterator[Path]:
    """A folder on another file system than the work tree (tmpfs): no hardlink across, no reflink."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == Path(tempfile.gettempdir()).stat().st_dev:
        pytest.skip("needs /dev/shm on a file system of its own")
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="mlv-links-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _cache_on(root: Path, folder: Path) -> Path:
    cache = folder / "cache"
    shutil.copytree(root / ".dvc" / "cache", cache)
    dvc(root, "cache", "dir", "--local", str(cache))
    return cache


def test_link_types_fall_back_in_dvc_order_across_file_systems(two_runs: Path, other_file_system: Path) -> None:
    cache = _cache_on(two_runs, other_file_system)
    dvc(two_runs, "config", "--local", "cache.type", "reflink,hardlink,symlink")

    mlv(two_runs, "checkout", "HEAD~1")  # no reflink on tmpfs, no hardlink across: a symlink

    _assert_linked(two_runs, "symlink", cache)
    dvc_clean(two_runs)


def test_no_link_type_that_works_is_one_line_and_changes_nothing(two_runs: Path, other_file_system: Path) -> None:
    _cache_on(two_runs, other_file_system)
    dvc(two_runs, "config", "--local", "cache.type", "reflink,hardlink")
    head = git(two_runs, "rev-parse", "HEAD")
    content = (two_runs / DATA).read_bytes()

    result = mlv(two_runs, "checkout", "HEAD~1", check=False)

    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert "cache.type (reflink,hardlink)" in result.stderr
    assert git(two_runs, "rev-parse", "HEAD") == head
    assert (two_runs / DATA).read_bytes() == content


def test_a_cache_type_dvc_rejects_is_one_line(two_runs: Path) -> None:
    with open(two_runs / ".dvc" / "config", "a", encoding="utf-8") as handle:
        handle.write("[cache]\n    type = symlink,softlink\n")  # `dvc config` would refuse it
    head = git(two_runs, "rev-parse", "HEAD")

    result = mlv(two_runs, "checkout", "HEAD~1", check=False)

    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "'softlink' is not a cache type" in result.stderr
    assert git(two_runs, "rev-parse", "HEAD") == head
    assert not (two_runs / DATA).is_symlink()


def test_reproduce_data_are_copies_whatever_the_cache_type(two_runs: Path) -> None:
    """A re-run writes its inputs as it likes: it must never reach the cache through a link."""
    from mlv.data import restore
    from mlv.data.restore import pointers_at

    dvc(two_runs, "config", "cache.type", "symlink")
    target = two_runs / "elsewhere"
    restore.prepare_restore(two_runs, pointers_at(two_runs, "HEAD", ["data"]), target=target).apply()
    assert not (target / DATA).is_symlink()
    assert (target / DATA).stat().st_nlink == 1


# -- .dvcignore in a sub-folder ----------------------------------------------------------------


def test_a_nested_dvcignore_without_a_root_one_is_read_as_dvc_reads_it(repo: Path) -> None:
    """DVC refuses a `.dvcignore` inside a tracked folder, so a nested one sits above it."""
    dvc(repo, "init", "-q")
    (repo / ".dvcignore").unlink()  # `dvc init` writes one; DVC reads nested ones without it
    (repo / "lake" / "raw").mkdir(parents=True)
    (repo / "lake" / "raw" / "a.csv").write_text("a\n")
    (repo / "lake" / "raw" / "scratch.tmp").write_text("mine, not data\n")
    (repo / "lake" / ".dvcignore").write_text("*.tmp\n")
    (repo / ".mlv").mkdir()
    (repo / ".mlv" / "config.yaml").write_text("version: 1\ndata:\n- lake/raw\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a project")

    mlv(repo, "snapshot", "-m", "first")
    first = git(repo, "rev-parse", "HEAD")

    assert "nfiles: 1\n" in (repo / "lake" / "raw.dvc").read_text()
    dvc_clean(repo)  # DVC agrees: scratch.tmp is not data
    (repo / "lake" / "raw" / "a.csv").write_text("b\n")
    mlv(repo, "snapshot", "-m", "second")
    mlv(repo, "checkout", first)  # the ignored file is neither deleted nor refused on
    assert (repo / "lake" / "raw" / "scratch.tmp").read_text() == "mine, not data\n"
    assert (repo / "lake" / "raw" / "a.csv").read_text() == "a\n"
    dvc_clean(repo)
