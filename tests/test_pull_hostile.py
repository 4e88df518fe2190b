"""`mlv pull` of a commit whose `.dvc` pointer file names a path outside the repository.

Such a pointer is someone else's input. The pull refuses it with one line on stderr, exit 1, and
writes nothing outside the clone. (UnsafePathError once crashed the pull with "unexpected
TypeError": the error was rebuilt with `type(exc)(msg, hint=...)`, which its constructor refuses.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git, mlv
from tests.hooks_helpers import add_dvc_remote, add_git_remote


@pytest.mark.parametrize("where", ["climbs", "absolute"])
def test_pull_of_a_hostile_pointer_is_one_line_and_writes_nothing_outside(
        experiment_repo: Path, tmp_path: Path, dvc_remote: Path, where: str) -> None:
    add_dvc_remote(experiment_repo, dvc_remote)
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    mlv(experiment_repo, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    mlv(clone, "pull")  # the clone's cache now holds the data the hostile pointer names

    outside = tmp_path / "outside" if where == "climbs" else tmp_path / "elsewhere" / "abs-outside"
    target = "../outside" if where == "climbs" else str(outside)
    pointer = (experiment_repo / "data.dvc").read_text()
    hostile = "\n".join(f"  path: {target}" if line.strip().startswith("path:") else line
                        for line in pointer.splitlines()) + "\n"
    assert target in hostile
    (experiment_repo / "evil.dvc").write_text(hostile)
    git(experiment_repo, "add", "evil.dvc")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "a pointer that leads outside")
    git(experiment_repo, "push", "-q", "origin", "main")  # plain git: no mlv check on the way
    before = sorted(p.name for p in tmp_path.iterdir())

    result = mlv(clone, "pull", check=False)

    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "outside" in lines[0] and "refusing to" in lines[0]
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    assert not outside.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_with_context_keeps_a_subclass_whose_constructor_takes_more() -> None:
    from mlv.data.pathsafety import UnsafePathError

    exc = UnsafePathError("data path '../x' climbs out of the repository", absolute=False)
    moved = exc.with_context(prefix="main is now at abc, but ", hint="Remove the pointer file.")
    assert type(moved) is UnsafePathError and moved.absolute is False and moved.exit_code == 1
    assert moved.one_line() == ("main is now at abc, but data path '../x' climbs out of the repository. "
                                "Remove the pointer file.")
    assert exc.hint is None  # the original is untouched
