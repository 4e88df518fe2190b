"""The real GTO reads mlv's registry tags the same way mlv does: versions, stages, events."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import mlv
from tests.test_registry_helpers import fake_experiment

gto_api = pytest.importorskip("gto.api")


def test_gto_show_and_history_agree_with_mlv(experiment_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = experiment_repo
    # After the commits (GTO counts a commit's own date as an event), and within the five minutes
    # of clock skew past which mlv flags a tag as future-dated: 11 events 20 s apart.
    start = int(time.time()) + 60
    clock = iter(range(start, start + 240, 20))

    def at(*args: str) -> None:  # one distinct tag time per event: GTO orders by time alone
        stamp = f"@{next(clock)} +0000"
        mlv(repo, *args, env={"GIT_COMMITTER_DATE": stamp})

    from mlv.registry import actions

    def api(fn: object, *args: str) -> None:
        monkeypatch.setenv("GIT_COMMITTER_DATE", f"@{next(clock)} +0000")
        fn(repo, *args)  # type: ignore[operator]

    at("model", "register", "churn")
    fake_experiment(repo, "second", {"mse": 0.05})
    api(actions.register, "churn")
    fake_experiment(repo, "third", {"mse": 0.04})
    api(actions.register, "churn")
    api(actions.register, "iris", "HEAD~1")
    api(actions.promote, "churn", "v0.0.1", "staging")
    api(actions.promote, "churn", "v0.0.2", "prod")
    at("model", "promote", "churn", "v0.0.3", "prod")
    at("model", "demote", "churn", "prod")  # v0.0.2 is in prod again (GTO's rule)
    api(actions.deregister, "churn", "v0.0.1")
    api(actions.deprecate, "iris")
    monkeypatch.delenv("GIT_COMMITTER_DATE")

    ours = {r["model"]: r for r in json.loads(mlv(repo, "model", "list", "--json").stdout)}
    theirs = gto_api.show(str(repo), deprecated=True)
    assert set(ours) == set(theirs) == {"churn", "iris"}
    for name, row in ours.items():
        assert row["latest"] == theirs[name]["version"]
        assert row["stages"] == {s: v for s, v in theirs[name]["stage"].items() if v}
        assert row["deprecated"] == (not theirs[name]["active"])
    assert ours["churn"]["stages"] == {"prod": "v0.0.2"}  # v0.0.1, deregistered, left staging
    versions = {v["version"]: v for v in gto_api.show(str(repo), "churn")}
    assert set(versions) == {"v0.0.2", "v0.0.3"}  # v0.0.1 deregistered
    events = json.loads(mlv(repo, "model", "history", "churn", "--json").stdout)
    gto_events = gto_api.history(str(repo), "churn", ascending=True)
    kinds = {"registration": "register", "deregistration": "deregister", "assignment": "assign",
             "unassignment": "unassign", "deprecation": "deprecate"}
    assert [(e["event"], e["version"], e["stage"], e["commit"]) for e in events] == [
        (kinds[g["event"]], g["version"], g["stage"], g["commit"]) for g in gto_events]
    assert [e["time"] for e in events] == [int(g["timestamp"].timestamp()) for g in gto_events]
    assert os.environ.get("GIT_COMMITTER_DATE") is None
