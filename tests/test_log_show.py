"""`mlv log` and `mlv show`: the table, the JSON contract, and the schema in mlv/schemas/."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlv import api
from tests.conftest import REPO_ROOT, copy_template, derived_template, git, mlv
from tests.terminal_helpers import terminal_stdout

SCHEMA = json.loads((REPO_ROOT / "mlv/schemas/experiment.schema.json").read_text())


def _three_experiments(repo: Path) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("0.25", "0.3"))
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "hold out 30%")
    (repo / "README.md").write_text("not an experiment\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "docs only")
    mlv(repo, "snapshot", "-m", "as found")


@pytest.fixture(scope="session")
def _three_experiments_template(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _three_experiments)


@pytest.fixture
def three_experiments(_three_experiments_template: Path, tmp_path: Path) -> Path:
    """Baseline, a second training run, a plain commit, then a snapshot as found (built once, copied)."""
    return copy_template(_three_experiments_template, tmp_path / "repo")


def test_log_json_lists_experiments_newest_first_and_skips_plain_commits(three_experiments: Path) -> None:
    items = json.loads(mlv(three_experiments, "log", "--json").stdout)
    assert [i["message"] for i in items] == ["as found", "hold out 30%", "baseline"]
    for item in items:
        jsonschema.validate(item, SCHEMA)
        assert item["environment"]["packages"]["scikit-learn"]
    assert items[1]["params"]["params.yaml"]["train"]["test_size"] == 0.3


def test_log_limit(three_experiments: Path) -> None:
    items = json.loads(mlv(three_experiments, "log", "-n", "2", "--json").stdout)
    assert [i["message"] for i in items] == ["as found", "hold out 30%"]


def test_log_table_shows_sha_message_command_params_and_metrics(three_experiments: Path) -> None:
    out = mlv(three_experiments, "log", env=terminal_stdout(200)).stdout  # the table
    head = git(three_experiments, "rev-parse", "--short=10", "HEAD")
    assert head in out
    assert "hold out 30%" in out and "baseline" in out and "docs only" not in out
    assert "python train.py" in out
    assert "train.test_size=0.3" in out
    assert "mse=" in out


def test_log_in_a_repository_without_commits(sample_repo: Path) -> None:
    assert json.loads(mlv(sample_repo, "log", "--json").stdout) == []
    assert "no experiment commits yet" in mlv(sample_repo, "log").stderr


def test_show_json_matches_schema_and_defaults_to_head(three_experiments: Path) -> None:
    doc = json.loads(mlv(three_experiments, "show", "--json").stdout)
    jsonschema.validate(doc, SCHEMA)
    assert doc["commit"] == git(three_experiments, "rev-parse", "HEAD")
    older = json.loads(mlv(three_experiments, "show", "HEAD~2", "--json").stdout)
    assert older["message"] == "hold out 30%"


def test_show_text_lists_every_axis(three_experiments: Path) -> None:
    out = mlv(three_experiments, "show", "HEAD~2").stdout
    for expected in ("commit", "hold out 30%", "python train.py", "data      data", "outputs   models",
                     "param     params.yaml.train.test_size = 0.3", "metric    metrics.json.mse",
                     "lockfile  .mlv/env/requirements-"):
        assert expected in out


def test_python_api_matches_cli(three_experiments: Path) -> None:
    experiments = api.log(path=three_experiments)
    cli = json.loads(mlv(three_experiments, "log", "--json").stdout)
    assert [e.to_json() for e in experiments] == cli
    assert api.show("HEAD~2", path=three_experiments).message == "hold out 30%"


def test_a_nan_metric_is_null_in_json_output(experiment_repo: Path) -> None:
    (experiment_repo / "metrics.json").write_text('{"loss": NaN, "acc": 0.5}')
    mlv(experiment_repo, "snapshot", "-m", "diverged")
    doc = json.loads(mlv(experiment_repo, "show", "--json").stdout)  # strict JSON: no bare NaN
    assert doc["metrics"] == {"metrics.json": {"loss": None, "acc": 0.5}}
    assert "loss = nan" in mlv(experiment_repo, "show").stdout


def test_log_limit_stops_early_in_a_long_history(experiment_repo: Path) -> None:
    for number in range(3):
        (experiment_repo / "notes.txt").write_text(f"{number}\n")
        git(experiment_repo, "add", "notes.txt")
        git(experiment_repo, "commit", "-qm", f"plain {number}")
    mlv(experiment_repo, "snapshot", "-m", "second experiment")
    items = json.loads(mlv(experiment_repo, "log", "-n", "1", "--json").stdout)
    assert [i["message"] for i in items] == ["second experiment"]
    assert [i["message"] for i in json.loads(mlv(experiment_repo, "log", "--json").stdout)] == [
        "second experiment", "baseline"]
