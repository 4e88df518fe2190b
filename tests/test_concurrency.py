"""Two mlv commands at once: the repository lock makes the second wait or refuse, never interleave."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mlv.adapters import dvc
from tests.conftest import VENV_BIN, forked_launchers, git, mlv, spawned


def _start(repo: Path, *args: str, env: dict[str, str] | None = None, forked: bool = False) -> subprocess.Popen[str]:
    """mlv ARGS in the background: the executable, or with FORKED a launcher of the fork server
    (a process of its own all the same, whose pid is not the launcher's)."""
    folder = (forked_launchers() if forked else None) or Path(VENV_BIN)
    return subprocess.Popen([str(folder / "mlv"), *args], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _record(repo: Path, sha: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(mlv(repo, "show", sha, "--json").stdout)
    return doc


def _assert_commit_consistent(repo: Path, sha: str) -> None:
    """The record of SHA describes SHA's own tree: its pointers and its lockfile."""
    rec = _record(repo, sha)
    for item in [*rec["data"], *rec["outputs"]]:  # type: ignore[misc]
        pointer_file = dvc.pointer_path(item["path"])
        blob = git(repo, "show", f"{sha}:{pointer_file}")
        assert dvc.parse_pointer(blob.encode(), pointer_file).md5 == item["md5"], (sha, item["path"])
    lockfile = rec["environment"]["lockfile"]  # type: ignore[index]
    assert git(repo, "cat-file", "-t", f"{sha}:{lockfile}") == "blob", sha


def test_concurrent_snapshots_never_interleave(experiment_repo: Path) -> None:
    repo = experiment_repo
    first = git(repo, "rev-parse", "HEAD")
    # Each run changes the data, so a record that took the other run's pointers would show.
    command = f"{sys.executable} -c \"import os; open('data/run.txt', 'w').write(str(os.getpid()))\" && python train.py"
    for _ in range(5):
        procs = [_start(repo, "snapshot", "--run", command, forked=True) for _ in range(2)]
        for proc in procs:
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode in (0, 1), stderr
            assert "Traceback" not in stderr
            if proc.returncode == 1:
                assert stderr.startswith("error: another mlv command is running (pid "), stderr
                assert stderr.count("\n") == 1, stderr
    commits = git(repo, "rev-list", f"{first}..HEAD").split()
    assert commits
    for sha in commits:
        _assert_commit_consistent(repo, sha)
    assert not (repo / ".git" / "mlv" / "publish-journal.json").exists()
    assert subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=repo, check=False).returncode == 0
    assert git(repo, "status", "--porcelain") == ""


def test_a_second_command_refuses_after_a_short_wait_naming_the_first(experiment_repo: Path) -> None:
    repo = experiment_repo
    first = _start(repo, "snapshot", "--run", "sleep 3 && python train.py")
    time.sleep(1.0)
    try:
        proc = mlv(repo, "snapshot", "-m", "second", check=False, env={"MLV_LOCK_WAIT": "0.2"})
        assert proc.returncode == 1
        assert proc.stderr.startswith(f"error: another mlv command is running (pid {first.pid}): mlv snapshot --run")
        assert proc.stderr.count("\n") == 1
        # A command that only reads is not held up, and its recovery leaves the live run alone.
        assert mlv(repo, "log").returncode == 0
    finally:
        first.communicate(timeout=300)
    assert first.returncode == 0
    waited = mlv(repo, "snapshot", "-m", "after")  # the lock went with the first process
    assert waited.returncode == 0


def test_a_killed_holder_leaves_no_lock(experiment_repo: Path) -> None:
    repo = experiment_repo
    with spawned([str(Path(VENV_BIN) / "mlv"), "snapshot", "--run", "sleep 30"], repo,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        time.sleep(1.5)
        proc.kill()  # mlv alone: its command, in a process group of its own, lives on
        proc.wait(timeout=60)
        # The lock died with mlv, though the command it started still runs (it holds no lock).
        assert mlv(repo, "snapshot", "-m", "next", env={"MLV_LOCK_WAIT": "0"}).returncode == 0


def test_recovery_leaves_a_live_journal_alone(experiment_repo: Path) -> None:
    """A journal whose snapshot still holds the lock is live: another command must not act on it."""
    from mlv import locking

    repo = experiment_repo
    journal = repo / ".git" / "mlv" / "publish-journal.json"
    index = repo / ".git" / "mlv-snapshot.index"
    index.write_bytes(b"prepared")
    journal.write_text(json.dumps({"commit": "0" * 40, "ref": "refs/heads/main", "old": None,
                                   "index_file": str(index), "writes": {}, "deletes": []}))
    with locking.repository_lock(repo):  # this test process plays the running snapshot
        holder = subprocess.run([sys.executable, "-c", "from pathlib import Path; from mlv.snapshot import publish; "
                                 f"print(publish.recover(Path({str(repo)!r})))"],
                                capture_output=True, text=True, check=True)
        assert holder.stdout.strip() == "None"
        assert journal.exists() and index.exists()
    assert "discarded an interrupted snapshot" in mlv(repo, "log").stderr
    assert not journal.exists()


def test_git_add_during_a_snapshot_is_kept(experiment_repo: Path) -> None:
    """The snapshot's pre-commit hook stands in for a user running `git add` mid-snapshot."""
    repo = experiment_repo
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "scratch.txt\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore scratch")
    (repo / "scratch.txt").write_text("kept\n")
    (repo / "notes.md").write_text("v1\n")
    git(repo, "add", "notes.md")
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nunset GIT_INDEX_FILE\necho v2 > notes.md\n"
                    "git add notes.md && git add -f scratch.txt\n")
    hook.chmod(0o755)
    mlv(repo, "snapshot", "-m", "with notes")
    hook.unlink()
    assert git(repo, "show", "HEAD:notes.md") == "v1"  # committed as it was when staged
    staged = git(repo, "diff", "--cached", "--name-only").split()
    assert staged == ["notes.md", "scratch.txt"]  # the user's later staging survived
    assert git(repo, "show", ":notes.md") == "v2"
    assert git(repo, "diff", "--cached", "--quiet", "--", ".mlv", "data.dvc", "models.dvc") == ""
