"""`mlv diff` against the work tree, in a plain DVC repository, and across environments."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlv.diff.values import NO_RECORD
from mlv.env import environment
from mlv.record import record
from tests.conftest import git, mlv, tree_fingerprint
from tests.diff_helpers import SCHEMA, build_plain_dvc, build_two_runs, copy_repo, diff_json, shared_repo


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_repo(tmp_path_factory, "diff-two-runs", build_two_runs)


@pytest.fixture(scope="module")
def plain_dvc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_repo(tmp_path_factory, "diff-plain-dvc", build_plain_dvc)


@pytest.fixture
def scratch(two_runs: Path, tmp_path: Path) -> Path:
    return copy_repo(two_runs, tmp_path / "copy")


def _schema() -> dict[str, object]:
    schema: dict[str, object] = json.loads(SCHEMA.read_text())
    return schema


# -- --workspace ---------------------------------------------------------------------------------


def _edit_work_tree(repo: Path) -> None:
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("test_size: 0.3", "test_size: 0.4"))
    with (repo / "data" / "dataset.csv").open("a") as handle:
        handle.write("9,9,9,9,9\n")
    (repo / "data" / "extra.csv").unlink()
    (repo / "notes.md").write_text("one\ntwo\nthree\n")  # untracked, not ignored
    with (repo / "train.py").open("a") as handle:
        handle.write("# staged edit\n")
    git(repo, "add", "train.py")


def test_workspace_includes_uncommitted_and_untracked_changes(scratch: Path) -> None:
    _edit_work_tree(scratch)
    doc = diff_json(scratch, "--workspace")
    jsonschema.validate(doc, _schema())
    assert doc["old"]["commit"] == git(scratch, "rev-parse", "HEAD")  # type: ignore[index]
    assert doc["new"] == {"label": "workspace", "commit": None, "message": "uncommitted changes",
                          "workspace": True, "has_record": True}
    code = {f["path"]: (f["status"], f["added_lines"]) for f in doc["code"]["files"]}  # type: ignore[index]
    assert code == {"notes.md": ("added", 3), "train.py": ("modified", 1)}
    (param,) = doc["params"]["entries"]  # type: ignore[index]
    assert (param["key"], param["old"], param["new"]) == ("train.test_size", 0.3, 0.4)
    data = {e["path"]: e for e in doc["data"]["entries"]}  # type: ignore[index]
    assert data["data"]["folder"] == {"added": [], "removed": ["extra.csv"], "modified": ["dataset.csv"],
                                      "unchanged": 0}
    assert data["models"]["status"] == "unchanged"  # not retrained: the model is what was recorded
    assert doc["environment"]["changed"] is False  # type: ignore[index]


def test_workspace_never_writes_the_work_tree_the_index_or_the_cache(scratch: Path) -> None:
    _edit_work_tree(scratch)
    before = tree_fingerprint(scratch)
    index = (scratch / ".git" / "index").read_bytes()
    cache = sorted(p.name for p in (scratch / ".dvc" / "cache").rglob("*"))
    for args in (["--workspace"], ["--workspace", "--json"], ["HEAD~1", "--workspace", "--md"]):
        mlv(scratch, "diff", *args)
    assert tree_fingerprint(scratch) == before
    assert (scratch / ".git" / "index").read_bytes() == index
    assert sorted(p.name for p in (scratch / ".dvc" / "cache").rglob("*")) == cache


def test_workspace_with_a_revision_compares_that_revision(scratch: Path) -> None:
    doc = diff_json(scratch, "HEAD~1", "--workspace")
    (param,) = doc["params"]["entries"]  # type: ignore[index]
    assert (param["old"], param["new"]) == (0.25, 0.3)
    assert mlv(scratch, "diff", "--workspace").stdout.strip().endswith("no differences")


def test_workspace_reports_a_deleted_output_as_removed(scratch: Path) -> None:
    for item in (scratch / "models").iterdir():
        item.unlink()
    (scratch / "models").rmdir()
    data = {e["path"]: e for e in diff_json(scratch, "-w")["data"]["entries"]}  # type: ignore[index]
    assert data["models"]["status"] == "removed" and data["models"]["new"] is None


# -- plain DVC repository ------------------------------------------------------------------------


def test_plain_dvc_code_and_data_sections_work(plain_dvc: Path) -> None:
    doc = diff_json(plain_dvc, "HEAD~1", "HEAD")
    jsonschema.validate(doc, _schema())
    assert doc["old"]["has_record"] is False and doc["new"]["has_record"] is False  # type: ignore[index]
    code = {f["path"]: (f["added_lines"], f["removed_lines"]) for f in doc["code"]["files"]}  # type: ignore[index]
    assert code == {"prep.py": (1, 0), ".gitignore": (1, 0)}  # raw.txt.dvc is a pointer: left out
    data = {e["path"]: e for e in doc["data"]["entries"]}  # type: ignore[index]
    assert data["data"]["folder"] == {"added": ["part5.csv"], "removed": ["part4.csv"],
                                      "modified": ["part0.csv"], "unchanged": 3}
    assert data["raw.txt"]["status"] == "added" and data["raw.txt"]["kind"] == "data"


def test_plain_dvc_record_sections_say_no_experiment_record(plain_dvc: Path) -> None:
    doc = diff_json(plain_dvc, "HEAD~1", "HEAD")
    for name in ("environment", "params", "metrics", "command"):
        section = doc[name]
        assert section["available"] is False and section["changed"] is None  # type: ignore[index]
        assert section["reason"] == f"{NO_RECORD} in HEAD~1 and HEAD"  # type: ignore[index]
    out = mlv(plain_dvc, "diff", "HEAD~1", "HEAD").stdout
    assert "environment, params, metrics, command: no experiment record in HEAD~1 and HEAD" in out
    assert "Data" in out and "Code" in out
    md = mlv(plain_dvc, "diff", "HEAD~1", "HEAD", "--md").stdout
    assert "_Not compared (environment, params, metrics, command): no experiment record in HEAD\\~1 and HEAD._" in md


def test_plain_dvc_without_arguments_explains_there_are_no_experiments(plain_dvc: Path) -> None:
    proc = mlv(plain_dvc, "diff", check=False)
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith("error: this branch has no experiment commits, so there is nothing")


def test_plain_dvc_workspace_uses_the_pointer_files_on_disk(plain_dvc: Path, tmp_path: Path) -> None:
    repo = copy_repo(plain_dvc, tmp_path / "copy")
    (repo / "prep.py").write_text("changed\n")
    doc = diff_json(repo, "--workspace")
    assert doc["old"]["label"] == "HEAD" and doc["new"]["has_record"] is False  # type: ignore[index]
    assert [f["path"] for f in doc["code"]["files"]] == ["prep.py"]  # type: ignore[index]
    assert {e["status"] for e in doc["data"]["entries"]} == {"unchanged"}  # type: ignore[index]


# -- environment ---------------------------------------------------------------------------------


def _commit_with_environment(repo: Path, python: str, edit: dict[str, str | None], extra: str) -> None:
    """A new experiment commit identical to HEAD but with an edited lockfile and Python version."""
    _, doc = record.split_message(git(repo, "log", "-1", "--format=%B"))
    assert doc is not None
    rec = record.Record.from_dict(doc)
    lines = []
    for line in (repo / rec.environment.lockfile).read_text().splitlines():
        name = line.split("==")[0]
        if name in edit:
            if edit[name] is not None:
                lines.append(f"{name}=={edit[name]}")
        else:
            lines.append(line)
    data = ("\n".join([*lines, extra]) + "\n").encode()
    rec.environment.lockfile = environment.lockfile_path(data)
    rec.environment.python = python
    (repo / rec.environment.lockfile).write_bytes(data)
    git(repo, "add", rec.environment.lockfile)
    git(repo, "commit", "-q", "-m", record.render_message("new environment", rec))


def test_environment_section_classifies_package_changes(scratch: Path) -> None:
    packages = environment.parse_lockfile(next((scratch / ".mlv" / "env").glob("*.txt")).read_bytes())
    assert {"numpy", "pyyaml", "joblib"} <= set(packages)
    _commit_with_environment(scratch, "3.99.1", {"numpy": "0.1", "PyYAML": "999.0", "joblib": None},
                             "brand-new-pkg==1.2.3")
    doc = diff_json(scratch, "HEAD~1", "HEAD")
    env = doc["environment"]
    assert env["changed"] is True  # type: ignore[index]
    assert env["python"]["new"] == "3.99.1"  # type: ignore[index]
    assert env["added"] == [{"name": "brand-new-pkg", "old": None, "new": "1.2.3"}]  # type: ignore[index]
    assert env["removed"] == [{"name": "joblib", "old": packages["joblib"], "new": None}]  # type: ignore[index]
    assert [p["name"] for p in env["downgraded"]] == ["numpy"]  # type: ignore[index]
    assert env["upgraded"] == [{"name": "pyyaml", "old": packages["pyyaml"], "new": "999.0"}]  # type: ignore[index]
    out = mlv(scratch, "diff", "HEAD~1", "HEAD").stdout
    assert "Environment" in out and "downgraded" in out and "brand-new-pkg" in out


def test_environment_with_a_missing_lockfile_is_flagged(scratch: Path) -> None:
    _, doc = record.split_message(git(scratch, "log", "-1", "--format=%B"))
    assert doc is not None
    rec = record.Record.from_dict(doc)
    rec.environment.lockfile = ".mlv/env/requirements-gone.txt"
    git(scratch, "commit", "-q", "--allow-empty", "-m", record.render_message("lockfile lost", rec))
    env = diff_json(scratch, "HEAD~1", "HEAD")["environment"]
    assert env["packages_known"] is False and env["added"] == []  # type: ignore[index]
    assert "package lists unavailable" in mlv(scratch, "diff", "HEAD~1", "HEAD").stdout


def test_workspace_environment_that_cannot_be_captured_is_reported(scratch: Path) -> None:
    config = scratch / ".mlv" / "config.yaml"
    config.write_text(config.read_text().replace("command: python train.py", "command: python3.99 train.py"))
    doc = diff_json(scratch, "--workspace")
    env = doc["environment"]
    assert env["available"] is False and env["changed"] is None  # type: ignore[index]
    assert env["reason"].startswith("environment not captured (python interpreter 'python3.99' not found")  # type: ignore[index]
    assert doc["command"]["new"] == "python3.99 train.py"  # type: ignore[index]  # the rest still works
    out = " ".join(mlv(scratch, "diff", "--workspace").stdout.split())
    assert "environment: environment not captured (python interpreter 'python3.99' not found" in out


def test_command_section_shows_a_changed_command(scratch: Path) -> None:
    config = scratch / ".mlv" / "config.yaml"
    config.write_text(config.read_text().replace("command: python train.py", "command: python train.py --fast"))
    mlv(scratch, "snapshot", "-m", "recorded, not run")  # records the configured command
    doc = diff_json(scratch)
    assert doc["command"] == {"available": True, "reason": None, "changed": True,
                              "old": "python train.py", "new": "python train.py --fast"}
    assert doc["code"]["changed"] is False  # type: ignore[index]  # .mlv/config.yaml is mlv's own file
    out = mlv(scratch, "diff").stdout
    assert "Command\n  - python train.py\n  + python train.py --fast\n" in out
