"""Verdict causes from real re-runs: a script that prints a random number, a run with nothing to
compare, and `--runs N`. The pure comparisons behind each verdict are in test_verdict_corpus.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import git, mlv
from tests.reproduce_helpers import DETERMINISTIC_SCRIPT, RANDOM_SCRIPT, script_project


@pytest.mark.slow
def test_reproduce_of_a_script_that_only_prints_random_is_unverified_then_nondeterministic(repo: Path) -> None:
    (repo / "rand.py").write_text("import random\nprint(random.random())\n")
    mlv(repo, "init")
    git(repo, "add", "rand.py")
    mlv(repo, "snapshot", "--run", f"{sys.executable} rand.py", "-m", "random")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False)
    doc = json.loads(proc.stdout)
    # The printed number is the recorded stdout: the re-run prints another one.
    assert (doc["verdict"], doc["cause"], proc.returncode) == ("not_reproduced", "nondeterministic", 1)
    assert doc["stdout"]["status"] == "different"


@pytest.mark.slow
def test_a_rerun_with_nothing_to_compare_is_unverified_with_its_own_exit_code(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "quiet", "pass\n")
    (repo / ".mlv/config.yaml").write_text("version: 1\ndata: []\noutputs: []\nparams: [params.yaml]\n"
                                           "metrics: []\ncommand: python train.py\n")
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "quiet")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", check=False)
    assert proc.returncode == 5
    assert "verdict: unverified" in proc.stdout and "metrics: [metrics.json]" in proc.stdout
    doc = json.loads(mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False).stdout)
    assert (doc["verdict"], doc["cause"]) == ("unverified", None)


@pytest.mark.slow
def test_runs_reports_nondeterminism_and_the_metric_spread(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "rand", RANDOM_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "random")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--runs", "2", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["cause"] == "nondeterministic"
    runs = doc["runs"]
    assert runs["count"] == 2 and runs["deterministic"] is False and len(runs["verdicts"]) == 2
    score = next(m for m in runs["metrics"] if m["name"] == "score")
    assert score["min"] < score["max"] and score["min"] <= score["original"] <= score["max"]
    assert next(m for m in runs["metrics"] if m["name"] == "fixed")["min"] == 1.0


@pytest.mark.slow
def test_runs_of_a_deterministic_command(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "det", DETERMINISTIC_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "fixed")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--runs", "2")
    assert "runs: 2, deterministic (reproduced, reproduced)" in proc.stdout
    assert "score: min 0.5, max 0.5 (original 0.5)" in proc.stdout


def test_runs_must_be_positive_and_alone(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "det", DETERMINISTIC_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "fixed")
    for args, message in ((["--runs", "0"], "--runs must be at least 1"),
                          (["--runs", "2", "--save"], "--runs cannot be combined with --save")):
        proc = mlv(repo, "reproduce", "HEAD", "--yes", *args, check=False)
        assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1
