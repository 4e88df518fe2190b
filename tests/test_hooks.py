"""`mlv hooks install | uninstall | status`: installing beside the user's hooks and restoring them."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from mlv.hooks import hooks
from tests.conftest import git, mlv
from tests.hooks_helpers import append_row, run_git

FOREIGN = "#!/bin/sh\necho foreign-hook-ran >&2\nexit 0\n"


def _write_hook(repo: Path, name: str, text: str) -> Path:
    path = repo / ".git" / "hooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _states(repo: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(mlv(repo, "hooks", "status", "--json").stdout)
    return {item["hook"]: item for item in doc}


def test_install_writes_four_marked_hooks_that_run_this_python(repo: Path) -> None:
    result = mlv(repo, "hooks", "install", "--json")
    assert {c["hook"]: c["action"] for c in json.loads(result.stdout)} == dict.fromkeys(hooks.HOOKS, "installed")
    for name in hooks.HOOKS:
        path = repo / ".git" / "hooks" / name
        assert hooks.MARKER in path.read_text()
        assert path.stat().st_mode & stat.S_IXUSR
    states = _states(repo)
    assert {s["state"] for s in states.values()} == {"mlv"}
    # The hook runs the interpreter of the mlv that installed it, not whatever is on PATH later.
    assert Path(str(states["pre-commit"]["interpreter"])).resolve() == Path(sys.executable).resolve()
    assert all(s["interpreter_ok"] for s in states.values())


def test_install_twice_updates_in_place(repo: Path) -> None:
    mlv(repo, "hooks", "install")
    result = mlv(repo, "hooks", "install", "pre-commit", "--json")
    assert json.loads(result.stdout) == [{"hook": "pre-commit", "action": "updated"}]
    assert not (repo / ".git" / "hooks" / "pre-commit.mlv-chained").exists()


def test_existing_foreign_hook_is_chained_runs_first_and_is_restored(sample_repo: Path) -> None:
    original = _write_hook(sample_repo, "pre-commit", FOREIGN)
    before = original.read_bytes()
    assert _states(sample_repo)["pre-commit"]["state"] == "foreign"

    out = mlv(sample_repo, "hooks", "install").stdout
    assert "kept and runs first" in out
    assert _states(sample_repo)["pre-commit"]["state"] == "chained"
    git(sample_repo, "add", "-A")
    commit = run_git(sample_repo, "commit", "-q", "-m", "first")
    assert commit.returncode == 0, commit.stderr
    assert "foreign-hook-ran" in commit.stderr

    out = mlv(sample_repo, "hooks", "uninstall").stdout
    assert "previous hook restored" in out
    assert original.read_bytes() == before
    assert original.stat().st_mode & stat.S_IXUSR
    assert not (sample_repo / ".git" / "hooks" / "pre-commit.mlv-chained").exists()
    for name in ("post-checkout", "post-merge", "pre-push"):
        assert not (sample_repo / ".git" / "hooks" / name).exists()


def test_failing_foreign_pre_commit_still_blocks_and_mlv_does_not_run_after_it(sample_repo: Path) -> None:
    _write_hook(sample_repo, "pre-commit", "#!/bin/sh\necho 'lint failed' >&2\nexit 3\n")
    mlv(sample_repo, "hooks", "install")
    git(sample_repo, "add", "-A")
    commit = run_git(sample_repo, "commit", "-q", "-m", "first")
    assert commit.returncode != 0
    assert "lint failed" in commit.stderr
    assert run_git(sample_repo, "rev-parse", "-q", "--verify", "HEAD").returncode != 0


def test_uninstall_leaves_a_foreign_hook_alone(repo: Path) -> None:
    path = _write_hook(repo, "post-merge", FOREIGN)
    result = mlv(repo, "hooks", "uninstall", "--json")
    actions = {c["hook"]: c["action"] for c in json.loads(result.stdout)}
    assert actions["post-merge"] == "left-foreign"
    assert actions["pre-commit"] == "absent"
    assert path.read_text() == FOREIGN


def test_install_refuses_when_hook_and_kept_hook_both_exist(repo: Path) -> None:
    _write_hook(repo, "pre-commit", FOREIGN)
    kept = _write_hook(repo, "pre-commit.mlv-chained", "#!/bin/sh\nexit 0\n")
    result = mlv(repo, "hooks", "install", check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: both ")
    assert (repo / ".git" / "hooks" / "pre-commit").read_text() == FOREIGN
    assert kept.read_text() == "#!/bin/sh\nexit 0\n"
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()  # nothing half-done


def test_core_hooks_path_is_refused_with_a_hint(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", ".githooks")
    before = sorted(p.name for p in (repo / ".git" / "hooks").iterdir())
    result = mlv(repo, "hooks", "install", check=False)
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: core.hooksPath is set to '.githooks'")
    assert "mlv hooks run" in line
    assert not (repo / ".githooks").exists()
    assert sorted(p.name for p in (repo / ".git" / "hooks").iterdir()) == before
    assert mlv(repo, "hooks", "status", check=False).returncode == 1


def test_unknown_hook_name_is_refused(repo: Path) -> None:
    result = mlv(repo, "hooks", "install", "post-commit", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: unknown hook 'post-commit'. Choose from: pre-commit, post-checkout, post-merge, pre-push.")
    assert not (repo / ".git" / "hooks" / "pre-commit").exists()


def test_hooks_outside_a_repository_fail_with_one_line(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = mlv(plain, "hooks", "status", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: ") and "not inside a git repository" in result.stderr


def test_a_vanished_interpreter_is_flagged_and_blocks_commits(sample_repo: Path) -> None:
    mlv(sample_repo, "hooks", "install")
    hook = sample_repo / ".git" / "hooks" / "pre-commit"
    text = hook.read_text()
    hook.write_text("\n".join("py=/nonexistent/python" if line.startswith("py=") else line
                              for line in text.splitlines()) + "\n")
    assert _states(sample_repo)["pre-commit"]["interpreter_ok"] is False
    assert "MISSING" in mlv(sample_repo, "hooks", "status").stdout
    git(sample_repo, "add", "-A")
    commit = run_git(sample_repo, "commit", "-q", "-m", "first")
    assert commit.returncode == 1
    assert "/nonexistent/python no longer exists" in commit.stderr


def test_hooks_live_in_the_common_dir_and_work_from_a_linked_worktree(experiment_repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(experiment_repo, "worktree", "add", "-q", "-b", "side", str(wt))
    mlv(wt, "hooks", "install")  # from the linked worktree: lands in the shared hooks folder
    assert hooks.is_mlv_hook(experiment_repo / ".git" / "hooks" / "pre-commit")
    # The worktree has no data yet (it is not in git): a code commit passes.
    (wt / "notes.txt").write_text("side notes\n")
    git(wt, "add", "notes.txt")
    assert run_git(wt, "commit", "-q", "-m", "notes").returncode == 0
    # Stale data in the worktree is caught there, against the worktree's own index.
    (wt / "data").mkdir()
    (wt / "data" / "dataset.csv").write_bytes((experiment_repo / "data" / "dataset.csv").read_bytes())
    append_row(wt)
    (wt / "notes.txt").write_text("more\n")
    commit = run_git(wt, "commit", "-q", "-a", "-m", "stale")
    assert commit.returncode == 1
    assert "error: data no longer matches" in commit.stderr
    assert git(wt, "log", "-1", "--format=%s") == "notes"


def test_status_text_lists_every_hook(repo: Path) -> None:
    _write_hook(repo, "pre-push", FOREIGN)
    mlv(repo, "hooks", "install", "pre-commit")
    lines = mlv(repo, "hooks", "status").stdout.splitlines()
    states = {line.split()[0]: line.split()[1] for line in lines}
    assert states == {"pre-commit": "mlv", "post-checkout": "absent", "post-merge": "absent",
                      "pre-push": "foreign"}
    assert [line for line in lines if line != line.rstrip()] == []  # `absent`, `foreign` not padded
    assert os.access(repo / ".git" / "hooks" / "pre-push", os.X_OK)
