"""`mlv diff A B C ...`: one table of params and metrics for three or more experiments."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import copy_template, derived_template, git, mlv
from tests.terminal_helpers import terminal_stdout


def _four(repo: Path) -> None:
    for size, mse in (("0.3", 0.2), ("0.35", 0.05)):
        params = repo / "params.yaml"
        params.write_text(re.sub(r"test_size: [0-9.]+", f"test_size: {size}", params.read_text()))
        (repo / "metrics.json").write_text(json.dumps({"mse": mse, "r2": 0.9}))
        mlv(repo, "snapshot", "-m", f"size {size}")
    (repo / "notes.md").write_text("plain\n")
    git(repo, "add", "notes.md")
    git(repo, "commit", "-qm", "plain commit")


@pytest.fixture(scope="session")
def _four_template(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _four)


@pytest.fixture
def four(_four_template: Path, tmp_path: Path) -> Path:
    """baseline, size 0.3 (mse 0.2), size 0.35 (mse 0.05), then a plain commit."""
    return copy_template(_four_template, tmp_path / "repo")


def test_json_has_one_entry_per_revision_and_the_changed_keys(four: Path) -> None:
    doc = json.loads(mlv(four, "diff", "HEAD~3", "HEAD~2", "HEAD~1", "HEAD", "--json").stdout)
    assert doc["schema_version"] == 1
    rows = doc["experiments"]
    assert [r["label"] for r in rows] == ["HEAD~3", "HEAD~2", "HEAD~1", "HEAD"]
    assert [r["has_record"] for r in rows] == [True, True, True, False]
    assert rows[3]["params"] == {} and rows[3]["command"] is None
    assert [r["params"].get("train.test_size") for r in rows[:3]] == [0.25, 0.3, 0.35]
    assert rows[2]["metrics"] == {"mse": 0.05, "r2": 0.9}
    assert doc["changed_params"] == ["train.test_size"]
    assert "mse" in doc["changed_metrics"] and rows[0]["commit"] == git(four, "rev-parse", "HEAD~3")


def test_piped_table_has_a_row_per_experiment_and_a_column_per_changed_param(four: Path) -> None:
    out = mlv(four, "diff", "HEAD~3", "HEAD~2", "HEAD~1").stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0][:3] == ["experiment", "message", "train.test_size"] and "mse" in rows[0]
    assert [r[0] for r in rows[1:]] == ["HEAD~3", "HEAD~2", "HEAD~1"]
    assert rows[3][rows[0].index("mse")] == "0.05"


def test_the_terminal_table_marks_the_best_metric_and_lists_what_is_the_same(four: Path) -> None:
    out = mlv(four, "diff", "HEAD~3", "HEAD~2", "HEAD~1", env=terminal_stdout(160)).stdout
    assert "\x1b[1;32m0.05" in out  # the lowest mse, in bold green
    assert "same in all: train.seed=42" in re.sub(r"\x1b\[[0-9;]*m", "", out)


@pytest.mark.parametrize("extra", ["--workspace", "--md"])
def test_two_sided_options_are_refused_with_many_revisions(four: Path, extra: str) -> None:
    proc = mlv(four, "diff", "HEAD~2", "HEAD~1", "HEAD", extra, check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(f"error: {extra}") and "Traceback" not in proc.stderr


def test_an_unknown_revision_is_one_line(four: Path) -> None:
    proc = mlv(four, "diff", "HEAD", "HEAD~1", "no-such-rev", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: ") and "no-such-rev" in proc.stderr
