"""Registry names used as revisions: a deregistered version still resolves, with a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mlv.registry import actions, revisions
from mlv.registry.revisions import DeregisteredVersionWarning
from tests.conftest import git, mlv


def test_a_deregistered_version_warns_when_used_as_a_revision(experiment_repo: Path) -> None:
    actions.register(experiment_repo, "churn")
    head = git(experiment_repo, "rev-parse", "HEAD")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a registered version resolves silently
        assert git(experiment_repo, "rev-parse", revisions.resolve(experiment_repo, "churn@v0.0.1")) == head
    actions.deregister(experiment_repo, "churn", "v0.0.1")
    with pytest.warns(DeregisteredVersionWarning, match=r"churn@v0.0.1 was deregistered; it still names commit"):
        resolved = revisions.resolve(experiment_repo, "churn@v0.0.1")
    assert git(experiment_repo, "rev-parse", resolved) == head
    shown = mlv(experiment_repo, "show", "churn@v0.0.1")
    assert shown.stderr.splitlines() == [
        f"warning: churn@v0.0.1 was deregistered; it still names commit {head[:10]} (its register tag "
        "remains), but it is no model version now"]
    assert "python train.py" in shown.stdout
