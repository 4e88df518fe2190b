"""`mlv push` and `mlv pull` against a local bare git remote and a local-directory DVC remote."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, cast

import pytest

from mlv.adapters import dvc
from mlv.errors import DvcError, failure
from tests.conftest import git, mlv, tree_fingerprint
from tests.hooks_helpers import (
    add_dvc_remote,
    add_git_remote,
    append_row,
    new_experiment,
    pointer_md5s,
    remote_objects,
    run_git,
)
from tests.terminal_helpers import on_a_terminal


def _shared(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> Path:
    """The experiment repo with a DVC remote and an `origin` bare repo; returns the bare repo."""
    add_dvc_remote(experiment_repo, dvc_remote)
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    return bare


def _clone(bare: Path, target: Path) -> Path:
    git(bare.parent, "clone", "-q", str(bare), str(target))
    return target


@pytest.mark.slow
def test_push_sends_data_first_then_the_branch_with_upstream(experiment_repo: Path, tmp_path: Path,
                                                             dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    first = pointer_md5s(experiment_repo)
    new_experiment(experiment_repo, "second")
    result = json.loads(mlv(experiment_repo, "push", "--json").stdout)
    assert result["remote"] == "origin" and result["branch"] == "main"
    assert result["commits"] == 3
    assert result["uploaded"] > 0
    assert set(first.values()) | set(pointer_md5s(experiment_repo).values()) <= remote_objects(dvc_remote)
    assert git(bare, "rev-parse", "main") == git(experiment_repo, "rev-parse", "HEAD")
    assert git(experiment_repo, "config", "branch.main.remote") == "origin"
    again = json.loads(mlv(experiment_repo, "push", "--json").stdout)
    assert (again["commits"], again["uploaded"]) == (0, 0)


@pytest.mark.slow
def test_fresh_clone_pull_restores_data_then_reproduces(experiment_repo: Path, tmp_path: Path,
                                                        dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    clone = _clone(bare, tmp_path / "clone")
    assert not (clone / "data").exists()
    result = json.loads(mlv(clone, "pull", "--json").stdout)
    assert result["commits"] == 0
    assert sorted(result["restored"]) == ["data", "models"]
    for rel in ("data/dataset.csv", "models/model.joblib"):
        assert (clone / rel).read_bytes() == (experiment_repo / rel).read_bytes()
    # The pulled experiment can be re-run from the clone, and checked out.
    verdict = json.loads(mlv(clone, "reproduce", "HEAD~1", "--yes", "--json").stdout)
    assert verdict["verdict"] == "reproduced"
    mlv(clone, "checkout", "HEAD~1")
    assert git(clone, "rev-parse", "HEAD") == git(experiment_repo, "rev-parse", "HEAD~1")
    model = "models/model.joblib"
    assert (clone / model).read_bytes() == (experiment_repo / model).read_bytes()


@pytest.mark.slow
def test_pull_fast_forwards_and_follows_the_new_data(experiment_repo: Path, tmp_path: Path,
                                                     dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    clone = _clone(bare, tmp_path / "clone")
    mlv(clone, "pull")
    sha = new_experiment(experiment_repo, "second")
    mlv(experiment_repo, "push")
    out = mlv(clone, "pull").stdout
    assert "(1 commit)" in out
    assert git(clone, "rev-parse", "HEAD") == sha
    assert (clone / "data" / "extra.csv").read_text() == "experiment,second\n"
    model = "models/model.joblib"
    assert (clone / model).read_bytes() == (experiment_repo / model).read_bytes()


def test_push_without_a_dvc_remote_is_refused_before_git_push(experiment_repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    result = mlv(experiment_repo, "push", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no DVC remote is configured. Add one with `dvc remote add -d NAME URL`."
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0


def test_push_without_a_git_remote_is_refused(experiment_repo: Path) -> None:
    result = mlv(experiment_repo, "push", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: no git remote to share with.")
    unknown = mlv(experiment_repo, "push", "upstream", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("error: no git remote named 'upstream'.")


@pytest.mark.slow
def test_rejected_push_says_to_pull_first(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    other = _clone(bare, tmp_path / "other")
    (other / "other.txt").write_text("x\n")
    git(other, "add", "other.txt")
    git(other, "commit", "-q", "-m", "other")
    git(other, "push", "-q", "origin", "main")
    new_experiment(experiment_repo, "mine")
    result = mlv(experiment_repo, "push", check=False)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: git push to origin failed:")
    assert "Run `mlv pull` first" in line


@pytest.mark.slow
def test_diverged_pull_is_refused_and_changes_nothing(experiment_repo: Path, tmp_path: Path,
                                                      dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    clone = _clone(bare, tmp_path / "clone")
    mlv(clone, "pull")
    new_experiment(experiment_repo, "theirs")
    mlv(experiment_repo, "push")
    (clone / "mine.txt").write_text("mine\n")
    git(clone, "add", "mine.txt")
    git(clone, "commit", "-q", "-m", "mine")
    head = git(clone, "rev-parse", "HEAD")
    before = tree_fingerprint(clone)
    result = mlv(clone, "pull", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: main and origin/main have diverged")
    assert git(clone, "rev-parse", "HEAD") == head
    assert tree_fingerprint(clone) == before


@pytest.mark.slow
def test_pull_refuses_when_the_dvc_remote_lacks_the_data(experiment_repo: Path, tmp_path: Path,
                                                         dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    clone = _clone(bare, tmp_path / "clone")
    mlv(clone, "pull")
    new_experiment(experiment_repo, "unshared")
    git(experiment_repo, "push", "-q", "origin", "main")  # plain git: no hooks, no data sent
    head = git(clone, "rev-parse", "HEAD")
    result = mlv(clone, "pull", check=False)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("error: ")
    assert "the branch was not moved" in line
    assert git(clone, "rev-parse", "HEAD") == head


@pytest.mark.slow
def test_pull_never_overwrites_unsaved_data(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    clone = _clone(bare, tmp_path / "clone")
    mlv(clone, "pull")
    append_row(experiment_repo)
    mlv(experiment_repo, "snapshot", "-m", "more rows")
    mlv(experiment_repo, "push")
    edited = clone / "data" / "dataset.csv"
    edited.write_bytes(edited.read_bytes() + b"9,9,9,9,9\n")  # not the row pushed above
    unsaved = edited.read_bytes()
    result = mlv(clone, "pull", check=False)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert "data/dataset.csv has changes that are not saved" in line
    assert edited.read_bytes() == unsaved


@pytest.mark.slow
def test_pull_from_a_url_remote_that_is_gone(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    shutil.rmtree(bare)
    result = mlv(experiment_repo, "pull", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: git fetch from origin failed:")


def test_push_refuses_data_that_is_nowhere(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    model_md5 = pointer_md5s(experiment_repo)["models"]
    cache = experiment_repo / ".dvc" / "cache" / "files" / "md5"
    manifest = json.loads((cache / model_md5[:2] / model_md5[2:]).read_text())
    lost = cache / manifest[0]["md5"][:2] / manifest[0]["md5"][2:]
    lost.chmod(0o644)
    lost.unlink()  # the model file's content is now in neither the cache nor the remote
    result = mlv(experiment_repo, "push", check=False)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: 1 data object(s), e.g. ")
    assert "are neither in the local DVC cache nor on the DVC remote" in line
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0  # commits not pushed


def _files_done(screen: str, description: str) -> list[tuple[int, int]]:
    """Every `DESCRIPTION ... n/N` frame a terminal showed of a transfer bar."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    return [(int(n), int(total)) for n, total in re.findall(rf"{description}\s+\S+\s+(\d+)/(\d+) files", plain)]


@pytest.mark.slow
def test_push_and_pull_show_transfer_progress_on_a_terminal_only(experiment_repo: Path, tmp_path: Path,
                                                                 dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    code, screen = on_a_terminal(experiment_repo, ["push"])
    assert code == 0, screen
    uploads = _files_done(screen, "Uploading data")
    assert uploads and max(n for n, _ in uploads) > 0, screen
    clone = _clone(bare, tmp_path / "clone")
    code, screen = on_a_terminal(clone, ["pull"])
    assert code == 0, screen
    downloads = _files_done(screen, "Downloading data")
    # The bar moves as DVC downloads, up to every file, in binary units like the summary.
    assert downloads and max(n for n, _ in downloads) == downloads[-1][1] > 0, screen
    assert not re.search(r"\d ?(kB|MB)\b", screen), screen  # no decimal units (DVC's own bar) either
    clone_json = _clone(bare, tmp_path / "clone-json")
    code, screen = on_a_terminal(clone_json, ["pull", "--json"])
    assert code == 0, screen
    assert "Downloading data" not in screen and "Restoring data" not in screen and " files " not in screen


def test_the_transfer_callback_reports_files_and_bytes_in_order() -> None:
    """DVC sizes its callback with the total, then again per batch; files and bytes add up."""
    from mlv.adapters.dvc import remote

    heard: list[tuple[str, int, int]] = []

    class Sink:
        def transfer_started(self, objects: int, description: str) -> None:
            heard.append(("start", objects, 0))

        def transfer_advanced(self, objects: int, nbytes: int) -> None:
            heard.append(("advance", objects, nbytes))

        def transfer_finished(self) -> None:
            heard.append(("finish", 0, 0))

    callback = remote._sink_callback(Sink(), "Downloading data")
    callback.set_size(3)  # transfer(): the total
    callback.set_size(2)  # a folder's batch: not the total
    for size in (1024, 3 * 1024 * 1024):
        with callback.branched("remote/file", "cache/file") as child:
            child.set_size(size)
            child.relative_update(size // 2)
            child.relative_update(size - size // 2)
        callback.relative_update()
    assert heard[0] == ("start", 3, 0) and not any(kind == "start" for kind, _, _ in heard[1:])
    assert sum(n for kind, n, _ in heard if kind == "advance") == 2
    assert sum(b for kind, _, b in heard if kind == "advance") == 1024 + 3 * 1024 * 1024


@pytest.mark.slow
def test_push_warns_about_older_commits_data_that_is_nowhere(experiment_repo: Path, tmp_path: Path,
                                                             dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    first_commit = git(experiment_repo, "log", "-1", "--format=%H", "--", "data.dvc")[:7]  # added data.dvc
    old_data = pointer_md5s(experiment_repo)["data"]
    new_experiment(experiment_repo, "second")  # a new data folder version; the old one is history
    assert pointer_md5s(experiment_repo)["data"] != old_data
    manifest = experiment_repo / ".dvc" / "cache" / "files" / "md5" / old_data[:2] / old_data[2:]
    manifest.chmod(0o644)
    manifest.unlink()  # the old folder's manifest is now in neither the cache nor the remote
    result = mlv(experiment_repo, "push", check=False)
    assert result.returncode == 0, result.stderr
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("warning: 1 data object(s) of older commits, e.g. data @ ")
    assert f"data @ {first_commit}" in line
    assert git(bare, "rev-parse", "main") == git(experiment_repo, "rev-parse", "HEAD")
    assert set(pointer_md5s(experiment_repo).values()) <= remote_objects(dvc_remote)
    assert old_data not in remote_objects(dvc_remote)
    # The pre-push hook of a plain `git push` does the same, even with `hooks: {strict: true}`.
    mlv(experiment_repo, "hooks", "install")
    with (experiment_repo / ".mlv" / "config.yaml").open("a") as handle:
        handle.write("hooks:\n  strict: true\n")
    git(tmp_path, "init", "-q", "--bare", str(tmp_path / "backup.git"))
    proc = run_git(experiment_repo, "push", "-q", str(tmp_path / "backup.git"), "main")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().startswith("mlv pre-push hook: warning: 1 data object(s) of older commits"), proc.stderr


@pytest.mark.slow
def test_push_still_refuses_when_the_tip_needs_an_object_older_commits_share(
        experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    old_data = pointer_md5s(experiment_repo)["data"]
    new_experiment(experiment_repo, "second")
    cache = experiment_repo / ".dvc" / "cache" / "files" / "md5"
    old_files = {e["md5"] for e in json.loads((cache / old_data[:2] / old_data[2:]).read_text())}
    tip_data = pointer_md5s(experiment_repo)["data"]
    shared = sorted(old_files & {e["md5"] for e in json.loads((cache / tip_data[:2] / tip_data[2:]).read_text())})
    assert shared  # dataset.csv is in both versions of the folder
    lost = cache / shared[0][:2] / shared[0][2:]
    lost.chmod(0o644)
    lost.unlink()
    result = mlv(experiment_repo, "push", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: 1 data object(s), e.g. ")
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0


def _bare_with_git_defaults(experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> Path:
    """A bare remote whose HEAD is git's default `master`, while the team pushes `main`."""
    add_dvc_remote(experiment_repo, dvc_remote)
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=master", str(bare))
    git(experiment_repo, "remote", "add", "origin", str(bare))
    mlv(experiment_repo, "push")
    return bare


def test_pull_in_a_clone_that_checked_out_nothing_starts_from_the_remote_branch(
        experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _bare_with_git_defaults(experiment_repo, tmp_path, dvc_remote)
    clone = _clone(bare, tmp_path / "clone")
    assert not (clone / "train.py").exists()  # git checked out nothing: HEAD is an unborn master
    proc = mlv(clone, "pull")
    assert proc.stdout.startswith("main from origin: checked out at ")
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD@{upstream}") == "origin/main"
    assert (clone / "data/dataset.csv").read_bytes() == (experiment_repo / "data/dataset.csv").read_bytes()
    assert mlv(clone, "log", "--json").stdout.count('"commit"') == 1


def test_pull_in_such_a_clone_with_several_branches_names_the_git_command(
        experiment_repo: Path, tmp_path: Path, dvc_remote: Path) -> None:
    bare = _bare_with_git_defaults(experiment_repo, tmp_path, dvc_remote)
    git(experiment_repo, "push", "-q", "origin", "main:feature")
    clone = _clone(bare, tmp_path / "clone")
    proc = mlv(clone, "pull", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: this clone has no commit yet and origin has several branches")
    assert "git checkout feature" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_bug_on_the_way_to_the_remote_is_exit_3_not_check_the_remote(experiment_repo: Path,
                                                                       dvc_remote: Path) -> None:
    # A progress sink without its methods stands for a bug in mlv's code that DVC calls back into
    # while it uploads: it must read as a bug, not as a remote to check.
    add_dvc_remote(experiment_repo, dvc_remote)
    md5s = sorted(pointer_md5s(experiment_repo).values())
    with pytest.raises(AttributeError) as raised:
        dvc.push_objects(experiment_repo, md5s, None, cast(Any, object()))
    code, line = failure(raised.value)
    assert code == 3 and "a bug in mlv" in line and "remote" not in line


def test_what_the_remote_raises_stays_a_dvc_error(experiment_repo: Path, dvc_remote: Path) -> None:
    add_dvc_remote(experiment_repo, dvc_remote)
    shutil.rmtree(dvc_remote, ignore_errors=True)
    dvc_remote.write_text("a file where the remote's folder should be\n")
    with pytest.raises(DvcError) as refused:
        dvc.push_objects(experiment_repo, sorted(pointer_md5s(experiment_repo).values()), None)
    assert failure(refused.value)[0] == 1
    assert refused.value.message.startswith("dvc push failed: ")
    assert "Check the DVC remote" in (refused.value.hint or "")


@pytest.mark.slow
def test_saved_verdicts_and_registry_tags_travel_and_status_lists_them(experiment_repo: Path, tmp_path: Path,
                                                                     dvc_remote: Path) -> None:
    bare = _shared(experiment_repo, tmp_path, dvc_remote)
    mlv(experiment_repo, "push")
    baseline = git(experiment_repo, "log", "-1", "--format=%H", "--grep=baseline")
    mlv(experiment_repo, "reproduce", baseline, "--yes", "--save")
    mlv(experiment_repo, "model", "register", "sample", baseline)
    verdict = git(experiment_repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/mlv/reproduced/")
    assert verdict.startswith("mlv/reproduced/")
    unshared = json.loads(mlv(experiment_repo, "status", "--json").stdout)["unshared"]
    assert (unshared["tags"], unshared["verdicts"]) == (["sample@v0.0.1"], [verdict])
    shown = mlv(experiment_repo, "status").stdout
    assert "not pushed: 1 registry tag (sample@v0.0.1)" in shown and f"not pushed: 1 saved verdict ({verdict})" in shown

    pushed = json.loads(mlv(experiment_repo, "push", "--json").stdout)
    assert (pushed["registry_tags"], pushed["verdicts"]) == (1, 1)
    assert git(bare, "rev-parse", verdict) == git(experiment_repo, "rev-parse", verdict)
    unshared = json.loads(mlv(experiment_repo, "status", "--json").stdout)["unshared"]
    assert (unshared["tags"], unshared["verdicts"]) == ([], [])
    assert "registry tag" not in mlv(experiment_repo, "status").stdout

    # A teammate's clone gets the verdict as a branch of its own; a local verdict is never overwritten.
    clone = _clone(bare, tmp_path / "clone")
    git(clone, "branch", f"{verdict}-1", "HEAD")  # a verdict of this clone's own, by the same name
    git(bare, "branch", f"{verdict}-1", verdict)  # the remote's, a different commit
    mlv(clone, "pull")
    assert git(clone, "rev-parse", verdict) == git(experiment_repo, "rev-parse", verdict)
    assert git(clone, "rev-parse", f"{verdict}-1") == git(clone, "rev-parse", "HEAD")
    assert git(clone, "tag", "--list") == "sample@v0.0.1"
