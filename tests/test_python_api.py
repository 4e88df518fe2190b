"""`import mlv`: the lazy top-level API and the metrics helper a training script uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlv
from mlv.errors import MlvError
from tests.conftest import REPO_ROOT, git
from tests.conftest import mlv as run_mlv  # `mlv` is the package under test


def test_import_mlv_loads_nothing_until_used() -> None:
    code = ("import sys, mlv; "
            "loaded = [m for m in sys.modules if m.startswith('mlv.') or m in ('git', 'yaml', 'dvc')]; "
            "print(','.join(loaded)); mlv.log_metric; print('mlv.api' in sys.modules, 'yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO_ROOT).stdout.splitlines()
    assert out == ["", "False False"]  # log_metric needs neither git code nor a YAML parser


def test_top_level_names_are_the_api_functions() -> None:
    assert mlv.log is mlv.api.log and mlv.status is mlv.api.status and mlv.show is mlv.api.show
    assert {"log", "show", "status", "init", "log_metric", "log_metrics", "api"} <= set(dir(mlv))
    with pytest.raises(AttributeError):
        _ = mlv.no_such_function


def test_log_metric_writes_and_updates_the_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    mlv.log_metric("mse", 0.25, path=target)
    doc = mlv.log_metrics({"r2": 0.9, "n_train": 1500, "val": {"mse": 0.3}}, path=target)
    assert doc == json.loads(target.read_text()) == {"mse": 0.25, "r2": 0.9, "n_train": 1500, "val": {"mse": 0.3}}
    mlv.log_metric("mse", 0.2, path=target)
    assert json.loads(target.read_text())["mse"] == 0.2
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary file left behind
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def test_numpy_scalars_become_plain_numbers(tmp_path: Path) -> None:
    numpy = pytest.importorskip("numpy")  # scikit-learn's dependency, installed with the sample project
    mlv.log_metrics({"a": numpy.float32(0.5), "b": numpy.int64(3)}, path=tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 0.5, "b": 3}


@pytest.mark.parametrize(("content", "words"), [("[1, 2]", "not an object"), ("{broken", "not valid JSON")])
def test_an_unreadable_metrics_file_is_refused_and_left_alone(tmp_path: Path, content: str, words: str) -> None:
    target = tmp_path / "metrics.json"
    target.write_text(content)
    with pytest.raises(MlvError, match=words):
        mlv.log_metric("mse", 0.1, path=target)
    assert target.read_text() == content


@pytest.mark.parametrize("value", ["0.1", [0.1], object(), None, True, False, {"val": None}])
def test_a_value_that_is_not_a_number_is_a_type_error(tmp_path: Path, value: object) -> None:
    with pytest.raises(TypeError, match="must be a number"):
        mlv.log_metric("mse", value, path=tmp_path / "metrics.json")
    assert not (tmp_path / "metrics.json").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), {"val": float("nan")}])
def test_a_number_json_cannot_hold_is_a_value_error_and_the_file_stays_json(tmp_path: Path, value: object) -> None:
    target = tmp_path / "metrics.json"
    mlv.log_metric("r2", 0.5, path=target)
    with pytest.raises(ValueError, match="JSON cannot hold"):
        mlv.log_metric("mse", value, path=target)
    assert json.loads(target.read_text()) == {"r2": 0.5}


def test_a_bare_nan_left_by_an_older_file_is_written_back_as_null(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text('{"loss": NaN}')
    mlv.log_metric("mse", 0.1, path=target)
    assert json.loads(target.read_text(), parse_constant=lambda name: pytest.fail(f"{name} written")) == {
        "loss": None, "mse": 0.1}


def test_a_training_script_logs_metrics_and_snapshot_records_them(experiment_repo: Path) -> None:
    sample_repo = experiment_repo
    (sample_repo / "train_api.py").write_text("import mlv\nmlv.log_metric('mse', 0.125)\nmlv.log_metric('r2', 0.5)\n")
    git(sample_repo, "add", "train_api.py")
    env = {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    run_mlv(sample_repo, "snapshot", "--run", "python train_api.py", "-m", "via the API", env=env)
    experiment = mlv.show(path=sample_repo)
    assert experiment.record.metrics == {"metrics.json": {"mse": 0.125, "r2": 0.5, "n_train": 1500}}
    status = mlv.status(path=sample_repo)
    assert status.changes is not None, status.changes_error
    assert not status.changes.metrics.changed and not status.changes.code.changed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
