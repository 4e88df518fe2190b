"""Answers from a watcher: with Watchman running, a tracked path it reports unchanged is not walked,
and every change is still seen: under a running watcher, while it was stopped (a restart), with a
clock it does not know, through a symlink, under a folder its config ignores, in a .dvcignore.

Each test starts its own Watchman daemon (tests/watchman_server.py), never the machine's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlv.data import statecache, track, watcher
from tests.conftest import REPO_ROOT, git, mlv
from tests.watchman_server import Watchman

_scanned: list[str] = []
_counting = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _counting[0] and event == "os.scandir":
        _scanned.append(os.fspath(args[0]))


sys.addaudithook(_audit)  # a hook cannot be removed; it records only while a test counts


@pytest.fixture
def watchman(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Watchman]:
    daemon = Watchman(tmp_path / "watchman")
    daemon.folder.mkdir()
    daemon.start()
    monkeypatch.setenv("WATCHMAN_SOCK", str(daemon.sock))
    yield daemon
    daemon.stop()


@pytest.fixture
def folder(repo: Path) -> Path:
    data = repo / "data"
    (data / "sub").mkdir(parents=True)
    for name, text in (("a.txt", "alpha\n"), ("b.txt", "bravo\n"), ("sub/c.txt", "charlie\n")):
        (data / name).write_text(text)
    return repo


def _md5(root: Path, count: bool = False) -> tuple[str, int]:
    """The md5 of data/ (with the watcher, if one runs) and how many folders were scanned for it."""
    state = statecache.of_work_tree(root)
    watch = watcher.connect(str(root))
    _scanned.clear()
    _counting[0] = count
    try:
        md5 = track.track_paths(root, ["data"], state, watcher=watch)[0].md5
    finally:
        _counting[0] = False
        if watch is not None:
            watch.close()
    state.save()
    return md5, len([p for p in _scanned if p.startswith(str(root))])


def _fresh_md5(root: Path) -> str:
    return track.track_paths(root, ["data"], statecache.StateCache(root / ".git" / "mlv" / "unused.json"))[0].md5


def test_unchanged_data_is_not_walked_and_a_change_is_seen(folder: Path, watchman: Watchman) -> None:
    first, scans = _md5(folder, count=True)
    assert scans > 0  # no clock yet: walked
    again, scans = _md5(folder, count=True)
    assert again == first and scans == 0  # vouched for by the watcher
    (folder / "data/sub/c.txt").write_text("changed\n")
    changed, scans = _md5(folder, count=True)
    assert changed == _fresh_md5(folder) != first and scans > 0
    (folder / "data/b.txt").unlink()
    assert _md5(folder)[0] == _fresh_md5(folder)
    (folder / "data/new.txt").write_text("new\n")
    assert _md5(folder)[0] == _fresh_md5(folder)
    assert _md5(folder, count=True)[1] == 0


def test_a_change_while_the_watcher_was_stopped_is_seen(folder: Path, watchman: Watchman) -> None:
    first, _ = _md5(folder)
    _md5(folder)
    watchman.stop()
    (folder / "data/a.txt").write_text("edited while no watcher ran\n")
    changed, scans = _md5(folder, count=True)  # no watcher: the walk and the stat cache see it
    assert changed == _fresh_md5(folder) != first and scans > 0
    (folder / "data/a.txt").write_text("edited again, still no watcher\n")
    watchman.start()  # a new instance: the old clock is not its own
    again, scans = _md5(folder, count=True)
    assert again == _fresh_md5(folder) != changed and scans > 0
    assert _md5(folder, count=True) == (again, 0)


def test_a_restarted_watcher_does_not_vouch_for_what_happened_before_it(folder: Path, watchman: Watchman) -> None:
    first, _ = _md5(folder)
    watchman.stop()
    (folder / "data/a.txt").write_text("edited between two watchers\n")
    watchman.start()
    changed, scans = _md5(folder, count=True)
    assert changed == _fresh_md5(folder) != first and scans > 0


def test_an_unknown_clock_falls_back_to_the_walk(folder: Path, watchman: Watchman) -> None:
    first, _ = _md5(folder)
    state = statecache.of_work_tree(folder)
    clock = str(state.watched["data"][0])
    for bogus in ("c:0:0", "c:1:2:3:4", "n:nonsense", clock.replace(":", ":9", 1)):
        state = statecache.of_work_tree(folder)
        state.watched["data"][0] = bogus
        state._tracked_dirty = True
        state.save()
        assert _md5(folder, count=True) == (first, 1 + 1)  # data/ and data/sub/ walked again
    (folder / "data/a.txt").write_text("after\n")
    assert _md5(folder)[0] == _fresh_md5(folder) != first


def test_a_change_through_a_symlink_is_seen(folder: Path, watchman: Watchman) -> None:
    (folder / "elsewhere.txt").write_text("one\n")
    (folder / "data/link.txt").symlink_to("../elsewhere.txt")
    first, _ = _md5(folder)
    (folder / "elsewhere.txt").write_text("two\n")  # only the target changes: a watcher names it alone
    changed, scans = _md5(folder, count=True)
    assert changed == _fresh_md5(folder) != first and scans > 0


def test_a_folder_the_watch_ignores_is_walked(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (folder / ".watchmanconfig").write_text(json.dumps({"ignore_dirs": ["data/sub"]}))
    daemon = Watchman(tmp_path / "watchman")
    daemon.folder.mkdir()
    daemon.start()
    monkeypatch.setenv("WATCHMAN_SOCK", str(daemon.sock))
    try:
        first, _ = _md5(folder)
        (folder / "data/sub/c.txt").write_text("never reported by this watch\n")
        assert _md5(folder)[0] == _fresh_md5(folder) != first
    finally:
        daemon.stop()


def test_a_changed_dvcignore_is_seen(folder: Path, watchman: Watchman) -> None:
    first, _ = _md5(folder)
    (folder / ".dvcignore").write_text("b.txt\n")
    changed, scans = _md5(folder, count=True)
    assert changed == _fresh_md5(folder) != first and scans > 0


def test_a_nested_git_folder_is_never_vouched_for(folder: Path, watchman: Watchman) -> None:
    (folder / "data/.git").mkdir()  # Watchman ignores .git folders wherever they are
    (folder / "data/.git/x").write_text("one\n")
    first, _ = _md5(folder)
    (folder / "data/.git/x").write_text("two\n")
    assert _md5(folder)[0] == _fresh_md5(folder) != first


def test_off_by_env_and_by_config(folder: Path, watchman: Watchman, monkeypatch: pytest.MonkeyPatch) -> None:
    assert watcher.mode(str(folder)) == "watcher"
    monkeypatch.setenv("MLV_WATCHER", "off")
    assert watcher.mode(str(folder)) == "walk"
    monkeypatch.delenv("MLV_WATCHER")
    (folder / ".mlv").mkdir()
    (folder / ".mlv/config.yaml").write_text("data: [data]\nwatcher: off  # walk instead\n")
    assert watcher.mode(str(folder)) == "walk"


def test_no_watcher_running_is_the_walk(folder: Path) -> None:
    assert watcher.mode(str(folder)) == "walk"
    first, scans = _md5(folder, count=True)
    assert scans > 0 and _md5(folder)[0] == first


@pytest.mark.slow
def test_snapshot_status_and_the_pre_commit_hook_use_the_watcher(experiment_repo: Path, watchman: Watchman) -> None:
    repo = experiment_repo
    mlv(repo, "hooks", "install")
    doc = json.loads(mlv(repo, "status", "--json").stdout)
    assert doc["change_detection"] == "watcher" and doc["clean"] is True
    assert "changes found by: Watchman" in mlv(repo, "status").stdout
    mlv(repo, "snapshot", "-m", "again")  # takes the clocks
    data = next(p for p in (repo / "data").rglob("*") if p.is_file())
    with data.open("a") as handle:
        handle.write("1,2,3\n")
    doc = json.loads(mlv(repo, "status", "--json").stdout)
    assert doc["clean"] is False
    assert [e["path"] for e in doc["changes"]["data"]["entries"] if e["status"] == "modified"] == ["data"]
    git(repo, "add", "-A")
    stale = git_commit(repo)  # the pre-commit hook asks the watcher, which reports the edit
    assert stale.returncode == 1 and "data no longer matches" in stale.stderr
    mlv(repo, "snapshot", "-m", "after the edit")
    assert json.loads(mlv(repo, "status", "--json").stdout)["clean"] is True


def git_commit(repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, capture_output=True,
                          text=True, check=False)


def test_the_ci_script_installs_watchman_and_requires_it() -> None:
    script = (REPO_ROOT / ".ci/run").read_text()
    assert "watchman" in script and "MLV_REQUIRE_WATCHMAN=1" in script


def test_a_restore_skips_vouched_paths_and_sees_an_edit(folder: Path, watchman: Watchman) -> None:
    from mlv.data import restore
    from mlv.errors import MlvError

    state = statecache.of_work_tree(folder)
    first = watcher.connect(str(folder))
    try:
        pointers = track.track_paths(folder, ["data"], state, watcher=first)
    finally:
        if first is not None:
            first.close()
    state.save()

    def plan(force: bool = False) -> tuple[list[str], int]:
        watch = watcher.connect(str(folder))
        _scanned.clear()
        _counting[0] = True
        try:
            prepared = restore.prepare_restore(folder, pointers, force=force, watcher=watch)
        finally:
            _counting[0] = False
            if watch is not None:
                watch.close()
        return [k for p in prepared.plans for k in p.writes], len([s for s in _scanned if s.startswith(str(folder))])

    assert plan() == ([], 0)  # nothing to restore, and nothing walked to know it
    (folder / "data/sub/c.txt").write_text("unsaved\n")
    with pytest.raises(MlvError, match="not saved"):
        plan()
    writes, scans = plan(force=True)
    assert writes == ["data/sub/c.txt"] and scans > 0


def test_the_watcher_key_is_validated_and_kept() -> None:
    from mlv.errors import ConfigError
    from mlv.project import config

    assert config.parse("data: [data]\n").watcher is True
    off = config.parse("data: [data]\nwatcher: off\n")
    assert off.watcher is False and "watcher: false" in off.to_yaml()
    assert config.parse(off.to_yaml()).watcher is False
    with pytest.raises(ConfigError, match="`watcher` must be `on` or `off`"):
        config.parse("data: [data]\nwatcher: sometimes\n")
