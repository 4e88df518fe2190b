"""Repositories for the `mlv diff` tests, built once per module (real git, real DVC, real mlv).

Module-scoped fixtures run before conftest's per-test isolation, so `isolated` pins the same
HOME, git identity and DVC settings while a shared repository is being built.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, copy_sample_project, git, mlv, pinned

SCHEMA = Path(__file__).resolve().parent.parent / "mlv" / "schemas" / "diff.schema.json"


def isolated(home: Path) -> contextlib.AbstractContextManager[None]:
    """The same HOME, git identity and DVC settings as a test gets, for a repository built once."""
    return pinned(home)


def build_two_runs(repo: Path) -> None:
    """The sample project, trained twice: params, code, data and outputs all differ."""
    repo.mkdir()
    git(repo, "init", "-q")
    copy_sample_project(repo)
    mlv(repo, "init")
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "baseline")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("test_size: 0.25", "test_size: 0.3"))
    with (repo / "train.py").open("a") as handle:
        handle.write("# tuned hold-out\n")
    (repo / "utils.py").write_text("def helper():\n    return 1\n")
    (repo / "logo.bin").write_bytes(b"\x89PNG\0\0binary")
    git(repo, "add", "utils.py", "logo.bin")
    with (repo / "data" / "dataset.csv").open("a") as handle:
        handle.write("0.1,0.2,0.3,0.4,1.0\n")
    (repo / "data" / "extra.csv").write_text("x1,x2,x3,x4,y\n")
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "hold out 30%")


def build_plain_dvc(repo: Path) -> None:
    """Two commits made with DVC alone (`dvc add`), no mlv record anywhere."""
    repo.mkdir()
    git(repo, "init", "-q")
    dvc = str(Path(VENV_BIN) / "dvc")
    subprocess.run([dvc, "init", "-q"], cwd=repo, check=True, capture_output=True)
    (repo / "data").mkdir()
    for i in range(5):
        (repo / "data" / f"part{i}.csv").write_text(f"a,b\n{i},{i}\n")
    (repo / "prep.py").write_text("print('prep')\n")
    subprocess.run([dvc, "add", "-q", "data"], cwd=repo, check=True, capture_output=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data v1")
    (repo / "data" / "part0.csv").write_text("a,b\n0,changed\n")
    (repo / "data" / "part4.csv").unlink()
    (repo / "data" / "part5.csv").write_text("a,b\n5,5\n")
    (repo / "raw.txt").write_text("raw\n")
    (repo / "prep.py").write_text("print('prep')\nprint('v2')\n")
    subprocess.run([dvc, "add", "-q", "data", "raw.txt"], cwd=repo, check=True, capture_output=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "data v2")


def shared_repo(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A repository built once per test session (several modules use it) in pytest's base temp."""
    base = factory.getbasetemp() / name
    done = base / "built"  # outside the repository, so it shows in no diff
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        with isolated(base / "home"):
            build(base / "repo")
        done.touch()
    return base / "repo"


def copy_repo(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def diff_json(repo: Path, *args: str) -> dict[str, object]:
    proc = mlv(repo, "diff", "--json", *args)
    doc: dict[str, object] = json.loads(proc.stdout)
    return doc
