"""`mlv push` uploads every object a commit needs, and only objects whose content matches their
name: DVC 2's cache layout as well as DVC 3's, a corrupt object refused with its path, a full or
read-only remote named with its cause, and no half-written file left on the remote. `mlv status`
says "on the remote" only for what is there. Checked with real DVC in a fresh clone.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import dvc, git, mlv, mounted_tmpfs
from tests.hooks_helpers import add_dvc_remote, add_git_remote

pytestmark = pytest.mark.slow

FILES = {"a.txt": b"first file\n", "b.txt": b"second file\n", "c.bin": bytes(range(256)) * 8}


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _dvc2_project(root: Path) -> dict[str, str]:
    """A project as DVC 2 left it: `data.dvc` without `hash: md5`, objects in `.dvc/cache/XX/REST`
    (DVC 3 reads both). Returns md5 -> relpath of every object, the manifest's included."""
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    cache = root / ".dvc" / "cache"
    objects: dict[str, str] = {}
    (root / "data").mkdir()
    for name, content in FILES.items():
        (root / "data" / name).write_bytes(content)
        md5 = _md5(content)
        (cache / md5[:2]).mkdir(parents=True, exist_ok=True)
        (cache / md5[:2] / md5[2:]).write_bytes(content)
        objects[md5] = f"data/{name}"
    manifest = json.dumps([{"md5": _md5(c), "relpath": n} for n, c in sorted(FILES.items())],
                          separators=(", ", ": ")).encode()
    dir_md5 = _md5(manifest) + ".dir"
    (cache / dir_md5[:2]).mkdir(parents=True, exist_ok=True)
    (cache / dir_md5[:2] / dir_md5[2:]).write_bytes(manifest)
    objects[dir_md5] = "data"
    size = sum(len(c) for c in FILES.values())
    (root / "data.dvc").write_text(f"outs:\n- md5: {dir_md5}\n  size: {size}\n  nfiles: 3\n  path: data\n")
    (root / ".gitignore").write_text("/data\n")
    (root / ".mlv").mkdir()
    (root / ".mlv" / "config.yaml").write_text("version: 1\ndata:\n- data\noutputs: []\nparams: []\n"
                                               "metrics: []\ncommand: null\npython: python\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data from DVC 2")
    return objects


def _on_remote(remote: Path, md5: str) -> bool:
    return (remote / md5[:2] / md5[2:]).is_file() or (remote / "files" / "md5" / md5[:2] / md5[2:]).is_file()


def test_a_dvc2_cache_is_pushed_whole_and_a_fresh_clone_gets_it(repo: Path, tmp_path: Path) -> None:
    objects = _dvc2_project(repo)
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    add_dvc_remote(repo, remote)
    add_git_remote(repo, tmp_path / "origin.git")
    mlv(repo, "push")
    assert [m for m in objects if not _on_remote(remote, m)] == []
    status = json.loads(mlv(repo, "status", "--json").stdout)
    assert status["unshared"]["data_objects"] == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(clone))
    dvc(clone, "pull")  # DVC's own command finds every object where DVC 2 keeps it
    assert {n: (clone / "data" / n).read_bytes() for n in FILES} == FILES
    clone2 = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", str(tmp_path / "origin.git"), str(clone2))
    mlv(clone2, "checkout", "main")  # and mlv's fetch too
    assert {n: (clone2 / "data" / n).read_bytes() for n in FILES} == FILES


@pytest.fixture
def shared_experiment(experiment_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    remote = tmp_path / "dvc-remote"
    remote.mkdir()
    add_dvc_remote(experiment_repo, remote)
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    return experiment_repo, remote, bare


def test_a_corrupt_cache_object_is_refused_with_its_path(shared_experiment: tuple[Path, Path, Path]) -> None:
    repo, remote, bare = shared_experiment
    data = (repo / "data" / "dataset.csv").read_bytes()
    obj = repo / ".dvc" / "cache" / "files" / "md5" / _md5(data)[:2] / _md5(data)[2:]
    os.chmod(obj, 0o644)
    obj.write_bytes(data.replace(b"1", b"7"))  # same size: a bit rot, or a script writing through a link
    proc = mlv(repo, "push", check=False)
    assert proc.returncode != 0
    assert proc.stderr.count("\n") <= 2 and "Traceback" not in proc.stderr
    assert "does not match its hash" in proc.stderr and str(obj) in proc.stderr and "data" in proc.stderr
    assert not _on_remote(remote, _md5(data))
    assert git(bare, "branch", "--list") == ""  # the commits stay unpushed


# -- a remote that fills up or turns read-only -------------------------------------------------------


@pytest.fixture
def small_remote(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs as the DVC remote (root can mount one here, and in CI)."""
    with mounted_tmpfs(tmp_path / "remote-disk", "64k") as mount:
        yield mount


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_full_or_read_only_remote_says_why_and_leaves_no_debris(experiment_repo: Path, tmp_path: Path,
                                                                   small_remote: Path, fault: str) -> None:
    repo = experiment_repo
    for index in range(6):  # 6 x 16 KiB of incompressible data: more than the 64 KiB remote holds
        (repo / "data" / f"extra-{index}.bin").write_bytes(os.urandom(16 * 1024))
    mlv(repo, "snapshot", "-m", "more data")
    add_dvc_remote(repo, small_remote)
    add_git_remote(repo, tmp_path / "origin.git")
    if fault == "read-only":
        subprocess.run(["mount", "-o", "remount,ro", str(small_remote)], check=True)
    proc = mlv(repo, "push", check=False)
    assert proc.returncode != 0
    line = proc.stderr.splitlines()[0]
    cause = "No space left on device" if fault == "full" else "Read-only file system"
    assert cause in line and str(small_remote) in line, proc.stderr
    assert "Traceback" not in proc.stderr
    leftovers = list(small_remote.rglob("*.tmp"))
    assert leftovers == []
    assert git(tmp_path / "origin.git", "branch", "--list") == ""
    status = json.loads(mlv(repo, "status", "--json").stdout)
    assert status["unshared"]["data_objects"] > 0  # status does not claim it is there
