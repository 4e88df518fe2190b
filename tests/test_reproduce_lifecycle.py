"""Reproduce across process boundaries: killed runs are swept, saved re-runs are real records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import VENV_BIN, git, mlv, spawned


def _worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def test_a_killed_reproduce_leaves_a_worktree_the_next_one_removes(experiment_repo: Path) -> None:
    config = experiment_repo / ".mlv/config.yaml"
    config.write_text(config.read_text().replace(
        "command: python train.py",
        "command: python -c \"import time; time.sleep(120)\""))
    git(experiment_repo, "commit", "-qam", "slow command")
    mlv(experiment_repo, "snapshot", "-m", "slow")
    with spawned([str(Path(VENV_BIN) / "mlv"), "reproduce", "HEAD", "--yes"], experiment_repo,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        deadline = time.monotonic() + 60
        while len(_worktrees(experiment_repo)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_worktrees(experiment_repo)) == 2
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)  # no `finally` runs: the worktree is abandoned
        proc.wait(timeout=30)
    assert len(_worktrees(experiment_repo)) == 2
    verdict = mlv(experiment_repo, "reproduce", "HEAD~2", "--yes", "--json")
    assert json.loads(verdict.stdout)["verdict"] == "reproduced"
    assert len(_worktrees(experiment_repo)) == 1
    leftovers = list((experiment_repo / ".git/mlv/reproduce").glob("*/owner.pid"))
    assert leftovers == []


def test_save_records_the_rerun_as_run_by_mlv(experiment_repo: Path) -> None:
    result = json.loads(mlv(experiment_repo, "reproduce", "HEAD", "--yes", "--save", "--json").stdout)
    saved = json.loads(mlv(experiment_repo, "show", result["saved_commit"], "--json").stdout)
    assert saved["run_by_mlv"] is True
    assert saved["exit_code"] == 0
    assert saved["command"] == "python train.py"
    assert saved["reproduces"]["verdict"] == "reproduced"
    assert saved["reproduces"]["commit"] == git(experiment_repo, "rev-parse", "HEAD")
    assert git(experiment_repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
