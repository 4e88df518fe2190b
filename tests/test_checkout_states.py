"""`mlv checkout` restores every tracked file whatever state the work tree came from: data that
was in git before it moved to DVC, links into the cache under every `cache.type`, a symlinked file
inside a data folder. Each case ends with real `dvc status` clean, as after `dvc checkout`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import dvc, git, mlv
from tests.test_dvc_settings import dvc_clean

# Real mlv and dvc several times per test.
pytestmark = pytest.mark.slow

TRAIN = """\
import yaml
x = yaml.safe_load(open("params.yaml"))["x"]
with open("model.bin", "wb") as handle:  # in place, as most training scripts write a model
    handle.write(f"model trained with x={x}\\n".encode())
"""

CONFIG = """\
version: 1
data:
- data
outputs:
- model.bin
params:
- params.yaml
metrics: []
command: python train.py
python: python
"""


def _project(root: Path, *, data_in_git: bool = False) -> Path:
    """A DVC project with data/{a,b}.txt and a script writing model.bin; data in git if asked."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    (root / "data").mkdir()
    (root / "data" / "a.txt").write_text("a\n")
    (root / "data" / "b.txt").write_text("b\n")
    (root / "params.yaml").write_text("x: 1\n")
    (root / "train.py").write_text(TRAIN)
    if data_in_git:
        git(root, "add", "-A")
        git(root, "commit", "-qm", "data in git")
    (root / ".mlv").mkdir()
    # Data moved from git has no model yet: the first snapshot takes the data alone.
    (root / ".mlv" / "config.yaml").write_text(CONFIG.replace("outputs:\n- model.bin", "outputs: []")
                                               if data_in_git else CONFIG)
    return root


def _two_experiments(root: Path) -> None:
    mlv(root, "snapshot", "--run", "python train.py", "-m", "e1")
    (root / "params.yaml").write_text("x: 2\n")
    mlv(root, "snapshot", "--run", "python train.py", "-m", "e2")


def test_data_moved_from_git_to_dvc_is_restored_after_checking_out_the_git_commit(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo", data_in_git=True)
    mlv(root, "snapshot", "-m", "data to DVC")  # git stops tracking data/, data.dvc pins it
    (root / "data" / "c.txt").write_text("c\n")
    mlv(root, "snapshot", "-m", "more data")
    mlv(root, "checkout", "HEAD~2")  # git writes data/a.txt and data/b.txt from its own tree
    mlv(root, "checkout", "main")  # git deletes them again: the restore must write them back
    assert sorted(p.name for p in (root / "data").iterdir()) == ["a.txt", "b.txt", "c.txt"]
    assert (root / "data" / "b.txt").read_text() == "b\n"
    assert git(root, "status", "--porcelain") == ""
    dvc_clean(root)


@pytest.mark.parametrize("cache_type", ["copy", "hardlink", "symlink", "reflink,copy"])
def test_checkout_back_and_forth_under_every_cache_type(tmp_path: Path, cache_type: str) -> None:
    root = _project(tmp_path / "repo")
    dvc(root, "config", "cache.type", cache_type)
    git(root, "add", ".dvc/config")
    _two_experiments(root)
    for rev, args, x in (("HEAD~1", (), 1), ("main", (), 2), ("HEAD~1", (), 1), ("main", ("--force",), 2),
                         ("main", (), 2)):
        mlv(root, "checkout", rev, *args)
        assert (root / "model.bin").read_text() == f"model trained with x={x}\n", (rev, args)
        assert (root / "data" / "a.txt").read_text() == "a\n"
        assert (root / "model.bin").is_symlink() == (cache_type == "symlink")
        dvc_clean(root)


def test_symlinked_file_inside_a_data_folder_is_left_as_dvc_leaves_it(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    (root / "shared.txt").write_text("shared\n")
    os.symlink("../shared.txt", root / "data" / "link.txt")
    git(root, "add", "shared.txt")
    _two_experiments(root)
    for rev in ("HEAD~1", "main", "main"):
        mlv(root, "checkout", rev)  # no --force: the link's content is saved in the cache
        assert (root / "data" / "link.txt").read_text() == "shared\n"
        dvc_clean(root)
    assert os.readlink(root / "data" / "link.txt") == "../shared.txt"  # left alone, as dvc checkout leaves it


def test_a_checkout_killed_while_restoring_is_completed_by_running_it_again(tmp_path: Path) -> None:
    """What docs/security.md says a kill leaves: HEAD at the target, each data file whole (the old
    experiment's or the new one's), `mlv status` naming the data as changed; the same checkout
    run again, without --force, completes it."""
    root = _project(tmp_path / "repo")
    mlv(root, "snapshot", "--run", "python train.py", "-m", "e1")
    e1 = git(root, "rev-parse", "HEAD")
    for index in range(8):
        (root / "data" / f"more-{index}.txt").write_text(f"row {index}\n")
    (root / "data" / "a.txt").write_text("a, edited\n")
    mlv(root, "snapshot", "-m", "e2")
    killed = mlv(root, "checkout", e1, check=False, env={"MLV_TEST_CRASH_AT": "restore-file-written"})
    assert killed.returncode in (-9, 137)
    assert git(root, "rev-parse", "HEAD") == e1  # git had switched
    status = json.loads(mlv(root, "status", "--json").stdout)
    assert "data" in json.dumps(status["changes"]), status["changes"]
    mlv(root, "checkout", e1)
    assert sorted(p.name for p in (root / "data").iterdir()) == ["a.txt", "b.txt"]
    assert (root / "data" / "a.txt").read_text() == "a\n"
    assert not [p for p in root.rglob("*") if ".mlv-tmp-" in p.name]
    dvc_clean(root)


# -- checkout like git: branches, HEAD, `-`, commits left behind ---------------------------------------


def _branch(root: Path) -> str:
    return subprocess.run(["git", "symbolic-ref", "-q", "--short", "HEAD"], cwd=root, capture_output=True,
                          text=True, check=False).stdout.strip()


def test_checkout_moves_between_branches_and_commits_as_git_does(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    _two_experiments(root)
    e1 = git(root, "rev-parse", "HEAD~1")
    mlv(root, "checkout", "HEAD")
    assert _branch(root) == "main"  # `git checkout HEAD` stays on the branch
    mlv(root, "checkout", e1)
    assert _branch(root) == ""
    mlv(root, "checkout", "-")  # back to the branch it came from
    assert _branch(root) == "main" and (root / "model.bin").read_text() == "model trained with x=2\n"
    mlv(root, "checkout", "-")  # and to the commit again, detached
    assert _branch(root) == "" and git(root, "rev-parse", "HEAD") == e1
    assert (root / "model.bin").read_text() == "model trained with x=1\n"
    dvc_clean(root)


def test_leaving_commits_behind_prints_gits_warning(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    _two_experiments(root)
    mlv(root, "checkout", "HEAD~1")
    (root / "notes.txt").write_text("work on a detached HEAD\n")
    git(root, "add", "notes.txt")
    git(root, "commit", "-qm", "stray work")
    stray = git(root, "rev-parse", "HEAD")
    out = mlv(root, "checkout", "main")
    assert "leaving 1 commit(s) behind" in out.stderr and stray[:10] in out.stderr and "stray work" in out.stderr
    assert "git branch NAME" in out.stderr
    quiet = mlv(root, "checkout", "HEAD~1")  # leaving a branch leaves nothing behind
    assert "behind" not in quiet.stderr


def test_checkout_dash_without_a_previous_checkout_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path / "repo")
    mlv(root, "snapshot", "--run", "python train.py", "-m", "e1")
    refused = mlv(root, "checkout", "-", check=False)
    assert refused.returncode == 1 and "no previous branch" in refused.stderr
