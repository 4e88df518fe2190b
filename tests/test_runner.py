"""The experiment command's runner: exit codes and output, with and without a pidfd to wait on."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from mlv.snapshot import runner


def _refuse_pidfd(pid: int) -> int:
    raise OSError(38, "Function not implemented")


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polled"])
def test_exit_code_and_output_of_a_command_that_outlives_several_polls(
        pidfd: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    if not pidfd:
        monkeypatch.setattr(os, "pidfd_open", _refuse_pidfd, raising=False)  # as on a kernel older than 5.3
    result = runner.run_command("echo loss=0.5; sleep 0.5; exit 3", cwd=tmp_path)
    assert result.exit_code == 3 and result.duration_s >= 0.5
    assert dict(result.stdout_metrics) == {"loss": 0.5}
    assert capfd.readouterr().out == "loss=0.5\n"


def test_a_caller_holding_over_a_thousand_file_descriptors_can_run_a_command(tmp_path: Path) -> None:
    """select() cannot watch a descriptor numbered 1024 or more; the runner's wait must not care."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1100
    if soft < wanted + 50:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    held: list[int] = []
    try:
        while len(held) < wanted:
            held.append(os.open(os.devnull, os.O_RDONLY))
        assert max(held) >= 1024
        assert runner.run_command("exit 4", cwd=tmp_path).exit_code == 4
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
