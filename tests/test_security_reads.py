"""A cloned repository and a DVC remote are untrusted input: hostile ones are refused, in one line.

Each test builds the hostile repository with real git and DVC, runs the real `mlv` CLI or the real
git hooks, and checks the exit code, that stderr is exactly one line naming the problem (never a
traceback), that it finishes in bounded time (a `timeout` turns a spin into a failure), and that
nothing was stored, uploaded or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlv.adapters import dvc
from mlv.errors import DvcError
from tests.conftest import copy_template, git, mlv, pinned_env
from tests.hooks_helpers import add_dvc_remote, add_git_remote, install_hooks, remote_objects

SECRET = b"TOP-SECRET-5f1d2c: never to be stored or uploaded\n"
LIMIT = 60  # seconds: far above what any of these takes, low enough that a spin fails the test


@pytest.fixture(scope="module")
def _base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once: a project with a data folder, `mlv init` and one snapshot."""
    env = {**os.environ, **pinned_env(tmp_path_factory.mktemp("base-home"))}
    root = tmp_path_factory.mktemp("base") / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env=env)
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("x,y\n1,2\n")
    (root / "data" / "b.csv").write_text("x,y\n3,4\n")
    mlv(root, "init", env=env)
    mlv(root, "snapshot", "-m", "first", env=env)
    return root


@pytest.fixture
def project(_base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    return copy_template(_base, root)


def run(cwd: Path, *argv: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    """ARGV (`mlv ...` runs the venv's mlv) with the time limit; never raises on failure."""
    exe = [str(Path(sys.executable).parent / "mlv"), *argv[1:]] if argv[0] == "mlv" else list(argv)
    return subprocess.run(exe, cwd=cwd, capture_output=True, text=True, timeout=LIMIT, check=False,
                          input=input_text)


def assert_refused(proc: subprocess.CompletedProcess[str], *words: str, code: int = 1) -> str:
    """PROC exited CODE with exactly one line on stderr containing WORDS; that line."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def cache_holds(root: Path, content: bytes) -> bool:
    """Whether any DVC cache object of ROOT has CONTENT in it."""
    cache = root / ".dvc" / "cache"
    return any(content in p.read_bytes() for p in cache.rglob("*") if p.is_file())


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD")


def commit_pointer(root: Path, name: str, text: bytes, *, verify: bool) -> subprocess.CompletedProcess[str]:
    (root / name).write_bytes(text)
    git(root, "add", name)
    return run(root, "git", "commit", "-q", "-m", f"add {name}", *([] if verify else ["--no-verify"]))


# -- symlinks leading out of the repository ------------------------------------------------------


def test_symlinked_data_folder_outside_the_repository_is_refused(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "keys.txt").write_bytes(SECRET)
    shutil.rmtree(project / "data")
    (project / "data").symlink_to("../secret")
    before = head(project)
    line = assert_refused(run(project, "mlv", "snapshot", "-m", "steal"), "data", "outside the repository")
    assert "symlink" in line
    assert head(project) == before
    assert not cache_holds(project, SECRET)


def test_symlink_to_etc_passwd_inside_a_data_folder_is_refused(project: Path) -> None:
    passwd = Path("/etc/passwd").read_bytes()
    (project / "data" / "passwd.csv").symlink_to("/etc/passwd")
    before = head(project)
    assert_refused(run(project, "mlv", "snapshot", "-m", "steal"), "data/passwd.csv", "/etc/passwd")
    assert head(project) == before
    assert not cache_holds(project, passwd)
    # The pre-commit hook hashes the data of a staged pointer file: it refuses the same way.
    install_hooks(project)
    (project / "data.dvc").write_bytes((project / "data.dvc").read_bytes() + b"# touched\n")
    git(project, "add", "data.dvc")
    assert_refused(run(project, "git", "commit", "-q", "-m", "x"), "data/passwd.csv", "outside the repository")
    assert head(project) == before


def test_symlinks_inside_the_repository_are_kept_and_folder_links_skipped_as_dvc_does(project: Path) -> None:
    (project / "data" / "alias.csv").symlink_to("a.csv")  # a file link inside: followed
    (project / "data" / "loop").symlink_to(".")  # a folder link: skipped, so no endless walk
    run(project, "mlv", "snapshot", "-m", "links").check_returncode()
    md5 = dvc.parse_pointer((project / "data.dvc").read_bytes(), "data.dvc").md5
    cache = dvc.cache_dir(project)
    listing = dvc.load_manifest_map(cache, md5)
    assert listing is not None and sorted(listing) == ["a.csv", "alias.csv", "b.csv"]
    assert listing["alias.csv"] == listing["a.csv"]


# -- pointer files that lie ----------------------------------------------------------------------


def _pointer(md5: str, path: str) -> bytes:
    return f"outs:\n- md5: {md5}\n  size: 4\n  hash: md5\n  path: {path}\n".encode()


def test_md5_that_is_a_path_is_refused_by_the_hooks_and_by_checkout(project: Path) -> None:
    install_hooks(project)
    evil = _pointer("../../../../dev/zero", "extra")
    before = head(project)
    assert_refused(commit_pointer(project, "extra.dvc", evil, verify=True), "extra.dvc", "not a DVC hash")
    assert head(project) == before
    git(project, "reset", "-q", "extra.dvc")
    (project / "extra.dvc").unlink()
    # An experiment commit that carries it (made with --no-verify, or by someone else): checking
    # it out, with mlv (which reads the record) or with git (the post-checkout hook reads the
    # pointer file), refuses too. The hook cannot stop git, so git itself exits 0.
    (project / "data" / "c.csv").write_text("x,y\n5,6\n")
    run(project, "mlv", "snapshot", "-m", "second").check_returncode()
    good = _data_md5(project)
    message = git(project, "log", "-1", "--format=%B").replace(good, "../../../../dev/zero")
    assert "dev/zero" in message
    (project / "data.dvc").write_bytes(_pointer("../../../../dev/zero", "data"))
    git(project, "add", "data.dvc")
    git(project, "commit", "-q", "--amend", "--no-verify", "-m", message)
    git(project, "switch", "-q", "-c", "other", "HEAD~1")
    assert_refused(run(project, "mlv", "checkout", "main"), "dev/zero", "not a valid experiment")
    assert_refused(run(project, "git", "switch", "-q", "main"), "data.dvc", "not a DVC hash", code=0)
    assert not (project / "data" / "c.csv").exists()  # nothing was restored


def test_pointer_path_outside_the_repository_is_refused_by_the_hook(project: Path) -> None:
    install_hooks(project)
    md5 = hashlib.md5(b"x", usedforsecurity=False).hexdigest()
    before = head(project)
    assert_refused(commit_pointer(project, "usr.dvc", _pointer(md5, "/usr"), verify=True),
                   "usr.dvc", "/usr", "absolute")
    assert head(project) == before
    assert_refused(commit_pointer(project, "up.dvc", _pointer(md5, "../../etc"), verify=True),
                   "up.dvc", "climbs out")
    assert_refused(commit_pointer(project, "git.dvc", _pointer(md5, ".git/config"), verify=True),
                   "git.dvc", ".git/")


def _alias_bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    lines.append("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: data\n  bomb: *j")
    return ("\n".join(lines) + "\n").encode()


def test_yaml_alias_bomb_pointer_fails_fast_in_the_hook_and_in_push(project: Path, tmp_path: Path,
                                                                     dvc_remote: Path) -> None:
    install_hooks(project)
    bomb = _alias_bomb()
    assert len(bomb) < 2048  # 9**10 nodes once expanded
    started = time.monotonic()
    assert_refused(commit_pointer(project, "bomb.dvc", bomb, verify=True), "bomb.dvc", "aliases")
    assert time.monotonic() - started < 5
    commit_pointer(project, "bomb.dvc", bomb, verify=False).check_returncode()
    add_dvc_remote(project, dvc_remote)
    add_git_remote(project, tmp_path / "origin.git")
    started = time.monotonic()
    assert_refused(run(project, "mlv", "push"), "bomb.dvc", "aliases")
    assert time.monotonic() - started < 5
    assert not remote_objects(dvc_remote)


def test_oversized_and_deeply_nested_pointer_files_are_refused() -> None:
    with pytest.raises(DvcError, match="larger than 64 KiB"):
        dvc.parse_pointer(b"outs: []\n" + b"#" * 70_000, "big.dvc")
    with pytest.raises(DvcError, match=r"big\.dvc"):
        dvc.parse_pointer(b"[" * 60_000, "big.dvc")
    with pytest.raises(DvcError, match="anchors and aliases"):
        dvc.parse_pointer(b"outs: &x\n- {md5: 0123456789abcdef0123456789abcdef, path: d}\n", "a.dvc")


# -- manifests changed after they were written ---------------------------------------------------


def _append_to_manifest(objects: Path, dir_md5: str, injected: bytes) -> None:
    """Add `injected.txt` to the `.dir` object in OBJECTS (a cache or a remote), and its content."""
    md5 = hashlib.md5(injected, usedforsecurity=False).hexdigest()
    target = objects / "files" / "md5" / md5[:2] / md5[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(injected)
    manifest = objects / "files" / "md5" / dir_md5[:2] / dir_md5[2:]
    listing = json.loads(manifest.read_bytes())
    listing.append({"md5": md5, "relpath": "injected.txt"})
    manifest.chmod(0o644)
    manifest.write_text(json.dumps(sorted(listing, key=lambda d: d["relpath"]), sort_keys=True))


def _data_md5(root: Path, rev: str = "HEAD") -> str:
    return dvc.parse_pointer(git(root, "show", f"{rev}:data.dvc").encode(), "data.dvc").md5


def test_manifest_appended_to_in_the_cache_is_refused(project: Path) -> None:
    first = _data_md5(project)
    (project / "data" / "c.csv").write_text("x,y\n5,6\n")
    run(project, "mlv", "snapshot", "-m", "second").check_returncode()
    _append_to_manifest(project / ".dvc" / "cache", first, SECRET)
    assert_refused(run(project, "mlv", "checkout", "HEAD~1"), first, "does not match its hash")
    assert not (project / "data" / "injected.txt").exists()
    assert (project / "data" / "c.csv").exists()  # nothing was changed


def test_manifest_appended_to_on_the_dvc_remote_is_refused_by_pull(project: Path, tmp_path: Path,
                                                                   dvc_remote: Path) -> None:
    add_dvc_remote(project, dvc_remote)
    bare = tmp_path / "origin.git"
    add_git_remote(project, bare)
    run(project, "mlv", "push").check_returncode()
    _append_to_manifest(dvc_remote, _data_md5(project), SECRET)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    assert_refused(run(clone, "mlv", "pull"), _data_md5(project), "does not match its hash")
    assert not (clone / "data" / "injected.txt").exists()


# -- data changing while it is hashed ------------------------------------------------------------


@pytest.fixture
def writer(project: Path) -> Iterator[Path]:
    """A 24 MiB data file that another process keeps rewriting in place (same size)."""
    big = project / "data" / "big.bin"
    big.write_bytes(os.urandom(24 * 1024 * 1024))
    script = (
        "import os, random, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY)\n"
        "size = os.fstat(fd).st_size\n"
        "while True:\n"
        "    os.pwrite(fd, os.urandom(256 * 1024), random.randrange(0, size - 256 * 1024))\n"
        "    time.sleep(0.002)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(big)])
    try:
        yield big
    finally:
        proc.kill()
        proc.wait()


def test_file_changing_while_hashed_is_refused_or_stored_as_hashed(project: Path, writer: Path) -> None:
    cache = dvc.cache_dir(project)
    refused = 0
    for attempt in range(4):
        proc = run(project, "mlv", "snapshot", "-m", f"attempt {attempt}")
        if proc.returncode != 0:
            assert_refused(proc, "data/big.bin", "changed while it was being hashed")
            refused += 1
        # Whatever happened, every object in the cache hashes to its name.
        for obj in (cache / "files" / "md5").rglob("*"):
            if obj.is_file() and not obj.name.startswith("."):
                name = obj.parent.name + obj.name
                assert dvc.verify_object(cache, name), f"{name} does not hash to its name"
    assert refused > 0  # a file rewritten every few milliseconds cannot go unnoticed four times
