"""`mlv reproduce`: re-run in a separate worktree, compare with the record, give a verdict."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from mlv.adapters import dvc as dvc_adapter  # `dvc` is the helper that runs DVC (tests.conftest)
from tests.conftest import REPO_ROOT, VENV_BIN, dvc, git, mlv, spawned
from tests.reproduce_helpers import (
    DETERMINISTIC_SCRIPT,
    RANDOM_SCRIPT,
    add_remote,
    craft_experiment,
    read_all,
    record_of,
    repo_state,
    script_project,
    worktrees,
)
from tests.terminal_helpers import TERMINAL_ENV

SCHEMA = json.loads((REPO_ROOT / "mlv" / "schemas" / "verdict.schema.json").read_text())


def _reproduce_json(repo: Path, *args: str, code: int = 0, env: dict[str, str] | None = None) -> dict:
    proc = mlv(repo, "reproduce", *args, "--yes", "--json", check=False, env=env)
    assert proc.returncode == code, proc.stderr
    doc: dict = json.loads(proc.stdout)
    jsonschema.validate(doc, SCHEMA)
    return doc


def _refused(repo: Path, *args: str, code: int = 2) -> str:
    """Run a reproduce that must fail; check the one-line error and that nothing was left behind."""
    before = repo_state(repo)
    proc = mlv(repo, "reproduce", *args, check=False)
    assert proc.returncode == code, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert repo_state(repo) == before
    return lines[0]


# -- verdicts ------------------------------------------------------------------------------------


def test_a_deterministic_experiment_is_reproduced(experiment_repo: Path) -> None:
    doc = _reproduce_json(experiment_repo, "HEAD")
    recorded = record_of(experiment_repo)
    assert doc["verdict"] == "reproduced"
    assert doc["commit"] == recorded["commit"]
    assert doc["exit_code"] == {"recorded": 0, "reproduced": 0, "status": "equal"}
    assert [(o["path"], o["status"]) for o in doc["outputs"]] == [("models", "identical")]
    assert {m["name"]: m["status"] for m in doc["metrics"]} == {"mse": "equal", "r2": "equal", "n_train": "equal"}
    assert doc["environment_mismatches"] == []
    assert doc["worktree"] is None and worktrees(experiment_repo) == worktrees(experiment_repo)[:1]


def test_verdict_table_is_printed(experiment_repo: Path) -> None:
    proc = mlv(experiment_repo, "reproduce", "HEAD", "--yes")
    assert "REPRODUCED" in proc.stdout
    assert "output models" in proc.stdout and "identical" in proc.stdout
    assert proc.stdout.rstrip().endswith("verdict: reproduced")
    assert [line for line in proc.stdout.splitlines() if line != line.rstrip()] == []  # no padding after REPRODUCED
    assert "command: python train.py" in proc.stderr  # shown before it ran
    assert "mse=" in proc.stderr + proc.stdout  # the command's own output, streamed


def test_unseeded_randomness_is_not_reproduced_with_metric_differences(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "rand", RANDOM_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "random")
    recorded = json.loads((repo / "metrics.json").read_text())
    doc = _reproduce_json(repo, "HEAD", code=1)
    assert doc["verdict"] == "not_reproduced"
    score = next(m for m in doc["metrics"] if m["name"] == "score")
    assert score["status"] == "different"
    assert score["recorded"] == recorded["score"]
    assert score["reproduced"] != recorded["score"]
    assert score["difference"] == pytest.approx(score["reproduced"] - score["recorded"])
    assert next(m for m in doc["metrics"] if m["name"] == "fixed")["status"] == "equal"
    # The table names the metric with both values and the difference.
    table = mlv(repo, "reproduce", "HEAD", "--yes", check=False)
    assert table.returncode == 1
    assert "NOT REPRODUCED" in table.stdout and "metric score" in table.stdout and "diff " in table.stdout


def test_tolerance_turns_small_differences_into_within_tolerance(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "rand", RANDOM_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "random")
    doc = _reproduce_json(repo, "HEAD", "--atol", "1.0")
    assert doc["verdict"] == "reproduced_within_tolerance"
    assert next(m for m in doc["metrics"] if m["name"] == "score")["status"] == "within_tolerance"
    assert doc["atol"] == 1.0


def test_a_metric_the_rerun_no_longer_writes_is_not_reproduced(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "p", DETERMINISTIC_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "first")
    # The next commit's code stops writing metrics; its record still says score=0.5.
    (repo / "train.py").write_text("print('no metrics any more')\n")
    mlv(repo, "snapshot", "-m", "code changed, metrics.json left over")
    doc = _reproduce_json(repo, "HEAD", code=1)
    assert doc["verdict"] == "not_reproduced"
    assert doc["metrics"][0]["status"] == "missing"  # the committed metrics.json did not count


def test_changed_exit_code_is_not_reproduced(tmp_path: Path) -> None:
    repo = script_project(tmp_path / "p", DETERMINISTIC_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "ok")
    sha = craft_experiment(repo, lambda d: d.update(exit_code=3))
    doc = _reproduce_json(repo, sha, code=1)
    assert doc["exit_code"] == {"recorded": 3, "reproduced": 0, "status": "different"}


# -- the user's working tree ---------------------------------------------------------------------


def test_uncommitted_edits_untracked_ignored_and_stash_are_untouched(experiment_repo: Path) -> None:
    repo = experiment_repo
    (repo / "notes.txt").write_text("stashed edit\n")
    git(repo, "add", "notes.txt")
    git(repo, "stash")
    (repo / "train.py").write_text((repo / "train.py").read_text().replace('"mse"', '"MSE"'))
    (repo / "params.yaml").write_text("train:\n  test_size: 0.5\n  seed: 1\n  fit_intercept: false\n")
    git(repo, "add", "params.yaml")  # a staged change as well as an unstaged one
    (repo / "scratch.txt").write_text("untracked\n")
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + "*.log\n")
    (repo / "run.log").write_text("ignored\n")
    (repo / "data" / "dataset.csv").write_text("x1,x2,x3,x4,y\n1,2,3,4,5\n")  # unsaved data edit
    (repo / "metrics.json").unlink()
    before = repo_state(repo)
    doc = _reproduce_json(repo, "HEAD")
    assert doc["verdict"] == "reproduced"  # the committed code and data ran, not the edits
    assert repo_state(repo) == before


def test_keep_leaves_the_worktree_for_inspection(experiment_repo: Path) -> None:
    doc = _reproduce_json(experiment_repo, "HEAD", "--keep")
    kept = Path(doc["worktree"])
    try:
        assert (kept / "metrics.json").is_file() and (kept / "models" / "model.joblib").is_file()
        assert len(worktrees(experiment_repo)) == 2
    finally:
        git(experiment_repo, "worktree", "remove", "--force", str(kept))


@pytest.mark.slow
def test_save_records_the_rerun_on_its_own_branch(experiment_repo: Path) -> None:
    repo = experiment_repo
    head, branch = git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD")
    doc = _reproduce_json(repo, "HEAD", "--save")
    assert doc["saved_branch"] == f"mlv/reproduced/{head[:10]}"
    assert git(repo, "rev-parse", doc["saved_branch"]) == doc["saved_commit"]
    assert git(repo, "rev-parse", f"{doc['saved_commit']}^") == head
    saved = record_of(repo, doc["saved_commit"])
    assert saved["reproduces"]["commit"] == head
    assert saved["reproduces"]["verdict"] == "reproduced"
    assert saved["metrics"] == record_of(repo)["metrics"]
    assert (git(repo, "rev-parse", "HEAD"), git(repo, "symbolic-ref", "HEAD")) == (head, branch)
    # A second save gets its own branch instead of moving the first.
    again = _reproduce_json(repo, "HEAD", "--save")
    assert again["saved_branch"] == f"mlv/reproduced/{head[:10]}-2"


def test_ctrl_c_stops_the_command_and_removes_the_worktree(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = f"import pathlib, time\npathlib.Path({str(marker)!r}).write_text('x')\ntime.sleep(60)\n"
    repo = script_project(tmp_path / "p", DETERMINISTIC_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "ok")
    (repo / "train.py").write_text(script)
    mlv(repo, "snapshot", "-m", "slow", "--allow-failure")
    sha = craft_experiment(repo, lambda d: d.update(command="python train.py"))
    before = repo_state(repo)
    with spawned([str(Path(VENV_BIN) / "mlv"), "reproduce", sha, "--yes"], repo,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted") and "nothing was changed" in last
    assert "experiment commit" not in last  # reproduce makes none to speak of
    assert repo_state(repo) == before


# -- environment ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real versions of a small package, downloaded once from PyPI for this module."""
    path = tmp_path_factory.mktemp("wheels")
    for version in ("1.16.0", "1.17.0"):
        subprocess.run([str(Path(VENV_BIN) / "python"), "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", "-d", str(path), f"six=={version}"], check=True)
    return path


def _bare_venv(path: Path, wheelhouse: Path, six: str) -> Path:
    subprocess.run([str(Path(VENV_BIN) / "python"), "-m", "venv", "--without-pip", str(path)], check=True)
    _pip_install(path, wheelhouse, six)
    return path


def _pip_install(venv: Path, wheelhouse: Path, six: str) -> None:
    # uv when installed (the dev extra has it): a fiftieth of pip's half second; the same install.
    uv = shutil.which("uv", path=VENV_BIN) or shutil.which("uv")
    installer = [uv, "pip"] if uv else [str(Path(VENV_BIN) / "python"), "-m", "pip"]
    subprocess.run([*installer, "install", "--python", str(venv / "bin" / "python"), "--quiet", "--no-index",
                    "--find-links", str(wheelhouse), f"six=={six}"], check=True)


def _with_venv(venv: Path) -> dict[str, str]:
    return {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}


SIX_SCRIPT = """\
import json, six
json.dump({"score": 0.5, "six": six.__version__}, open("metrics.json", "w"))
"""


def test_package_version_mismatch_is_reported(tmp_path: Path, wheelhouse: Path) -> None:
    venv = _bare_venv(tmp_path / "venv", wheelhouse, "1.16.0")
    repo = script_project(tmp_path / "p", SIX_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "six 1.16", env=_with_venv(venv))
    assert "six==1.16.0" in (repo / record_of(repo)["environment"]["lockfile"]).read_text()
    _pip_install(venv, wheelhouse, "1.17.0")
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False, env=_with_venv(venv))
    doc = json.loads(proc.stdout)
    assert doc["environment_mismatches"] == [
        {"kind": "package", "name": "six", "recorded": "1.16.0", "current": "1.17.0", "change": "changed"}
    ]
    assert "package six: recorded 1.16.0, now 1.17.0" in proc.stderr
    # Printed before the command ran (the command's output comes after it on stderr).
    assert proc.stderr.index("package six") < proc.stderr.index("environment:") + 400
    assert doc["verdict"] == "not_reproduced"  # the script records the version it ran with
    assert next(m for m in doc["metrics"] if m["name"] == "six")["reproduced"] == "1.17.0"


@pytest.mark.slow
def test_env_fresh_builds_the_lockfile_environment_once(tmp_path: Path, wheelhouse: Path) -> None:
    venv = _bare_venv(tmp_path / "venv", wheelhouse, "1.16.0")
    repo = script_project(tmp_path / "p", SIX_SCRIPT)
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "six 1.16", env=_with_venv(venv))
    _pip_install(venv, wheelhouse, "1.17.0")  # the current environment no longer matches
    env = {**_with_venv(venv), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}
    proc = mlv(repo, "reproduce", "HEAD", "--yes", "--json", "--env", "fresh", env=env)
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "reproduced"
    assert doc["env"] == "fresh" and doc["environment_mismatches"] == []
    assert "Building a fresh environment" in proc.stderr
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "mlv" / "envs"
    built = [p for p in cache.iterdir() if p.is_dir()]
    assert len(built) == 1 and str(built[0]) in proc.stderr
    again = mlv(repo, "reproduce", "HEAD", "--yes", "--json", "--env", "fresh", env=env)
    assert json.loads(again.stdout)["verdict"] == "reproduced"
    assert "Building" not in again.stderr  # reused from the cache


# -- fresh clone ---------------------------------------------------------------------------------


@pytest.mark.parametrize("remote_config", ["local", "committed-relative"])
@pytest.mark.slow
def test_reproduce_from_a_fresh_clone_fetches_data_from_the_dvc_remote(
        experiment_repo: Path, dvc_remote: Path, tmp_path: Path, remote_config: str) -> None:
    rev = "HEAD"
    if remote_config == "local":
        add_remote(experiment_repo, dvc_remote, local=True)
    else:  # in the committed .dvc/config, relative to the .dvc folder, as teams often do
        dvc(experiment_repo, "remote", "add", "-d", "store", "../../dvc-remote")
        git(experiment_repo, "commit", "-q", "-am", "configure the DVC remote")
        rev = "HEAD~1"
    dvc(experiment_repo, "push")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(experiment_repo), str(bare))
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    if remote_config == "local":
        add_remote(clone, dvc_remote, local=True)
    doc = _reproduce_json(clone, rev)
    assert doc["verdict"] == "reproduced"
    assert not (clone / "data").exists()  # restored only in the worktree
    assert git(clone, "status", "--porcelain") == ""  # only the (ignored) DVC cache gained objects


def test_interactive_confirmation(experiment_repo: Path) -> None:
    for answer, code in (("n", 2), ("y", 0)):
        before = repo_state(experiment_repo)
        primary, secondary = pty.openpty()
        proc = subprocess.Popen([str(Path(VENV_BIN) / "mlv"), "reproduce", "HEAD"], cwd=experiment_repo,
                                stdin=secondary, stdout=subprocess.PIPE, stderr=secondary, text=True,
                                env={**os.environ, **TERMINAL_ENV})
        os.close(secondary)
        seen = b""
        while b"[y/N]" not in seen:
            seen += os.read(primary, 1024)
        assert b"Run `python train.py` from commit" in seen
        os.write(primary, f"{answer}\n".encode())
        stdout, _ = proc.communicate(timeout=120)
        with contextlib.suppress(OSError):
            while os.read(primary, 4096):
                pass
        os.close(primary)
        assert proc.returncode == code
        assert ("verdict: reproduced" in stdout) == (answer == "y")
        assert repo_state(experiment_repo) == before


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_revision(experiment_repo: Path) -> None:
    line = _refused(experiment_repo, "no-such-rev", "--yes")
    assert "unknown revision 'no-such-rev'" in line


def test_not_an_experiment_commit(experiment_repo: Path) -> None:
    git(experiment_repo, "commit", "-q", "--allow-empty", "-m", "plain commit")
    line = _refused(experiment_repo, "HEAD", "--yes")
    assert "has no mlv record and no dvc.yaml, so there is no command to re-run" in line


def test_newer_record_schema(experiment_repo: Path) -> None:
    sha = craft_experiment(experiment_repo, lambda d: d.update(schema=99))
    line = _refused(experiment_repo, sha, "--yes")
    assert "schema 99" in line and "Upgrade mlv" in line


@pytest.mark.parametrize(("field", "bad", "expected"), [
    ("data", "/tmp/evil", "absolute path"),
    ("data", "../evil", "climbs out"),
    ("outputs", "models/../../evil", "climbs out"),
])
def test_record_paths_outside_the_repository(experiment_repo: Path, field: str, bad: str, expected: str) -> None:
    def change(doc: dict) -> None:
        doc[field][0]["path"] = bad
    sha = craft_experiment(experiment_repo, change)
    line = _refused(experiment_repo, sha, "--yes")
    assert expected in line and bad in line
    assert not (experiment_repo.parent / "evil").exists()


def test_metrics_file_outside_the_repository(experiment_repo: Path) -> None:
    sha = craft_experiment(experiment_repo, lambda d: d.update(metrics={"../m.json": {"a": 1}}))
    assert "climbs out" in _refused(experiment_repo, sha, "--yes")


def test_symlink_in_the_commit_pointing_outside(experiment_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = experiment_repo
    link_blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=str(outside),
                               capture_output=True, text=True, check=True).stdout.strip()
    index_env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "index")}
    subprocess.run(["git", "read-tree", "HEAD"], cwd=repo, env=index_env, check=True)
    subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"120000,{link_blob},data"], cwd=repo,
                   env=index_env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=index_env, capture_output=True, text=True,
                          check=True).stdout.strip()
    sha = craft_experiment(repo, lambda d: None, tree=tree)
    line = _refused(repo, sha, "--yes")
    assert "points outside the repository" in line
    assert list(outside.iterdir()) == []


def test_corrupt_cache_object_is_refused(experiment_repo: Path) -> None:
    data = record_of(experiment_repo)["data"][0]
    manifest = dvc_adapter.load_manifest(dvc_adapter.cache_dir(experiment_repo), data["md5"])
    assert manifest is not None
    obj = dvc_adapter.object_path(dvc_adapter.cache_dir(experiment_repo), manifest[0].md5)
    os.chmod(obj, 0o644)
    obj.write_bytes(obj.read_bytes()[:-3] + b"999")
    line = _refused(experiment_repo, "HEAD", "--yes")
    assert "corrupt" in line and str(obj) in line and "data/dataset.csv" in line


def test_command_missing_from_the_environment(experiment_repo: Path) -> None:
    sha = craft_experiment(experiment_repo, lambda d: d.update(command="no-such-trainer --epochs 3"))
    assert "command not found: no-such-trainer" in _refused(experiment_repo, sha, "--yes")


def test_interpreter_missing_from_the_environment(experiment_repo: Path) -> None:
    sha = craft_experiment(experiment_repo, lambda d: d.update(command="/nonexistent/python train.py"))
    assert "python interpreter '/nonexistent/python' not found" in _refused(experiment_repo, sha, "--yes")


def test_data_missing_and_no_dvc_remote_configured(experiment_repo: Path) -> None:
    shutil.rmtree(dvc_adapter.cache_dir(experiment_repo))
    line = _refused(experiment_repo, "HEAD", "--yes")
    assert "data" in line and "no DVC remote is configured" in line and "dvc remote add" in line


def test_data_missing_and_dvc_remote_unreachable(experiment_repo: Path, tmp_path: Path) -> None:
    add_remote(experiment_repo, tmp_path / "gone", local=True)
    md5 = record_of(experiment_repo)["data"][0]["md5"]
    shutil.rmtree(dvc_adapter.cache_dir(experiment_repo))
    line = _refused(experiment_repo, "HEAD", "--yes")
    assert "data" in line and md5 in line and "on the DVC remote" in line


def test_no_terminal_and_no_yes_refuses(experiment_repo: Path) -> None:
    line = _refused(experiment_repo, "HEAD")
    assert "no terminal" in line and "--yes" in line


def test_unknown_env_mode(experiment_repo: Path) -> None:
    assert "--env must be" in _refused(experiment_repo, "HEAD", "--yes", "--env", "conda")


def test_record_without_command(experiment_repo: Path) -> None:
    sha = craft_experiment(experiment_repo, lambda d: d.update(command=None))
    assert "records no command" in _refused(experiment_repo, sha, "--yes")


def test_restored_data_matches_the_record(experiment_repo: Path) -> None:
    doc = _reproduce_json(experiment_repo, "HEAD", "--keep")
    kept = Path(doc["worktree"])
    try:
        assert read_all(kept / "data") == read_all(experiment_repo / "data")
    finally:
        git(experiment_repo, "worktree", "remove", "--force", str(kept))


@pytest.mark.slow
def test_a_command_writing_into_its_data_cannot_corrupt_the_cache(experiment_repo: Path) -> None:
    vandal = "python train.py && python -c \"open('data/dataset.csv', 'a').write('garbage')\""
    sha = craft_experiment(experiment_repo, lambda d: d.update(command=vandal))
    user_data = read_all(experiment_repo / "data")
    for _ in range(2):  # the second run proves the damaged copy was repaired before it ran
        doc = _reproduce_json(experiment_repo, sha)
        assert doc["verdict"] == "reproduced"
    cache = dvc_adapter.cache_dir(experiment_repo)
    objects = [p for p in (cache / "files" / "md5").rglob("*") if p.is_file()]
    assert objects and all(dvc_adapter.verify_object(cache, f"{p.parent.name}{p.name}") for p in objects)
    assert read_all(experiment_repo / "data") == user_data


def test_second_reproduce_reuses_the_private_data_copy(experiment_repo: Path) -> None:
    _reproduce_json(experiment_repo, "HEAD")
    pooled = experiment_repo / ".git" / "mlv" / "reproduce-data" / "data" / "dataset.csv"
    inode = pooled.stat().st_ino
    _reproduce_json(experiment_repo, "HEAD")
    assert pooled.stat().st_ino == inode  # moved into the worktree and back, never rewritten
    assert pooled.read_bytes() == (experiment_repo / "data" / "dataset.csv").read_bytes()


def test_env_fresh_without_the_lockfile_in_the_commit(experiment_repo: Path) -> None:
    gone = ".mlv/env/requirements-gone.txt"
    sha = craft_experiment(experiment_repo, lambda d: d["environment"].update(lockfile=gone))
    line = _refused(experiment_repo, sha, "--yes", "--env", "fresh")
    assert "requirements-gone.txt" in line and "--env current" in line


def test_save_that_cannot_snapshot_warns_and_leaves_no_branch(experiment_repo: Path) -> None:
    # This command produces no model, so the re-run cannot be recorded (its output is missing).
    sha = craft_experiment(experiment_repo, lambda d: d.update(command="true"))
    branches = git(experiment_repo, "branch", "--list")
    proc = mlv(experiment_repo, "reproduce", sha, "--yes", "--save", "--json", check=False)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc["verdict"] == "not_reproduced" and doc["saved_commit"] is None
    assert any(w.startswith("the re-run was not saved") for w in doc["warnings"])
    assert "warning: the re-run was not saved" in proc.stderr
    assert git(experiment_repo, "branch", "--list") == branches
