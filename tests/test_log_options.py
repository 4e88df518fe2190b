"""`mlv log` options: status labels, tags, --all, --sort, --filter, --params/--metrics, piped output."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mlv import api
from mlv.record import listing
from mlv.record.treecheck import Difference, TreeFacts
from tests.conftest import REPO_ROOT, copy_template, derived_template, git, mlv
from tests.terminal_helpers import terminal_stdout

SCHEMA = json.loads((REPO_ROOT / "mlv/schemas/experiment.schema.json").read_text())
LONG_MESSAGE = "a long message " + "word " * 40


def _history(repo: Path) -> None:
    """baseline (tagged, reproduced), 30% (sorted by mse), failed, as found, and one on branch `other`."""
    mlv(repo, "reproduce", "HEAD", "--yes", "--save")
    git(repo, "tag", "baseline-tag", "HEAD")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("0.25", "0.3"))
    mlv(repo, "snapshot", "--run", "python train.py", "-m", LONG_MESSAGE)
    mlv(repo, "snapshot", "--run", "python -c 'raise SystemExit(3)'", "--allow-failure", "-m", "crashed")
    (repo / "metrics.json").write_text('{"mse": 0.5, "r2": 0.1}')
    mlv(repo, "snapshot", "-m", "as found")
    git(repo, "switch", "-qc", "other", "HEAD~3")
    (repo / "metrics.json").write_text('{"mse": 0.01, "r2": 0.999}')
    mlv(repo, "snapshot", "-m", "on other")
    git(repo, "switch", "-q", "main")


@pytest.fixture(scope="session")
def _history_template(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _history)


@pytest.fixture
def history_repo(_history_template: Path, tmp_path: Path) -> Path:
    return copy_template(_history_template, tmp_path / "repo")


def _log(repo: Path, *args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(mlv(repo, "log", "--json", *args).stdout)
    for item in items:
        jsonschema.validate(item, SCHEMA)
    return items


def _messages(items: list[dict[str, Any]]) -> list[str]:
    return [i["message"].split()[0] for i in items]


def test_labels_and_tags(history_repo: Path) -> None:
    items = {i["message"].split()[0]: i for i in _log(history_repo)}
    assert items["as"]["labels"] == ["not_run_by_mlv"]
    assert items["crashed"]["labels"] == ["failed"]
    assert items["a"]["labels"] == []
    assert items["baseline"]["labels"] == ["reproduced"]  # the saved verdict, exactly
    assert items["baseline"]["tags"] == ["baseline-tag"]
    assert items["crashed"]["tags"] == []
    plain = mlv(history_repo, "log").stdout
    assert "failed" in plain and "not_run_by_mlv" in plain and "baseline-tag" in plain


def test_all_lists_every_branch_but_not_saved_reproductions(history_repo: Path) -> None:
    assert "on" not in _messages(_log(history_repo))
    every = _messages(_log(history_repo, "--all"))
    assert every.count("on") == 1 and every.count("baseline") == 1  # the re-run's branch is a label
    proc = mlv(history_repo, "log", "--all", "HEAD~1", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: --all")


def test_sort_ascending_descending_and_limit(history_repo: Path) -> None:
    by_mse = _log(history_repo, "--all", "--sort", "mse")
    # The failed run wrote no metrics (an earlier run's file is not recorded): it sorts last.
    values = [i["metrics"]["metrics.json"]["mse"] for i in by_mse if "metrics.json" in i["metrics"]]
    assert values == sorted(values) and _messages(by_mse)[0] == "on"
    assert "metrics.json" not in by_mse[-1]["metrics"] and _messages(by_mse)[-1] == "crashed"
    by_r2 = _log(history_repo, "--sort=-r2", "-n", "2")
    assert len(by_r2) == 2
    assert by_r2[0]["metrics"]["metrics.json"]["r2"] >= by_r2[1]["metrics"]["metrics.json"]["r2"]
    assert _messages(_log(history_repo, "--sort", "-mse"))[0] == "as"  # mse 0.5: the largest


def test_filter_conditions_and_together(history_repo: Path) -> None:
    assert _messages(_log(history_repo, "--filter", "mse>0.4")) == ["as"]
    assert _messages(_log(history_repo, "--filter", "mse<0.4,r2>0.9", "--filter", "test_size==0.25")) == [
        "baseline"]
    assert _log(history_repo, "--filter", "mse<0") == []
    assert "no experiment matches" in mlv(history_repo, "log", "--filter", "mse<0").stderr


@pytest.mark.parametrize("bad", ["mse<<1", "mse<abc", "__import__('os').system('true')<1", "mse<1;r2>0", ""])
def test_a_bad_filter_is_one_line_and_nothing_is_evaluated(history_repo: Path, bad: str) -> None:
    proc = mlv(history_repo, "log", "--filter", bad, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_unknown_and_ambiguous_names_list_the_candidates(history_repo: Path) -> None:
    proc = mlv(history_repo, "log", "--sort", "accuracy", check=False)
    assert proc.returncode == 1 and "Known: mse, r2" in proc.stderr
    proc = mlv(history_repo, "log", "--metrics", "test_size", check=False)  # a param, not a metric
    assert proc.returncode == 1 and "no listed experiment has a metric named 'test_size'" in proc.stderr


def test_params_and_metrics_choose_the_columns_and_a_pipe_gets_whole_values(history_repo: Path) -> None:
    out = mlv(history_repo, "log", "--metrics", "r2", "--params", "seed,test_size", env={"COLUMNS": "40"}).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0] == ["commit", "date", "status", "tags", "message", "command", "train.seed",
                       "train.test_size", "r2"]
    assert all(len(row) == len(rows[0]) for row in rows)
    assert [row[4] for row in rows if row[4].startswith("a long")] == [LONG_MESSAGE.rstrip()]  # not cut at 40
    repeated = mlv(history_repo, "log", "--metrics", "r2", "--metrics", "mse").stdout.splitlines()[0]
    assert repeated.endswith("\tr2\tmse")


def test_a_terminal_gets_a_table_with_status_and_tags(history_repo: Path) -> None:
    shown = mlv(history_repo, "log", env=terminal_stdout(160)).stdout
    out = re.sub(r"\x1b\[[0-9;]*m", "", shown)  # rich styles the header
    header = out.splitlines()[0].split()
    assert header[:4] == ["commit", "date", "status", "tags"]
    assert "reproduced" in out and "baseline-tag" in out


def test_the_python_api_filters_and_sorts_like_the_cli(history_repo: Path) -> None:
    found = api.log(path=history_repo, where="mse<0.4", sort="-mse", all_branches=True)
    cli = json.loads(mlv(history_repo, "log", "--json", "--all", "--filter", "mse<0.4", "--sort=-mse").stdout)
    assert [e.to_json() for e in found] == cli


def test_a_rewritten_experiment_is_labelled(history_repo: Path) -> None:
    exp = api.show("HEAD", path=history_repo)
    assert listing.REWRITTEN not in listing.labels_of(exp, None)
    # What history finds for a cherry-picked record: its tree is not the one it was made with.
    exp.tree = TreeFacts(exp.data, exp.outputs, exp.lockfiles_in_tree, [Difference("code", None, "a" * 40, "b" * 40)])
    assert exp.rewritten and listing.REWRITTEN in listing.labels_of(exp, None)
