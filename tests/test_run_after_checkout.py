"""A command never writes into the DVC cache: after `mlv checkout` under a link `cache.type`, the
outputs are links into the cache, and `mlv snapshot --run` makes them private copies before the
command runs (as DVC removes a stage's outputs before `dvc repro` runs it). Root ignores a cache
object's read-only mode and would write into it; an ordinary user's run would fail on it. Both are
run here: the ordinary user through `setpriv`, in a folder that user owns.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, pinned_env
from tests.test_checkout_states import CONFIG

pytestmark = pytest.mark.slow

NOBODY = 65534  # an ordinary user every Linux has
# Python alone (an interpreter the ordinary user can run may lack PyYAML): writes in place.
TRAIN = """\
x = open("params.yaml").read().split(":")[1].strip()
with open("model.bin", "wb") as handle:
    handle.write(f"model trained with x={x}\\n".encode())
"""


def _interpreter(uid: int | None) -> str:
    """A Python that UID can run and find on disk (the test venv's may live in root's home)."""
    candidates = [sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3", "/usr/local/bin/python3"]
    for candidate in candidates:
        argv = [candidate, "-c", "import os, sys; sys.exit(not os.access(sys.executable, os.X_OK))"]
        if uid is not None:
            argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
        if subprocess.run(argv, capture_output=True, check=False).returncode == 0:
            return candidate
    raise AssertionError(f"no Python that uid {uid} can run among {candidates}")


class Project:
    """A project driven as USER (None: this process's user) through real git, dvc and mlv."""

    def __init__(self, root: Path, uid: int | None) -> None:
        self.root, self.uid = root, uid
        self.env = {**os.environ, **pinned_env(root.parent / "home")}

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        program = [argv[0] if argv[0] == "git" else str(Path(VENV_BIN) / argv[0]), *argv[1:]]
        if self.uid is not None:
            program = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", *program]
        proc = subprocess.run(program, cwd=self.root, env=self.env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A folder anyone may enter (pytest's tmp_path is root's own, closed to other users)."""
    path = Path(tempfile.mkdtemp(prefix="mlv-run-after-checkout-"))
    os.chmod(path, 0o755)  # noqa: S103 - the ordinary user must enter it
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _model_object(root: Path, commit: str, run: Project) -> Path:
    md5 = str(json.loads(run.run("mlv", "show", commit, "--json").stdout)["outputs"][0]["md5"])
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


@pytest.mark.parametrize("user", ["root", "ordinary"])
@pytest.mark.parametrize("cache_type", ["copy", "hardlink", "symlink", "reflink,copy"])
def test_a_run_after_a_checkout_never_writes_into_the_cache(workspace: Path, cache_type: str, user: str) -> None:
    root = workspace / "repo"
    (workspace / "home").mkdir()
    root.mkdir()
    project = Project(root, None if user == "root" else NOBODY)
    pinned_env(workspace / "home")  # writes the home's .gitconfig before the folder changes hands
    if user == "ordinary":
        for folder in (workspace / "home", root):
            subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(folder)], check=True)
    project.run("git", "init", "-q")
    project.run("dvc", "init", "-q")
    project.run("dvc", "config", "cache.type", cache_type)
    (root / "data").mkdir()
    for name, text in (("data/a.txt", "a\n"), ("params.yaml", "x: 1\n"), ("train.py", TRAIN)):
        (root / name).write_text(text)
    (root / ".mlv").mkdir()
    python = _interpreter(project.uid)
    command = f"{python} train.py"
    (root / ".mlv" / "config.yaml").write_text(CONFIG.replace("python train.py", command)
                                               .replace("python: python", f"python: {python}"))
    if user == "ordinary":
        subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(root)], check=True)

    project.run("mlv", "snapshot", "--run", command, "-m", "e1")
    e1 = project.run("git", "rev-parse", "HEAD").stdout.strip()
    (root / "params.yaml").write_text("x: 2\n")
    project.run("mlv", "snapshot", "--run", command, "-m", "e2")
    e1_object = _model_object(root, e1, project)
    e1_model = e1_object.read_bytes()

    project.run("mlv", "checkout", e1)
    project.run("git", "switch", "-q", "-c", "retry")
    (root / "params.yaml").write_text("x: 3\n")
    project.run("mlv", "snapshot", "--run", command, "-m", "e3")

    assert e1_object.read_bytes() == e1_model  # e1's object is untouched
    assert hashlib.md5(e1_model, usedforsecurity=False).hexdigest() == e1_object.parent.name + e1_object.name
    assert (root / "model.bin").read_text() == "model trained with x=3\n"
    record = json.loads(project.run("mlv", "show", "HEAD", "--json").stdout)
    assert [o["path"] for o in record["outputs"]] == ["model.bin"]  # fingerprinted like a file
    assert record["outputs"][0]["md5"] == hashlib.md5(b"model trained with x=3\n", usedforsecurity=False).hexdigest()
    project.run("mlv", "checkout", e1)  # no "corrupt cache file"
    assert (root / "model.bin").read_bytes() == e1_model
