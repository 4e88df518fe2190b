"""Artifacts as DVC and GTO declare them: `mlv model get` on versions GTO registered, and DVC's own
`dvc artifacts get` on versions mlv registered."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, mlv

gto_api = pytest.importorskip("gto.api")


def _model_bytes(repo: Path) -> bytes:
    [model] = (repo / "models").iterdir()
    return model.read_bytes()


def test_mlv_model_get_takes_the_path_dvc_yaml_or_artifacts_yaml_declares(experiment_repo: Path,
                                                                          tmp_path: Path) -> None:
    repo = experiment_repo
    (repo / "dvc.yaml").write_text("artifacts:\n  churn:\n    path: models\n    type: model\n")
    (repo / "artifacts.yaml").write_text("iris:\n  path: models\n  type: model\n")
    git(repo, "add", "dvc.yaml", "artifacts.yaml")
    git(repo, "commit", "-qm", "declare the artifacts")
    gto_api.register(str(repo), "churn", "HEAD", version="v1.0.0")  # GTO's tags: no mlv metadata
    gto_api.register(str(repo), "iris", "HEAD", version="v1.0.0")
    for name in ("churn", "iris"):
        out = tmp_path / name
        mlv(repo, "model", "get", f"{name}@v1.0.0", "-o", str(out))
        [written] = (out / "models").iterdir()
        assert written.read_bytes() == _model_bytes(repo)


def test_a_gto_version_whose_commit_declares_nothing_is_one_line(experiment_repo: Path, tmp_path: Path) -> None:
    gto_api.register(str(experiment_repo), "churn", "HEAD", version="v1.0.0")
    result = mlv(experiment_repo, "model", "get", "churn@v1.0.0", "-o", str(tmp_path / "out"), check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: churn v1.0.0 names no artifact: its tag has no mlv metadata")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_dvc_artifacts_get_fetches_a_version_mlv_registered(experiment_repo: Path, tmp_path: Path) -> None:
    repo = experiment_repo
    first = mlv(repo, "model", "register", "churn")
    assert "declared churn (path models) in dvc.yaml `artifacts:`" in first.stderr + first.stdout
    assert "churn:\n    path: models\n    type: model" in (repo / "dvc.yaml").read_text()
    mlv(repo, "snapshot", "-m", "declare the model for DVC")  # dvc.yaml is the project's: committed
    assert "dvc.yaml" in git(repo, "ls-tree", "--name-only", "HEAD")
    mlv(repo, "model", "register", "churn")  # v0.0.2, on the commit that declares it
    out = tmp_path / "from-dvc"
    proc = subprocess.run(["dvc", "artifacts", "get", str(repo), "churn", "--rev", "v0.0.2", "-o", str(out)],
                          cwd=tmp_path, capture_output=True, text=True, check=False,
                          env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    assert proc.returncode == 0, proc.stderr
    [written] = out.iterdir()
    assert written.read_bytes() == _model_bytes(repo)
    # A second registration leaves the declaration as it is.
    before = (repo / "dvc.yaml").read_bytes()
    mlv(repo, "snapshot", "-m", "again", "--allow-empty")
    mlv(repo, "model", "register", "churn")
    assert (repo / "dvc.yaml").read_bytes() == before
