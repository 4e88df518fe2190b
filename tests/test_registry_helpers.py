"""Helpers for the registry tests: cheap extra experiment commits, and reading tags back.

An extra experiment is HEAD's record with other metrics, committed on HEAD's tree with
`git commit-tree`: a valid record (same data, outputs and lockfile) without re-running training.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git

# The boundaries of the gates' drop arithmetic, as (base, new, bound, passes) for a higher-is-better
# metric, tried through `mlv gate`, the promotion gates and the engine: a negative base (the relative
# drop divides by |base|), and no change at all under a zero allowance (a drop of 0 is within 0).
GATE_DROP_BOUNDARIES = [
    pytest.param(-1.0, -1.2, {"max_drop_rel": 0.1}, False, id="20% worse than a negative base"),
    pytest.param(-1.2, -1.2, {"max_drop_abs": 0}, True, id="unchanged under max_drop_abs 0"),
]

_BLOCK = re.compile(r"(--- mlv experiment record v\d+ ---\n)(.*)(\n--- end mlv experiment record ---)", re.DOTALL)


def fake_experiment(repo: Path, message: str, metrics: dict[str, Any], date: str | None = None) -> str:
    """A new experiment commit on the current branch with METRICS (as `metrics.json`)."""
    head = git(repo, "rev-parse", "HEAD")
    old = subprocess.run(["git", "log", "-1", "--format=%B", head], cwd=repo, capture_output=True, text=True,
                         check=True).stdout
    match = _BLOCK.search(old)
    assert match, "HEAD is not an experiment commit"
    record = json.loads(match.group(2))
    record["metrics"] = {"metrics.json": metrics}
    body = f"{message}\n\n{match.group(1)}{json.dumps(record, indent=1)}{match.group(3)}\n"
    env = {"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date} if date else None
    sha = subprocess.run(["git", "commit-tree", f"{head}^{{tree}}", "-p", head, "-F", "-"], cwd=repo, input=body,
                         capture_output=True, text=True, check=True,
                         env=None if env is None else {**os.environ, **env}).stdout.strip()
    git(repo, "update-ref", "HEAD", sha)
    return sha


def tags(repo: Path) -> list[str]:
    return sorted(t for t in git(repo, "tag", "--list").splitlines() if t)


def tag_message(repo: Path, tag: str) -> str:
    return subprocess.run(["git", "tag", "-l", "--format=%(contents)", tag], cwd=repo, capture_output=True,
                          text=True, check=True).stdout


def tag_block(repo: Path, tag: str) -> dict[str, Any]:
    text = tag_message(repo, tag)
    start = text.index("--- mlv registry record v1 ---\n") + len("--- mlv registry record v1 ---\n")
    return dict(json.loads(text[start:text.index("--- end mlv registry record ---")]))


def write_models_config(repo: Path, models_yaml: str) -> None:
    config = repo / ".mlv/config.yaml"
    config.write_text(config.read_text() + models_yaml)
