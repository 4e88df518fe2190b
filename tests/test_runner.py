"""The experiment command's runner: exit codes and output, with and without a pidfd to wait on."""

from __future__ import annotations

import os
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
