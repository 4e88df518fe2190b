"""mlv.restore.restore_paths: make tracked paths match pointers, never losing unsaved data."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from mlv.adapters import dvc as dvc_adapter  # `dvc` is the helper that runs DVC (tests.conftest)
from mlv.data import restore
from mlv.data.statecache import StateCache
from mlv.errors import MlvError
from tests.conftest import dvc, git, tree_fingerprint
from tests.reproduce_helpers import add_remote, data_repo, read_all, track, write_pointers


@pytest.fixture
def tracked(tmp_path: Path) -> tuple[Path, list[dvc_adapter.Pointer], dict[str, dict[str, bytes]]]:
    """A data repo whose data is in the cache, plus the original bytes of each tracked path."""
    root = data_repo(tmp_path / "src")
    pointers = track(root, ["data", "big.bin"])
    originals = {p.path: read_all(root / p.path) for p in pointers}
    return root, pointers, originals


def _cache(root: Path) -> Path:
    return dvc_adapter.cache_dir(root)


def test_restores_missing_paths_and_reports_them(tracked: tuple) -> None:
    root, pointers, originals = tracked
    shutil.rmtree(root / "data")
    (root / "big.bin").unlink()
    report = restore.restore_paths(root, pointers)
    assert sorted(report.restored) == ["big.bin", "data"]
    assert report.unchanged == []
    assert report.fetched == 0
    for path, content in originals.items():
        assert read_all(root / path) == content


# Files whose opening is refused while a test runs; see _refuse_opens. sys.addaudithook cannot be
# undone, so the hook is installed once and does nothing while this set is empty.
_REFUSED: set[str] = set()
_REFUSED_SEEN: list[str] = []


def _refuse_opens(event: str, args: tuple[object, ...]) -> None:
    if event == "open" and _REFUSED and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.realpath(os.fsdecode(args[0]))
        if path in _REFUSED:
            _REFUSED_SEEN.append(path)
            raise PermissionError(errno.EACCES, "opened by a test that forbids it", path)


sys.addaudithook(_refuse_opens)


def test_second_sync_changes_nothing_and_reads_no_file(tracked: tuple) -> None:
    root, pointers, _ = tracked
    before = {p: os.stat(p).st_mtime_ns for p in (root / "data").rglob("*")}
    # Make any read of the data fail: unchanged files must be recognised from the stat cache alone.
    # Not chmod 000: root reads through permission bits, so the test could not fail as root. The
    # audit hook sees every open() in this process, whoever runs it (restore_paths is in-process).
    files = {os.path.realpath(p) for p in [*(root / "data").rglob("*"), root / "big.bin"] if p.is_file()}
    _REFUSED_SEEN.clear()
    _REFUSED.update(files)
    try:
        report = restore.restore_paths(root, pointers)
    finally:
        _REFUSED.clear()
    assert _REFUSED_SEEN == []
    assert report.restored == []
    assert sorted(report.unchanged) == ["big.bin", "data"]
    assert {p: os.stat(p).st_mtime_ns for p in (root / "data").rglob("*")} == before


def test_restored_files_are_independent_copies_of_the_cache(tracked: tuple) -> None:
    root, pointers, originals = tracked
    (root / "big.bin").unlink()
    restore.restore_paths(root, pointers)
    big = root / "big.bin"
    assert big.stat().st_nlink == 1
    big.write_bytes(b"a training script writing its input")
    obj = dvc_adapter.object_path(_cache(root), next(p for p in pointers if p.path == "big.bin").md5)
    assert obj.read_bytes() == originals["big.bin"][""]


def test_folder_gets_extra_saved_files_removed_and_changed_saved_files_replaced(tracked: tuple) -> None:
    root, pointers, originals = tracked
    # Save a different version (its content reaches the cache), then go back to the first pointers.
    (root / "data" / "a.csv").write_text("changed\n")
    (root / "data" / "new.csv").write_text("new\n")
    track(root, ["data"])
    report = restore.restore_paths(root, pointers)
    assert report.restored == ["data"]
    assert read_all(root / "data") == originals["data"]
    assert not (root / "data" / "new.csv").exists()


def test_file_replaced_by_a_folder_and_back(tracked: tuple) -> None:
    root, pointers, originals = tracked
    data = next(p for p in pointers if p.path == "data")
    as_file = dvc_adapter.Pointer(path="data", md5=next(p for p in pointers if p.path == "big.bin").md5, size=1)
    restore.restore_paths(root, [as_file])
    assert (root / "data").is_file()
    restore.restore_paths(root, [data])
    assert read_all(root / "data") == originals["data"]


def test_unsaved_change_is_refused_before_anything_changes(tracked: tuple) -> None:
    root, pointers, _ = tracked
    (root / "big.bin").unlink()  # would be restored: proves the refusal comes before any write
    (root / "data" / "a.csv").write_text("my unsaved edit\n")
    before = tree_fingerprint(root)
    with pytest.raises(MlvError) as err:
        restore.restore_paths(root, pointers)
    text = err.value.one_line()
    assert "data/a.csv" in text and "mlv snapshot" in text and "--force" in text
    assert tree_fingerprint(root) == before


def test_unsaved_extra_file_in_folder_is_refused(tracked: tuple) -> None:
    root, pointers, _ = tracked
    (root / "data" / "notes.txt").write_text("not saved anywhere\n")
    with pytest.raises(MlvError, match=r"data/notes\.txt"):
        restore.restore_paths(root, pointers)
    assert (root / "data" / "notes.txt").read_text() == "not saved anywhere\n"


def test_force_discards_unsaved_changes(tracked: tuple) -> None:
    root, pointers, originals = tracked
    (root / "data" / "a.csv").write_text("my unsaved edit\n")
    (root / "data" / "notes.txt").write_text("x\n")
    restore.restore_paths(root, pointers, force=True)
    assert read_all(root / "data") == originals["data"]


def test_symlink_in_the_way_is_refused_without_force(tracked: tuple) -> None:
    root, pointers, originals = tracked
    (root / "data" / "b.csv").unlink()
    (root / "data" / "b.csv").symlink_to("a.csv")
    with pytest.raises(MlvError, match="symlink"):
        restore.restore_paths(root, pointers)
    restore.restore_paths(root, pointers, force=True)
    assert not (root / "data" / "b.csv").is_symlink()
    assert read_all(root / "data") == originals["data"]
    assert (root / "data" / "a.csv").read_bytes() == originals["data"]["a.csv"]


def test_missing_object_names_path_hash_and_fix(tracked: tuple) -> None:
    root, pointers, _ = tracked
    big = next(p for p in pointers if p.path == "big.bin")
    os.chmod(dvc_adapter.object_path(_cache(root), big.md5), 0o644)
    dvc_adapter.object_path(_cache(root), big.md5).unlink()
    (root / "big.bin").unlink()
    with pytest.raises(MlvError) as err:
        restore.restore_paths(root, pointers)
    text = err.value.one_line()
    assert "big.bin" in text and big.md5 in text and "dvc fetch" in text and "mlv pull" in text


def test_missing_objects_are_fetched_from_the_remote(tracked: tuple, dvc_remote: Path) -> None:
    root, pointers, originals = tracked
    write_pointers(root, pointers)
    add_remote(root, dvc_remote)
    dvc(root, "push", "data.dvc", "big.bin.dvc")
    shutil.rmtree(_cache(root))
    shutil.rmtree(root / "data")
    (root / "big.bin").unlink()
    report = restore.restore_paths(root, pointers, fetch_missing=True)
    assert report.fetched == 5  # one manifest and four files
    assert read_all(root / "data") == originals["data"]
    assert read_all(root / "big.bin") == originals["big.bin"]


def test_fetch_without_a_remote_names_the_path_and_the_fix(tracked: tuple) -> None:
    root, pointers, _ = tracked
    shutil.rmtree(_cache(root))
    with pytest.raises(MlvError) as err:
        restore.restore_paths(root, pointers, fetch_missing=True)
    text = err.value.one_line()
    assert "no DVC remote is configured" in text and "dvc remote add" in text


def test_corrupt_cache_object_is_refused_naming_the_file(tracked: tuple) -> None:
    root, pointers, _ = tracked
    big = next(p for p in pointers if p.path == "big.bin")
    obj = dvc_adapter.object_path(_cache(root), big.md5)
    os.chmod(obj, 0o644)
    obj.write_bytes(b"bit rot")
    (root / "big.bin").unlink()
    before = tree_fingerprint(root)
    with pytest.raises(MlvError) as err:
        restore.restore_paths(root, pointers)
    assert "big.bin" in err.value.one_line() and "corrupt" in err.value.one_line()
    assert tree_fingerprint(root) == before


def test_corruption_after_a_verified_restore_is_still_caught(tracked: tuple) -> None:
    root, pointers, _ = tracked
    big = next(p for p in pointers if p.path == "big.bin")
    (root / "big.bin").unlink()
    restore.restore_paths(root, pointers)  # verifies the object and remembers it
    obj = dvc_adapter.object_path(_cache(root), big.md5)
    st = obj.stat()
    os.chmod(obj, 0o644)
    with open(obj, "r+b") as handle:
        handle.write(b"X")  # same size; the mtime is put back below, the ctime cannot be
    os.utime(obj, ns=(st.st_atime_ns, st.st_mtime_ns))
    (root / "big.bin").unlink()
    with pytest.raises(MlvError, match="corrupt"):
        restore.restore_paths(root, pointers)


@pytest.mark.parametrize("bad", ["/etc/x", "../outside", "data/../../x"])
def test_unsafe_pointer_paths_are_refused(tracked: tuple, bad: str) -> None:
    root, pointers, _ = tracked
    evil = dvc_adapter.Pointer(path=bad, md5=pointers[0].md5, size=1)
    with pytest.raises(MlvError, match="refusing"):
        restore.restore_paths(root, [evil])
    assert not (root.parent / "outside").exists()


def test_symlink_leading_outside_is_refused(tracked: tuple, tmp_path: Path) -> None:
    root, pointers, _ = tracked
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    shutil.rmtree(root / "data")
    (root / "data").symlink_to(outside)
    with pytest.raises(MlvError, match="points outside"):
        restore.restore_paths(root, pointers)
    assert list(outside.iterdir()) == []


def test_manifest_entry_climbing_out_is_refused(tracked: tuple) -> None:
    root, pointers, _ = tracked
    md5, data = dvc_adapter.dir_hash([dvc_adapter.ManifestEntry("../../escaped.txt", pointers[1].md5)])
    dvc_adapter.store_manifest(_cache(root), md5, data)
    with pytest.raises(MlvError, match="climbs out"):
        restore.restore_paths(root, [dvc_adapter.Pointer(path="data", md5=md5, size=1, nfiles=1)])
    assert not (root.parent / "escaped.txt").exists()


def test_pointers_at_reads_committed_pointers(tracked: tuple) -> None:
    root, pointers, _ = tracked
    write_pointers(root, pointers)
    git(root, "add", "data.dvc", "big.bin.dvc")
    git(root, "commit", "-q", "-m", "data")
    assert restore.pointers_at(root, "HEAD", ["data", "big.bin", "absent"]) == pointers
    assert sorted(restore.pointers_at(root, "HEAD"), key=lambda p: p.path) == sorted(pointers, key=lambda p: p.path)


def test_half_written_file_of_an_interrupted_restore_is_cleaned_up(tracked: tuple) -> None:
    root, pointers, originals = tracked
    (root / "data" / ".a.csv.mlv-tmp-123-456").write_text("half of a")
    restore.restore_paths(root, pointers)  # no --force needed: the file is mlv's own leftover
    assert read_all(root / "data") == originals["data"]


def test_restore_into_another_folder_uses_the_repositorys_cache(tracked: tuple, tmp_path: Path) -> None:
    root, pointers, originals = tracked
    target = tmp_path / "elsewhere"
    state = StateCache.load(tmp_path / "state.json")
    restore.prepare_restore(root, pointers, target=target, state=state).apply()
    assert {p.path: read_all(target / p.path) for p in pointers} == originals
    written = StateCache.load(tmp_path / "state.json").entries  # what it wrote is remembered there
    assert {key.split("/")[0] for key in written} == {p.path for p in pointers}


def test_only_large_verified_objects_are_remembered(tracked: tuple) -> None:
    root, pointers, _ = tracked
    shutil.rmtree(root / "data")
    (root / "big.bin").unlink()
    restore.restore_paths(root, pointers)
    trusted = json.loads((root / ".git" / "mlv" / "verified-objects.json").read_text())["entries"]
    big = next(p for p in pointers if p.path == "big.bin")
    assert list(trusted) == [str(dvc_adapter.object_path(_cache(root), big.md5))]


def test_remote_url_reads_remotes_written_by_dvc(tmp_path: Path) -> None:
    repo = data_repo(tmp_path / "r")
    dvc(repo, "remote", "add", "-d", "store", str(tmp_path / "store"))
    assert dvc_adapter.default_remote(repo) == "store"
    assert dvc_adapter.remote_url(repo, "store") == str(tmp_path / "store")
    assert dvc_adapter.remote_url(repo, "other") is None
