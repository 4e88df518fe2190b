"""A repository for the report tests: three experiments, a hostile message, a model, drifted data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_template, derived_template, mlv

HOSTILE = ('<script>window.pwned=1</script> <img src=x onerror="window.pwned=2"> '
           '</script><script>window.pwned=3</script> \u2028 & \x1b[31m')


def _build(repo: Path) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("test_size: 0.25", "test_size: 0.3"))
    mlv(repo, "snapshot", "--run", "python train.py", "-m", HOSTILE)
    mlv(repo, "model", "register", "sample", "HEAD~1", "-m", "baseline")
    subprocess.run([sys.executable, "generate_data.py", "--shift", "0.8"], cwd=repo, check=True, capture_output=True)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "drifted data")


@pytest.fixture(scope="session", name="report_template")
def report_template_fixture(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _build)


@pytest.fixture(name="report_repo")
def report_repo_fixture(report_template: Path, tmp_path: Path) -> Path:
    """The sample project with three experiments (baseline, hostile message, drifted data) and sample@v0.0.1."""
    return copy_template(report_template, tmp_path / "repo")
