"""Issue 2's bad inputs and faults: one line on stderr, a documented exit code, nothing lost."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mlv.errors import EXIT_USER_ERROR, failure
from tests.conftest import VENV_BIN, git, mlv, spawned, tree_fingerprint
from tests.permission_helpers import mlv_denied_writes


def _state(repo: Path) -> tuple[str, str, dict[str, tuple[str, bytes]], str]:
    """HEAD, status, every work-tree file and the index entries: what a refused snapshot keeps."""
    head = git(repo, "rev-parse", "-q", "--verify", "HEAD") if _has_commits(repo) else ""
    files = tree_fingerprint(repo, include_dvc_cache=False)
    return head, git(repo, "status", "--porcelain"), files, git(repo, "ls-files", "--stage")


def _has_commits(repo: Path) -> bool:
    return subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=repo,
                          capture_output=True, check=False).returncode == 0


def _assert_refused(repo: Path, args: list[str], code: int, text: str) -> None:
    before = _state(repo)
    result = mlv(repo, *args, check=False)
    assert result.returncode == code, result.stderr
    assert text in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert _state(repo) == before


def test_not_a_git_repository(tmp_path: Path) -> None:
    result = mlv(tmp_path, "snapshot", check=False)
    assert result.returncode == 1
    assert "not inside a git repository" in result.stderr
    assert result.stderr.count("\n") == 1


def test_git_not_installed(experiment_repo: Path) -> None:
    before = tree_fingerprint(experiment_repo)
    result = mlv(experiment_repo, "snapshot", check=False, env={"PATH": VENV_BIN})
    assert result.returncode == 1
    assert "git is not installed" in result.stderr
    assert tree_fingerprint(experiment_repo) == before


def test_not_an_mlv_project(repo: Path) -> None:
    (repo / "x.py").write_text("x = 1\n")
    _assert_refused(repo, ["snapshot"], 1, "not an mlv project")


def test_configured_data_path_missing(experiment_repo: Path) -> None:
    config = experiment_repo / ".mlv/config.yaml"
    config.write_text(config.read_text().replace("- data\n", "- data\n- extra_data\n", 1))
    _assert_refused(experiment_repo, ["snapshot"], 1, "data path 'extra_data' does not exist")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (".mlv/config.yaml", "data: [unclosed\n", ".mlv/config.yaml is not valid YAML"),
        (".mlv/config.yaml", "data: 5\n", "`data` must be a list of paths"),
        (".mlv/config.yaml", "data: [../outside]\n", "points outside the repository"),
        (".mlv/config.yaml", "data: [/etc]\n", "must be a path relative to the repository root"),
        ("params.yaml", "train: [1, 2\n", "params file 'params.yaml' cannot be parsed"),
        ("metrics.json", "{not json", "metrics file 'metrics.json' cannot be parsed"),
    ],
)
def test_malformed_files(experiment_repo: Path, name: str, content: str, expected: str) -> None:
    (experiment_repo / name).write_text(content)
    _assert_refused(experiment_repo, ["snapshot"], 1, expected)


def test_command_not_found(experiment_repo: Path) -> None:
    _assert_refused(experiment_repo, ["snapshot", "--run", "no-such-tool --flag"], 1,
                    "command not found: no-such-tool")


def test_detached_head(experiment_repo: Path) -> None:
    git(experiment_repo, "checkout", "-q", "--detach")
    _assert_refused(experiment_repo, ["snapshot"], 1, "HEAD is detached")


def _conflicting_branches(repo: Path) -> None:
    """`side` and `main` both change train.py's one line: merging or rebasing stops half-way."""
    git(repo, "switch", "-q", "-c", "side")
    (repo / "train.py").write_text("print('side')\n")
    git(repo, "commit", "-qam", "side")
    git(repo, "switch", "-q", "main")
    (repo / "train.py").write_text("print('main')\n")
    git(repo, "commit", "-qam", "main")


def test_merge_in_progress(experiment_repo: Path) -> None:
    _conflicting_branches(experiment_repo)
    subprocess.run(["git", "merge", "side"], cwd=experiment_repo, capture_output=True, check=False)
    _assert_refused(experiment_repo, ["snapshot"], 1, "a merge is in progress")


def test_rebase_in_progress(experiment_repo: Path) -> None:
    _conflicting_branches(experiment_repo)
    git(experiment_repo, "switch", "-q", "side")
    subprocess.run(["git", "rebase", "main"], cwd=experiment_repo, capture_output=True, check=False)
    _assert_refused(experiment_repo, ["snapshot"], 1, "a rebase is in progress")


def test_large_code_file_refused_with_hint(experiment_repo: Path) -> None:
    with open(experiment_repo / "weights.bin", "wb") as handle:
        handle.truncate(11 * 1024 * 1024)
    _assert_refused(experiment_repo, ["snapshot", "--include-untracked"], 1,
                    "weights.bin is 11 MiB, too large to commit")
    result = mlv(experiment_repo, "snapshot", "--include-untracked", check=False)
    assert "add 'weights.bin' to `data` or `outputs`" in result.stderr
    # Untracked and not asked for, it is left out (and named), not refused.
    left_out = mlv(experiment_repo, "snapshot", "--allow-empty")
    assert "left out of the commit (untracked): weights.bin" in left_out.stderr
    assert "weights.bin" not in git(experiment_repo, "ls-tree", "-r", "--name-only", "HEAD")


def test_show_of_a_commit_that_is_not_an_experiment(experiment_repo: Path) -> None:
    (experiment_repo / "notes.md").write_text("plain commit\n")
    git(experiment_repo, "add", "notes.md")
    git(experiment_repo, "commit", "-qm", "plain")
    # Not refused: a plain commit (a revert, a merge) is shown as its tree describes it.
    result = mlv(experiment_repo, "show")
    assert "is not an mlv experiment commit; what its tree holds:" in result.stdout
    assert "param     params.yaml.train.test_size = 0.25" in result.stdout
    assert json.loads(mlv(experiment_repo, "show", "--json").stdout)["status"] == "plain"


def test_unknown_revision(experiment_repo: Path) -> None:
    result = mlv(experiment_repo, "show", "no-such-branch", check=False)
    assert result.returncode == 1
    assert "unknown revision 'no-such-branch'" in result.stderr


def test_unexpected_error_exits_3_with_traceback_hint(experiment_repo: Path) -> None:
    # mlv keeps private state in .git/mlv; a file in its place is a fault no message anticipates.
    state = experiment_repo / ".git/mlv"
    subprocess.run(["rm", "-rf", str(state)], check=True)
    state.write_text("in the way\n")
    result = mlv(experiment_repo, "snapshot", check=False)
    assert result.returncode == 3
    assert "a bug in mlv; rerun with MLV_DEBUG=1 to see the traceback" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = mlv(experiment_repo, "--traceback", "snapshot", check=False)
    assert verbose.returncode == 3
    assert "Traceback (most recent call last)" in verbose.stderr
    debug = mlv(experiment_repo, "snapshot", check=False, env={"MLV_DEBUG": "1"})
    assert debug.returncode == 3
    assert "Traceback (most recent call last)" in debug.stderr and "a bug in mlv" in debug.stderr


def test_a_cache_mlv_may_not_write_is_one_line_naming_it(experiment_repo: Path) -> None:
    """EACCES from the machine (a shared DVC cache owned by someone else) is not a bug in mlv:
    exit 1 and one line that names the path and says what to do. An audit hook refuses the writes,
    so the test holds as root (which writes through permission bits)."""
    repo = experiment_repo
    cache = repo / ".dvc/cache"
    (repo / "data/more.csv").write_text("x1,x2,x3,x4,y\n1,2,3,4,5\n")
    before = _state(repo)
    result = mlv_denied_writes(repo, cache, "snapshot", "-m", "refused")
    assert result.returncode == 1, result.stderr
    assert re.fullmatch(rf"error: Permission denied: {re.escape(str(cache))}/files/md5/[0-9a-f]{{2}}\. "
                        r"Check the permissions of that path, then run the command again\.\n", result.stderr)
    assert _state(repo) == before


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_permission_errors_are_one_line_with_the_path(code: int) -> None:
    exc = PermissionError(code, os.strerror(code), "/srv/shared/cache")
    assert failure(exc) == (
        EXIT_USER_ERROR, f"error: {os.strerror(code)}: /srv/shared/cache. "
                         "Check the permissions of that path, then run the command again.")


def test_ctrl_c_during_the_run_leaves_no_commit(experiment_repo: Path) -> None:
    before = _state(experiment_repo)
    with spawned(
        [str(Path(VENV_BIN) / "mlv"), "snapshot", "--run",
         "python -c \"import signal, sys, time; signal.signal(signal.SIGINT, lambda *a: sys.exit(130)); "
         "open('started', 'w').close(); time.sleep(60)\""],
        experiment_repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:
        deadline = time.monotonic() + 30
        while not (experiment_repo / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole group
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in stderr
    assert "Traceback" not in stderr
    (experiment_repo / "started").unlink()
    assert _state(experiment_repo) == before


@pytest.mark.parametrize("point", ["before-publish", "before-ref-update"])
def test_killed_before_the_commit_point_leaves_repo_as_it_was(experiment_repo: Path, point: str) -> None:
    (experiment_repo / "new_feature.py").write_text("F = 1\n")
    git(experiment_repo, "add", "new_feature.py")
    (experiment_repo / "data/extra.csv").write_text("a\n1\n")
    before = _state(experiment_repo)
    result = mlv(experiment_repo, "snapshot", "-m", "killed", check=False, env={"MLV_TEST_CRASH_AT": point})
    assert result.returncode == -signal.SIGKILL
    assert _state(experiment_repo) == before
    # The next command notices the abandoned journal, if any, and the repository stays as it was.
    mlv(experiment_repo, "log")
    assert _state(experiment_repo) == before
    mlv(experiment_repo, "snapshot", "-m", "after the crash")
    assert git(experiment_repo, "status", "--porcelain") == ""


@pytest.mark.parametrize("point", ["after-ref-update", "after-work-tree"])
def test_killed_after_the_commit_point_is_completed(experiment_repo: Path, point: str) -> None:
    (experiment_repo / "data/extra.csv").write_text("a\n1\n")
    head = git(experiment_repo, "rev-parse", "HEAD")
    result = mlv(experiment_repo, "snapshot", "-m", "killed late", check=False,
                 env={"MLV_TEST_CRASH_AT": point})
    assert result.returncode == -signal.SIGKILL
    new_head = git(experiment_repo, "rev-parse", "HEAD")
    assert new_head != head
    log = mlv(experiment_repo, "log", "--json")
    assert "completed an interrupted snapshot" in log.stderr
    assert git(experiment_repo, "status", "--porcelain") == ""
    committed = git(experiment_repo, "show", "HEAD:data.dvc")
    assert (experiment_repo / "data.dvc").read_text().strip() == committed
    assert not (experiment_repo / ".git/mlv/publish-journal.json").exists()
