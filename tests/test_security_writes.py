"""A cloned repository is untrusted: nothing it commits may make mlv write outside the work tree.

Each hostile commit is built with real git plumbing (a symlink blob with mode 120000, a hand-written
`.dvc` pointer, a crafted record in the commit message), on a branch the work tree is not on. Then
the real `mlv checkout`, the real post-checkout hook (a plain `git checkout`), `mlv pull` from a
clone and `mlv reproduce --yes` are run against it, and the test checks that `.git/config`, the
hooks, `.dvc/` and every file outside the repository are exactly as they were. We run as root, so
nothing here relies on permission bits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlv.adapters import dvc
from tests.conftest import git, mlv, mounted_tmpfs

RECORD_START = "--- mlv experiment record v1 ---"
RECORD_END = "--- end mlv experiment record ---"
PRECIOUS = b"precious, not in any cache\n"


# -- building hostile commits ----------------------------------------------------------------------


def _record(repo: Path, rev: str = "HEAD") -> dict[str, Any]:
    message = git(repo, "log", "-1", "--format=%B", rev)
    doc: dict[str, Any] = json.loads(message.split(RECORD_START, 1)[1].split(RECORD_END, 1)[0])
    return doc


def _blob(repo: Path, content: bytes) -> str:
    return subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=content, check=True,
                          capture_output=True).stdout.decode().strip()


def hostile_commit(repo: Path, *, symlinks: dict[str, str] | None = None, files: dict[str, bytes] | None = None,
                   data: list[dict] | None = None, ref: str = "refs/heads/evil") -> str:
    """A commit on top of main adding SYMLINKS and FILES, its record's data replaced by DATA.

    Built in a private index with git plumbing, so the work tree and the user's index stay as they
    are (the branch is what an attacker would have pushed).
    """
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "hostile-index")}

    def run(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    run("read-tree", "main")
    for name, target in (symlinks or {}).items():
        run("update-index", "--add", "--cacheinfo", f"120000,{_blob(repo, target.encode())},{name}")
    for name, content in (files or {}).items():
        run("update-index", "--add", "--cacheinfo", f"100644,{_blob(repo, content)},{name}")
    record = _record(repo, "main")
    if data is not None:
        record["data"] = data
    message = f"hostile\n\n{RECORD_START}\n{json.dumps(record, indent=1)}\n{RECORD_END}\n"
    commit = run("commit-tree", run("write-tree"), "-p", "main", "-m", message)
    run("update-ref", ref, commit)
    (repo / ".git" / "hostile-index").unlink()
    return commit


def _pointer(path: str, md5: str, size: int = 1) -> bytes:
    return f"outs:\n- md5: {md5}\n  size: {size}\n  hash: md5\n  path: {path}\n".encode()


def _a_file_object(repo: Path) -> tuple[str, str]:
    """(md5 of a data file in the cache, md5 of the outputs folder manifest): payloads to write."""
    record = _record(repo)
    cache = dvc.cache_dir(repo)
    entries = dvc.load_manifest(cache, record["data"][0]["md5"])
    assert entries
    return entries[0].md5, record["outputs"][0]["md5"]


# -- what must not change --------------------------------------------------------------------------


class Guard:
    """Snapshots of everything an attack could reach, compared after each command."""

    def __init__(self, repo: Path, outside: Path) -> None:
        self.repo, self.outside = repo, outside
        self.git_config = (repo / ".git" / "config").read_bytes()
        self.hooks = {p.name: p.read_bytes() for p in (repo / ".git" / "hooks").iterdir() if p.is_file()}
        self.dvc = {p.relative_to(repo).as_posix(): p.read_bytes()
                    for p in (repo / ".dvc").rglob("*") if p.is_file() and "cache" not in p.parts}
        self.outside_files = {p.name: p.read_bytes() for p in outside.iterdir()}

    def check(self) -> None:
        assert (self.repo / ".git" / "config").read_bytes() == self.git_config
        hooks = {p.name: p.read_bytes() for p in (self.repo / ".git" / "hooks").iterdir() if p.is_file()}
        assert hooks == self.hooks
        assert not (self.repo / ".git" / "hooks" / "pre-commit").exists() or "pre-commit" in self.hooks
        dvc_files = {p.relative_to(self.repo).as_posix(): p.read_bytes()
                     for p in (self.repo / ".dvc").rglob("*") if p.is_file() and "cache" not in p.parts}
        assert dvc_files == self.dvc
        assert not (self.repo / ".dvc" / "config.local").exists()
        assert {p.name: p.read_bytes() for p in self.outside.iterdir()} == self.outside_files


def _one_error_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "Traceback" not in proc.stderr and "a bug in mlv" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _head(repo: Path) -> tuple[str, str]:
    return git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "-q", "HEAD")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the repository holding a file nobody saved anywhere."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "victim.txt").write_bytes(PRECIOUS)
    return path


# -- the attacks -------------------------------------------------------------------------------------


def _refused_everywhere(repo: Path, outside: Path, tmp_path: Path, make: object, words: tuple[str, ...],
                        reproduce: bool = True) -> None:
    """Run every entry point against the hostile commit MAKE builds; each must refuse, changing nothing."""
    assert callable(make)
    clone = tmp_path / "clone"
    shutil.copytree(repo, clone, symlinks=True)
    git(clone, "remote", "add", "origin", str(repo))
    make(repo)
    guard = Guard(repo, outside)
    head = _head(repo)

    # mlv checkout: refused before git moves anything.
    proc = mlv(repo, "checkout", "evil", check=False)
    assert proc.returncode == 1, proc.stderr
    _one_error_line(proc, *words)
    assert _head(repo) == head and git(repo, "status", "--porcelain") == ""
    guard.check()

    # --force discards unsaved work, never safety.
    proc = mlv(repo, "checkout", "evil", "--force", check=False)
    assert proc.returncode == 1, proc.stderr
    _one_error_line(proc, *words)
    assert _head(repo) == head
    guard.check()

    # mlv reproduce: the worktree holds the hostile commit; its data is never restored through it.
    if reproduce:
        proc = mlv(repo, "reproduce", "evil", "--yes", check=False)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "refusing" in proc.stderr
        guard.check()

    # The post-checkout hook: git has switched already, the data is not restored through the link.
    mlv(repo, "hooks", "install")
    guard = Guard(repo, outside)
    proc = subprocess.run(["git", "checkout", "-q", "evil"], cwd=repo, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    line = _one_error_line(proc, "but the data was not restored", *words)
    assert line.startswith("mlv: ")
    guard.check()

    # mlv pull from a clone: refused before the branch moves.
    git(repo, "checkout", "-q", "--force", "main")
    subprocess.run(["git", "update-ref", "refs/heads/main", "evil"], cwd=repo, check=True)
    clone_guard = Guard(clone, outside)
    clone_head = _head(clone)
    proc = mlv(clone, "pull", check=False)
    assert proc.returncode == 1, proc.stderr
    _one_error_line(proc, *words)
    assert _head(clone) == clone_head
    clone_guard.check()


def test_symlink_to_dot_git_with_a_record_and_a_pointer_into_it(experiment_repo: Path, outside: Path,
                                                              tmp_path: Path) -> None:
    repo = experiment_repo
    file_md5, _ = _a_file_object(repo)

    def make(repo: Path) -> None:
        hostile_commit(repo, symlinks={"g": ".git"}, files={"evil.dvc": _pointer("g/config", file_md5)},
                       data=[{"path": "g/config", "md5": file_md5, "size": 1, "nfiles": None}])

    _refused_everywhere(repo, outside, tmp_path, make, ("'g/config'", "symlink g", "refusing"))


def test_symlink_to_an_absolute_folder_outside(experiment_repo: Path, outside: Path, tmp_path: Path) -> None:
    repo = experiment_repo
    file_md5, _ = _a_file_object(repo)

    def make(repo: Path) -> None:
        hostile_commit(repo, symlinks={"g": str(outside)},
                       files={"evil.dvc": _pointer("g/victim.txt", file_md5)},
                       data=[{"path": "g/victim.txt", "md5": file_md5, "size": 1, "nfiles": None},
                             {"path": "g/new.txt", "md5": file_md5, "size": 1, "nfiles": None}])

    _refused_everywhere(repo, outside, tmp_path, make, ("symlink g", "refusing"))
    assert not (outside / "new.txt").exists()


def test_tracked_data_folder_replaced_by_a_symlink(experiment_repo: Path, outside: Path, tmp_path: Path) -> None:
    """`data -> /outside` with data pointing at another folder: a restore would write there and,
    with --force, delete the files it holds that the manifest does not list."""
    repo = experiment_repo
    _, folder_md5 = _a_file_object(repo)

    def make(repo: Path) -> None:
        hostile_commit(repo, symlinks={"data": str(outside)},
                       files={"data.dvc": _pointer("data", folder_md5)},
                       data=[{"path": "data", "md5": folder_md5, "size": 1, "nfiles": 1}])

    _refused_everywhere(repo, outside, tmp_path, make, ("'data'", "symlink data", "refusing"))
    assert [p.name for p in outside.iterdir()] == ["victim.txt"]


@pytest.mark.parametrize(("path", "owner"), [(".git/hooks/pre-commit", ".git/"), (".dvc/config.local", ".dvc/")])
def test_record_or_pointer_path_inside_git_or_dvc(experiment_repo: Path, outside: Path, tmp_path: Path,
                                                   path: str, owner: str) -> None:
    repo = experiment_repo
    file_md5, _ = _a_file_object(repo)

    def make(repo: Path) -> None:
        hostile_commit(repo, files={"evil.dvc": _pointer(path, file_md5)},
                       data=[{"path": path, "md5": file_md5, "size": 1, "nfiles": None}])

    _refused_everywhere(repo, outside, tmp_path, make, (repr(path), f"inside {owner}", "refusing"))
    payload = dvc.object_path(dvc.cache_dir(repo), file_md5).read_bytes()
    hook = repo / ".git" / "hooks" / "pre-commit"  # `mlv hooks install` wrote mlv's own
    assert not hook.exists() or hook.read_bytes() != payload
    assert not (repo / ".dvc" / "config.local").exists()


def test_manifest_entry_inside_a_nested_dot_git_is_refused(experiment_repo: Path, outside: Path) -> None:
    """A folder manifest is committed data too: an entry `sub/.git/config` is refused like a path."""
    repo = experiment_repo
    file_md5, _ = _a_file_object(repo)
    entries = [dvc.ManifestEntry(".git/config", file_md5)]
    md5, raw = dvc.dir_hash(entries)
    dvc.store_manifest(dvc.cache_dir(repo), md5, raw)
    hostile_commit(repo, files={"data.dvc": _pointer("data", md5)},
                   data=[{"path": "data", "md5": md5, "size": 1, "nfiles": 1}])
    proc = mlv(repo, "checkout", "evil", "--force", check=False)
    assert proc.returncode == 1
    _one_error_line(proc, "'.git/config'", "inside .git/", "refusing")
    assert not (repo / "data" / ".git").exists()


# -- a symlink that appears after the checks: the write itself refuses --------------------------------


def test_write_time_check_catches_a_symlink_planted_after_planning(experiment_repo: Path, outside: Path) -> None:
    """The plan is checked before git moves; the write re-checks every folder with O_NOFOLLOW."""
    from mlv.data import restore

    repo = experiment_repo
    _, folder_md5 = _a_file_object(repo)
    pointer = dvc.Pointer(path="data", md5=folder_md5, size=1, nfiles=1)
    prepared = restore.prepare_restore(repo, [pointer], force=True)
    shutil.rmtree(repo / "data")
    (repo / "data").symlink_to(outside)  # what a post-plan `git checkout` of a hostile commit does
    with pytest.raises(Exception, match="symlink data") as caught:
        prepared.apply()
    assert "refusing" in str(caught.value)
    assert [p.name for p in outside.iterdir()] == ["victim.txt"]
    assert (outside / "victim.txt").read_bytes() == PRECIOUS


# -- leftovers of killed writers -------------------------------------------------------------------------


def test_stale_cache_temp_files_of_dead_writers_are_removed_on_the_next_write(experiment_repo: Path) -> None:
    repo = experiment_repo
    objects = dvc.objects_dir(dvc.cache_dir(repo))
    dead = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True).stdout.strip()
    old = time.time() - 600
    stale = objects / f".mlv-tmp-{dead}-abc"
    live = objects / f".mlv-tmp-{os.getpid()}-def"  # this test process: alive
    fresh = objects / f".mlv-tmp-{dead}-ghi"  # its writer is gone, but it was written a moment ago
    foreign = objects / ".not-ours"
    for path in (stale, live, fresh, foreign):
        path.write_bytes(b"half an object")
    for path in (stale, live, foreign):
        os.utime(path, (old, old))
    with (repo / "data" / "dataset.csv").open("a") as handle:
        handle.write("0.1,0.2,0.3,0.4,9.0\n")
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "second")
    assert not stale.exists()
    assert live.exists() and fresh.exists() and foreign.exists()
    assert not [p for p in objects.iterdir() if p.name.startswith(".mlv-tmp-") and p not in (live, fresh)]


# -- a full disk ----------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs, mounted for this test (needs root and permission to mount)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    with mounted_tmpfs(tmp_path / "disk", "6m") as mount:
        yield mount


def _fill(disk: Path, leave: int) -> None:
    """Fill DISK until about LEAVE bytes are free."""
    with open(disk / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
    os.truncate(disk / "filler", max(0, (disk / "filler").stat().st_size - leave))


def test_checkout_on_a_full_disk_leaves_head_and_data_where_they_were(experiment_repo: Path,
                                                                      small_disk: Path) -> None:
    repo = small_disk / "repo"
    shutil.copytree(experiment_repo, repo, symlinks=True)
    (repo / "data" / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "big data")
    mlv(repo, "checkout", "HEAD~1")
    assert not (repo / "data" / "big.bin").exists()
    head = git(repo, "rev-parse", "HEAD")
    before = {p.relative_to(repo).as_posix(): p.read_bytes() for p in (repo / "data").rglob("*") if p.is_file()}
    _fill(small_disk, 256 * 1024)

    proc = mlv(repo, "checkout", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    line = _one_error_line(proc, "No space left on device", str(repo / "data"), "nothing was changed (HEAD is back at")
    assert "Free some disk space" in line
    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "status", "--porcelain") == ""
    after = {p.relative_to(repo).as_posix(): p.read_bytes() for p in (repo / "data").rglob("*") if p.is_file()}
    assert after == before

    (small_disk / "filler").unlink()
    mlv(repo, "checkout", "main")
    assert (repo / "data" / "big.bin").stat().st_size == 2 * 1024 * 1024


def test_snapshot_on_a_full_disk_names_the_cache(experiment_repo: Path, small_disk: Path) -> None:
    """The DVC cache fills the disk while a snapshot stores new data: `write()` names no file, so
    the line must name the folder, or the user cannot tell which disk to free."""
    repo = small_disk / "repo"
    shutil.copytree(experiment_repo, repo, symlinks=True)
    (repo / "data" / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    head = git(repo, "rev-parse", "HEAD")
    _fill(small_disk, 256 * 1024)

    proc = mlv(repo, "snapshot", "-m", "big data", check=False)
    assert proc.returncode == 1, proc.stderr
    line = _one_error_line(proc, "No space left on device", str(repo / ".dvc" / "cache"))
    assert "Free some disk space" in line
    assert git(repo, "rev-parse", "HEAD") == head


def test_checkout_into_a_read_only_data_folder_is_one_line_and_moves_nothing(experiment_repo: Path) -> None:
    """A read-only mount stops root too (permission bits would not): EROFS, named, HEAD unmoved."""
    repo = experiment_repo
    with (repo / "data" / "dataset.csv").open("a") as handle:
        handle.write("0.1,0.2,0.3,0.4,9.0\n")
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "second")
    mlv(repo, "checkout", "HEAD~1")
    head = git(repo, "rev-parse", "HEAD")
    before = (repo / "data" / "dataset.csv").read_bytes()
    data = str(repo / "data")
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    proc = subprocess.run(["mount", "--bind", data, data], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {proc.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", data], check=True, capture_output=True)
        proc = mlv(repo, "checkout", "main", check=False)
    finally:
        subprocess.run(["umount", "-l", data], check=False)
    assert proc.returncode == 1, proc.stderr
    _one_error_line(proc, "Read-only file system", data, "nothing was changed (HEAD is back at")
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    assert (repo / "data" / "dataset.csv").read_bytes() == before


def test_snapshot_never_writes_through_a_committed_symlinked_folder(experiment_repo: Path, tmp_path: Path) -> None:
    """`.mlv/env -> elsewhere` committed in a clone: the snapshot would write its lockfile there and
    delete 'stray' lockfiles there. Refused before anything is committed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "requirements-aaaaaaaaaaaa.txt"
    victim.write_text("mine\n")
    env_dir = experiment_repo / ".mlv" / "env"
    shutil.rmtree(env_dir)
    os.symlink(outside, env_dir)
    git(experiment_repo, "add", "-A", ".mlv")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "hostile: .mlv/env is a symlink")
    head = git(experiment_repo, "rev-parse", "HEAD")
    proc = mlv(experiment_repo, "snapshot", "--allow-empty", "-m", "x", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _one_error_line(proc, ".mlv/env", "symlink")
    assert git(experiment_repo, "rev-parse", "HEAD") == head  # nothing committed
    assert sorted(p.name for p in outside.iterdir()) == [victim.name] and victim.read_text() == "mine\n"
