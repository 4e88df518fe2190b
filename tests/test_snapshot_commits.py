"""What a snapshot commits: tracked changes and the project's files; untracked files only on
request; never a secret; and `--dry-run` says exactly what it would do while changing nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlv.errors import EXIT_USAGE
from tests.conftest import git, mlv, tree_fingerprint

KEY_LINE = "API_KEY=9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c\n"


def _committed(repo: Path, rev: str = "HEAD") -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", rev).splitlines()


def _state(repo: Path) -> tuple[object, ...]:
    """HEAD, every ref, the index's bytes and every work-tree file (DVC's cache included)."""
    index = (repo / ".git/index").read_bytes()
    return git(repo, "rev-parse", "HEAD"), git(repo, "for-each-ref"), index, tree_fingerprint(repo)


def test_untracked_files_are_listed_and_left_out(experiment_repo: Path) -> None:
    (experiment_repo / "report.html").write_text("<p>report</p>\n")
    (experiment_repo / "dist").mkdir()
    (experiment_repo / "dist/pkg.whl").write_bytes(b"wheel")
    (experiment_repo / "requirements-dev.txt").write_text("pytest\n")  # a project lockfile: the record pins it
    result = mlv(experiment_repo, "snapshot", "-m", "left out", "--allow-empty", "--json")
    warnings = json.loads(result.stdout)["warnings"]
    assert ("left out of the commit (untracked): dist/pkg.whl, report.html; `git add` what belongs to the "
            "experiment, or pass --include-untracked") in warnings
    files = _committed(experiment_repo)
    assert "report.html" not in files and "dist/pkg.whl" not in files
    assert "requirements-dev.txt" in files
    assert (experiment_repo / "report.html").read_text() == "<p>report</p>\n"
    assert git(experiment_repo, "status", "--porcelain", "--", "report.html", "dist") == "?? dist/\n?? report.html"


def test_include_untracked_option_and_setting_commit_them(experiment_repo: Path) -> None:
    (experiment_repo / "features.py").write_text("X = 1\n")
    mlv(experiment_repo, "snapshot", "-m", "with features", "--include-untracked")
    assert "features.py" in _committed(experiment_repo)

    config = experiment_repo / ".mlv/config.yaml"
    config.write_text(config.read_text() + "snapshot:\n  include_untracked: true\n")
    (experiment_repo / "more.py").write_text("Y = 2\n")
    mlv(experiment_repo, "snapshot", "-m", "with more")
    assert "more.py" in _committed(experiment_repo)


def test_a_bad_snapshot_setting_is_one_line(experiment_repo: Path) -> None:
    config = experiment_repo / ".mlv/config.yaml"
    config.write_text(config.read_text() + "snapshot:\n  include_untracked: maybe\n")
    result = mlv(experiment_repo, "snapshot", "--allow-empty", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: .mlv/config.yaml: `snapshot.include_untracked` must be true or false."]


def test_a_key_in_env_file_refuses_the_snapshot_with_file_line_and_kind(experiment_repo: Path) -> None:
    (experiment_repo / ".env").write_text("DEBUG=1\n" + KEY_LINE)
    head = git(experiment_repo, "rev-parse", "HEAD")
    result = mlv(experiment_repo, "snapshot", "--include-untracked", "-m", "leak", check=False)
    assert result.returncode == 1
    assert "refusing to commit what looks like a secret: .env:2 (Secret Keyword); nothing was committed" \
        in result.stderr
    assert "--allow-secret .env" in result.stderr
    assert "Traceback" not in result.stderr
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    # Left out by default, the file is not scanned and the snapshot goes through.
    mlv(experiment_repo, "snapshot", "-m", "no leak", "--allow-empty")
    assert ".env" not in _committed(experiment_repo)
    # Accepted by name, it is committed.
    mlv(experiment_repo, "snapshot", "--include-untracked", "--allow-secret", ".env", "-m", "accepted")
    assert ".env" in _committed(experiment_repo)


def test_a_key_in_a_tracked_file_is_refused(experiment_repo: Path) -> None:
    (experiment_repo / "train.py").write_text((experiment_repo / "train.py").read_text()
                                              + 'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"\n')
    result = mlv(experiment_repo, "snapshot", "-m", "leak", check=False)
    assert result.returncode == 1
    assert "train.py:" in result.stderr and "(AWS Access Key)" in result.stderr


def test_dry_run_prints_the_plan_and_changes_nothing(experiment_repo: Path) -> None:
    (experiment_repo / "params.yaml").write_text("train:\n  test_size: 0.3\n  seed: 42\n  fit_intercept: true\n")
    (experiment_repo / "data/extra.csv").write_text("a\n1\n")
    (experiment_repo / "notes.txt").write_text("mine\n")
    before = _state(experiment_repo)
    result = mlv(experiment_repo, "snapshot", "--dry-run", "-m", "planned")
    assert _state(experiment_repo) == before
    out = result.stdout
    assert out.startswith("dry run: nothing was changed\nwould commit:\n")
    assert "  M  params.yaml\n" in out and "  M  data.dvc\n" in out
    assert "left out (untracked; `git add` them or pass --include-untracked):\n  notes.txt\n" in out
    assert "would record:" in out and "train.test_size=0.3" in out

    plan = json.loads(mlv(experiment_repo, "snapshot", "--dry-run", "--json").stdout)
    assert _state(experiment_repo) == before
    assert {"status": "M", "path": "params.yaml"} in plan["would_commit"]
    assert plan["left_out"] == ["notes.txt"]
    assert plan["record"]["params"]["params.yaml"]["train"]["test_size"] == 0.3

    # What it announced is what the snapshot then commits.
    made = json.loads(mlv(experiment_repo, "snapshot", "-m", "planned", "--json").stdout)
    changed = git(experiment_repo, "diff", "--name-only", f"{made['commit']}~1", made["commit"]).splitlines()
    assert sorted(changed) == sorted(item["path"] for item in plan["would_commit"])
    assert made["record"]["data"] == plan["record"]["data"]


def test_dry_run_with_run_and_an_empty_run_are_usage_errors(experiment_repo: Path) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    for args, words in ((["--dry-run", "--run", "python train.py"], "--dry-run cannot be combined with --run"),
                        (["--run", ""], "--run needs a command"), (["--run", "  "], "--run needs a command")):
        result = mlv(experiment_repo, "snapshot", *args, check=False)
        assert result.returncode == EXIT_USAGE, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr
    assert git(experiment_repo, "rev-parse", "HEAD") == head


def test_a_same_size_edit_in_the_same_instant_as_the_index_is_committed(experiment_repo: Path) -> None:
    """git re-reads an entry written in the same instant as its index ("racily clean"); a snapshot
    stages on a copy of the index, which must keep that instant, or the edit is missed."""
    params = experiment_repo / "params.yaml"
    git(experiment_repo, "add", "params.yaml")  # the index now holds params.yaml's current stat
    index = experiment_repo / ".git/index"
    instant = params.stat().st_mtime_ns
    params.write_text(params.read_text().replace("seed: 42", "seed: 43"))  # the same size
    os.utime(params, ns=(instant, instant))
    os.utime(index, ns=(instant, instant))
    mlv(experiment_repo, "snapshot", "-m", "seed 43")
    assert "seed: 43" in git(experiment_repo, "show", "HEAD:params.yaml")
