"""A registry tag is a claim: hand-made tags that contradict their experiment's record are
`invalid` everywhere they are shown, and refused (exit 6, nothing written) wherever they are acted on."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from mlv.registry import actions
from tests.conftest import VENV_BIN, git, mlv
from tests.terminal_helpers import read_until_closed
from tests.test_registry_helpers import fake_experiment, tag_block, tags, write_models_config


@pytest.fixture
def registered(experiment_repo: Path) -> Path:
    actions.register(experiment_repo, "churn")
    return experiment_repo


def forge(repo: Path, tag: str, edit: dict[str, Any], source: str = "churn@v0.0.1") -> None:
    """An annotated TAG on SOURCE's commit whose block is SOURCE's with EDIT applied: what an
    attacker who can push tags writes by hand."""
    block = tag_block(repo, source)
    block.update(edit)
    body = json.dumps(block, indent=1)
    message = f"Register\n\n--- mlv registry record v1 ---\n{body}\n--- end mlv registry record ---\n"
    commit = git(repo, "rev-parse", f"{source}^{{commit}}")
    subprocess.run(["git", "tag", "-a", "--no-sign", "-F", "-", tag, commit], cwd=repo, input=message, text=True,
                   check=True)


def _attacker_object(repo: Path) -> str:
    """An object that is in the DVC cache but is not the model: the backdoor's stand-in."""
    block = tag_block(repo, "churn@v0.0.1")
    return str(block["data"][0]["md5"])


def _refused(repo: Path, *args: str) -> str:
    proc = mlv(repo, *args, check=False)
    assert proc.returncode == 6, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and proc.stdout == "", proc.stderr
    return proc.stderr


def test_a_tag_that_swaps_the_artifact_is_invalid_and_never_fetched_or_packaged(registered: Path,
                                                                                tmp_path: Path) -> None:
    repo = registered
    forge(repo, "churn@v0.1.0", {"version": "v0.1.0", "artifact": {"path": "models", "md5": _attacker_object(repo)}})
    err = _refused(repo, "model", "get", "churn@v0.1.0", "-o", str(tmp_path / "got"))
    assert "invalid" in err and "artifact" in err
    assert not (tmp_path / "got").exists()
    _refused(repo, "model", "package", "churn@v0.1.0", "-o", str(tmp_path / "bundle"))
    assert not (tmp_path / "bundle").exists() and list(tmp_path.glob(".bundle*")) == []
    rows = json.loads(mlv(repo, "model", "list", "--json").stdout)
    assert rows[0]["standing"]["v0.1.0"]["fields"] == ["artifact"]
    assert "v0.1.0 (invalid: artifact)" in mlv(repo, "model", "list").stdout
    shown = mlv(repo, "model", "show", "churn@v0.1.0").stdout
    assert "standing  invalid" in shown and "artifact: the artifact's md5 is not the record's" in shown
    assert "register (invalid: artifact)" in mlv(repo, "model", "history", "churn").stdout
    _refused(repo, "model", "promote", "churn", "v0.1.0", "prod")
    assert not any("#" in t for t in tags(repo))
    mlv(repo, "report", "-o", str(tmp_path / "report.html"))
    assert "v0.1.0 (invalid: artifact)" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("field", ["metrics", "params", "data", "lockfile", "experiment"])
def test_each_claimed_field_is_checked_against_the_record(registered: Path, field: str) -> None:
    block = tag_block(registered, "churn@v0.0.1")
    edits: dict[str, Any] = {
        "metrics": {"metrics": {"metrics.json": {**block["metrics"]["metrics.json"], "r2": 0.99999}}},
        "params": {"params": {"params.yaml": {"train": {"seed": 7}}}},
        "data": {"data": [{**block["data"][0], "md5": "0" * 32 + ".dir"}]},
        "lockfile": {"lockfile": {**block["lockfile"], "sha256": "f" * 64}},
        "experiment": {"experiment": {**block["experiment"], "commit": "1" * 40}},
    }
    forge(registered, "churn@v0.0.3", {"version": "v0.0.3", **edits[field]})
    doc = json.loads(mlv(registered, "model", "show", "churn@v0.0.3", "--json").stdout)
    assert doc["standing"]["status"] == "invalid" and doc["standing"]["fields"] == [field]


def test_gates_compute_from_the_record_not_the_tag(registered: Path) -> None:
    """A tag claiming r2 = 0.99999 does not pass a 0.999 gate when the record says 0.9938."""
    repo = registered
    write_models_config(repo, "    gates:\n      prod:\n        metrics:\n          r2: {min: 0.999}\n")
    block = tag_block(repo, "churn@v0.0.1")
    forge(repo, "churn@v0.0.2", {"version": "v0.0.2",
                                 "metrics": {"metrics.json": {**block["metrics"]["metrics.json"], "r2": 0.99999}}})
    err = _refused(repo, "model", "promote", "churn", "v0.0.2", "prod")
    assert "invalid" in err and "metrics" in err
    # A tag with no claim at all (as GTO writes): the gate reads the record's r2, and refuses.
    subprocess.run(["git", "tag", "-a", "--no-sign", "-m", "r2=0.99999", "churn@v0.0.3", "HEAD"], cwd=repo, check=True)
    proc = mlv(repo, "model", "promote", "churn", "v0.0.3", "prod", check=False)
    assert proc.returncode == 4 and "r2 0.993" in proc.stderr, proc.stderr


def test_gate_against_and_registry_event_refuse_an_invalid_stage(registered: Path) -> None:
    repo = registered
    block = tag_block(repo, "churn@v0.0.1")
    forge(repo, "churn@v0.0.2", {"version": "v0.0.2",
                                 "metrics": {"metrics.json": {**block["metrics"]["metrics.json"], "mse": 0.0}}})
    git(repo, "tag", "-d", "churn@v0.0.1")
    later = {**os.environ, "GIT_COMMITTER_DATE": f"{int(time.time()) + 2} +0000"}
    subprocess.run(["git", "tag", "-a", "--no-sign", "-m", "prod", "churn#prod#1", "churn@v0.0.2^{commit}"], cwd=repo,
                   check=True, env=later)
    assert "version   v0.0.2" in mlv(repo, "model", "show", "churn#prod").stdout
    _refused(repo, "gate", "HEAD", "--against", "churn#prod")
    _refused(repo, "registry", "event", "refs/tags/churn#prod#1", "--json")
    _refused(repo, "registry", "event", "refs/tags/churn@v0.0.2")
    doc = json.loads(mlv(repo, "registry", "event", "refs/tags/other-tag", "--json").stdout)
    assert doc["event"] is None  # a tag that is not the registry's is still not an error


def test_get_writes_a_new_folder_and_never_replaces_a_file_without_force(registered: Path) -> None:
    repo = registered
    model = repo / "models/model.joblib"
    model.write_bytes(b"uncommitted work")
    got = json.loads(mlv(repo, "model", "get", "churn@v0.0.1", "--json").stdout)
    assert got["path"] == str(repo / "churn-v0.0.1/models")
    assert (repo / "churn-v0.0.1/models/model.joblib").read_bytes() != b"uncommitted work"
    proc = mlv(repo, "model", "get", "churn@v0.0.1", "-o", ".", check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "exists already" in proc.stderr
    assert "--force" in proc.stderr and model.read_bytes() == b"uncommitted work"
    mlv(repo, "model", "get", "churn@v0.0.1", "-o", ".", "--force")
    assert model.read_bytes() == (repo / "churn-v0.0.1/models/model.joblib").read_bytes()


def _hand_tag(repo: Path, tag: str, rev: str, unix: int) -> None:
    env = {**os.environ, "GIT_COMMITTER_DATE": f"{unix} +0000"}
    subprocess.run(["git", "tag", "-a", "--no-sign", "-m", "hand-made", tag, rev], cwd=repo, check=True, env=env)


def test_a_future_dated_stage_tag_never_holds_the_stage(registered: Path) -> None:
    repo = registered
    first = git(repo, "rev-parse", "HEAD")
    fake_experiment(repo, "second", {"mse": 0.09, "r2": 0.995})
    actions.register(repo, "churn")
    _hand_tag(repo, "churn#prod#1", first, int(time.time()) + 365 * 86400)
    assert json.loads(mlv(repo, "model", "list", "--json").stdout)[0]["stages"] == {}
    events = json.loads(mlv(repo, "model", "history", "churn", "--json").stdout)
    assert [e["future_dated"] for e in events if e["stage"]] == [True]
    assert "future-dated" in mlv(repo, "model", "history", "churn").stdout
    out = mlv(repo, "model", "promote", "churn", "v0.0.2", "prod").stdout
    assert "churn#prod#2" in out
    assert json.loads(mlv(repo, "model", "show", "churn#prod", "--json").stdout)["version"] == "v0.0.2"


def test_the_counter_beats_the_clock_within_the_skew(registered: Path) -> None:
    """A tag dated four minutes ahead (inside the skew) with a lower counter loses to a later promote."""
    repo = registered
    first = git(repo, "rev-parse", "HEAD")
    fake_experiment(repo, "second", {"mse": 0.09, "r2": 0.995})
    actions.register(repo, "churn")
    _hand_tag(repo, "churn#prod#1", first, int(time.time()) + 240)
    assert json.loads(mlv(repo, "model", "show", "churn#prod", "--json").stdout)["version"] == "v0.0.1"
    actions.promote(repo, "churn", "v0.0.2", "prod")
    assert json.loads(mlv(repo, "model", "show", "churn#prod", "--json").stdout)["version"] == "v0.0.2"
    actions.demote(repo, "churn", "prod")  # GTO's rule: the previous assignment still in force comes back
    assert json.loads(mlv(repo, "model", "list", "--json").stdout)[0]["stages"] == {"prod": "v0.0.1"}


def _on_a_pty(repo: Path, *args: str) -> str:
    """What mlv shows with stdout and stderr on a terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(Path(VENV_BIN) / "mlv"), *args], cwd=repo, stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})
    os.close(slave)
    seen = read_until_closed(master)
    assert proc.wait(timeout=60) == 0, seen
    os.close(master)
    return seen.decode(errors="replace")


def test_every_registry_field_reaches_the_terminal_escaped(registered: Path) -> None:
    repo = registered
    block = tag_block(repo, "churn@v0.0.1")
    hostile = "\x1b]0;owned\x07\x1b[2J\x9b1A"
    block.update(version="v0.0.2", artifact={**block["artifact"], "path": f"models{hostile}"})
    body = json.dumps(block, indent=1)
    message = f"Looks fine{hostile}\n\n--- mlv registry record v1 ---\n{body}\n--- end mlv registry record ---\n"
    env = {**os.environ, "GIT_COMMITTER_NAME": f"Mallory{hostile}"}
    subprocess.run(["git", "tag", "-a", "--no-sign", "-F", "-", "churn@v0.0.2", "HEAD"], cwd=repo, input=message,
                   text=True, check=True, env=env)
    shown = {args: _on_a_pty(repo, *args) for args in (("model", "list"), ("model", "show", "churn@v0.0.2"),
                                                       ("model", "history", "churn"))}
    for args, raw in shown.items():
        text = re.sub(r"\x1b\[[01]m", "", raw)  # the table's own bold header on a terminal
        assert "\x1b" not in text and "\x9b" not in text and "\x07" not in text, (args, text)
    assert "Mallory\\x1b]0;owned\\x07" in shown[("model", "history", "churn")]
    assert "Looks fine\\x1b" in shown[("model", "history", "churn")]
    assert "models\\x1b]0;owned" in shown[("model", "show", "churn@v0.0.2")]
    assert "(invalid: artifact)" in shown[("model", "list")]


def _ref(name: str, commit: str, date: int) -> Any:
    from mlv.adapters.git import RefEntry

    return RefEntry(name=name, object_type="tag", target=commit, tagger="t", tagger_email="t@x", date=date,
                    contents="", truncated=False)


def test_stage_order_counter_then_topology_then_time() -> None:
    from mlv.registry import state

    now = 1_700_000_000
    refs = [_ref("m@v0.0.1", "a" * 40, now - 100), _ref("m@v0.0.2", "b" * 40, now - 90),
            _ref("m#prod", "b" * 40, now - 50),  # GTO's counterless form: counter 0
            _ref("m#prod#0", "a" * 40, now - 10)]  # same counter, later, on the ancestor
    models = state.build(refs, now=now)
    models["m"].is_ancestor = lambda old, new: (old, new) == ("a" * 40, "b" * 40)
    assert models["m"].stages()["prod"].version == "v0.0.2"  # the descendant wins the tie
    models["m"].is_ancestor = None
    assert models["m"].stages()["prod"].version == "v0.0.1"  # unknown topology: the later tag
    refs.append(_ref("m#staging#1", "a" * 40, now + 301))
    refs.append(_ref("m#qa#2", "a" * 40, now + 300))
    stages = state.build(refs, now=now)["m"].stages()
    assert "staging" not in stages and stages["qa"].version == "v0.0.1"  # 5 minutes of skew, not one more
    refs.append(_ref("m@deprecated", "a" * 40, now + 86400))
    assert state.build(refs, now=now)["m"].deprecated is False
