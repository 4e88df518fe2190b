"""docs/ci/github-monitor.yml: schema-checked, zizmor-clean, and its mlv steps run as shell scripts
on a real repository and log: monitor flags a shift (exit 1), then export, retrain, gate against
prod, register and promote to staging, the new version's record naming the log it learned from."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mlv.record.history import show_experiment
from mlv.registry import actions
from tests.conftest import VENV_BIN, git
from tests.monitor_helpers import Traffic, write_labels_csv, write_traffic
from tests.test_ci_loop import DOCS_CI, Workflow, _ok

RECIPE = DOCS_CI / "github-monitor.yml"


def test_the_monitor_recipe_matches_the_schema_and_is_zizmor_clean() -> None:
    proc = subprocess.run([str(Path(VENV_BIN) / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(RECIPE)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zizmor = shutil.which("zizmor", path=VENV_BIN)
    assert zizmor, "zizmor is a dev dependency (pip install -e '.[dev]')"
    proc = subprocess.run([zizmor, "--offline", "--no-progress", str(RECIPE)], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.slow
def test_the_monitor_recipe_closes_the_loop(experiment_repo: Path, tmp_path: Path) -> None:
    repo = experiment_repo
    actions.register(repo, "churn", version="v0.0.1")
    actions.promote(repo, "churn", "v0.0.1", "prod")
    git(repo, "config", "user.name", "CI")
    git(repo, "config", "user.email", "ci@example.com")
    log = tmp_path / "predictions"
    _, table, y = write_traffic(log, "web-1-aaaa", 1, Traffic(rows=1000, seed=70, shift={"x1": 1.5, "x2": 1.5}))
    labels = write_labels_csv(tmp_path / "outcomes.csv", table.column("request_id").to_pylist()[:400], y[:400])
    subprocess.run([str(Path(VENV_BIN) / "mlv"), "monitor", "labels", "--log", str(log), str(labels)], cwd=repo,
                   check=True, capture_output=True)
    summary = tmp_path / "summary.md"
    flow = Workflow(RECIPE.name, repo, {"MODEL": "churn", "LOG": str(log), "GITHUB_STEP_SUMMARY": str(summary)})
    _ok(flow.run("monitor"))
    assert flow.outputs["monitor"] == {"degraded": "true"}
    assert "## mlv monitor: degraded" in summary.read_text() and "data_health: fail" in summary.read_text()
    _ok(flow.run("export"))
    _ok(flow.run("retrain"))
    _ok(flow.run("gate"))
    _ok(flow.run("register"))
    version = flow.outputs["register"]["version"]
    assert version == "v0.0.2"
    shown = json.loads(subprocess.run([str(Path(VENV_BIN) / "mlv"), "model", "show", "churn#staging", "--json"],
                                      cwd=repo, check=True, capture_output=True, text=True).stdout)
    assert shown["version"] == "v0.0.2"
    (entry,) = show_experiment(repo, "churn@v0.0.2").record.lineage or []
    assert entry["path"] == "data/production.csv" and entry["source"]["log"] == str(log)
    assert [(m["model"], m["version"], m["rows"]) for m in entry["source"]["models"]] == [("churn", "v0.0.1", 400)]
