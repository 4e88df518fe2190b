"""Running the `git` executable, and where a repository keeps its folders.

We call the `git` executable directly (as pre-commit does): it is what the user runs, honours
their configuration and hooks, and costs a few milliseconds per call, far less than importing a
git library on the hot paths (`mlv snapshot` with nothing changed, the git hooks). Every failure
becomes a `GitError` whose message says what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlv.errors import GitError

# Variables git sets for hooks. Inside a hook they would redirect our own git calls to the
# caller's repository or index, so we drop them unless we set them ourselves.
_HOOK_VARIABLES = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX", "GIT_OBJECT_DIRECTORY")


def _git_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HOOK_VARIABLES}
    env.setdefault("LC_ALL", "C")
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS` in CWD and return the completed process (stdout as bytes)."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_git_env(env),
            input=input_bytes,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed or not on PATH", hint="Install git and try again."
        ) from None
    if check and proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        last = detail[-1] if detail else f"exit code {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {last}")
    return proc


def out(args: Sequence[str], cwd: Path | str, **kwargs: object) -> str:
    """Run git and return its stdout as text without the trailing newline."""
    proc = run(args, cwd, **kwargs)  # type: ignore[arg-type]
    return proc.stdout.decode("utf-8", errors="surrogateescape").rstrip("\n")


def require_git() -> None:
    if shutil.which("git") is None:
        raise GitError("git is not installed or not on PATH", hint="Install git and try again.")


@dataclass(frozen=True)
class RepoPaths:
    root: Path  # top of the work tree
    git_dir: Path  # this work tree's private git folder (.git/worktrees/NAME in a linked one)
    common_dir: Path  # the git folder shared by all worktrees (objects, config, refs)
    hooks_dir: Path  # where git looks for hooks (honours core.hooksPath)


_PATHS_CACHE: dict[str, RepoPaths] = {}


def repo_paths(start: Path | str) -> RepoPaths:
    """Where the repository containing START keeps everything, from a single git call."""
    key = os.fspath(start)
    cached = _PATHS_CACHE.get(key)
    if cached is not None:
        return cached
    require_git()
    proc = run(["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir",
                "--git-path", "hooks"], start, check=False)
    if proc.returncode != 0:
        raise GitError(
            f"{Path(start).resolve()} is not inside a git repository",
            hint="Run `git init` first, or `mlv init --git`.",
        )
    lines = proc.stdout.decode("utf-8", errors="surrogateescape").splitlines()
    top, gdir, common, hooks = lines[:4]
    root = Path(top)
    paths = RepoPaths(
        root=root,
        git_dir=Path(gdir),
        common_dir=_absolute(Path(start), common),
        hooks_dir=_absolute(Path(start), hooks),
    )
    _PATHS_CACHE[key] = paths
    _PATHS_CACHE[os.fspath(root)] = paths
    return paths


def _absolute(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()


def find_root(start: Path | str) -> Path:
    """The top of the work tree that contains START."""
    return repo_paths(start).root


def init(path: Path) -> None:
    run(["init", "-q"], path)


def git_dir(root: Path) -> Path:
    """This work tree's private git folder (`.git`, or `.git/worktrees/NAME` in a linked one)."""
    return repo_paths(root).git_dir


def common_dir(root: Path) -> Path:
    """The git folder shared by all worktrees (holds hooks, config and objects)."""
    return repo_paths(root).common_dir


def run_hook(root: Path, name: str, args: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the repository's NAME hook like `git commit` would; 0 when it is absent."""
    hook = repo_paths(root).hooks_dir / name
    if not os.access(hook, os.X_OK):
        return 0  # saves spawning git on every snapshot of a repository without hooks
    proc = subprocess.run(
        ["git", "hook", "run", "--ignore-missing", name, "--", *args],
        cwd=root,
        env=_git_env(env),
        check=False,
    )
    return proc.returncode


IDENTITY_HINT = ('Run `git config --global user.email "you@example.com"` and '
                 '`git config --global user.name "Your Name"`, then run the command again.')


def identity_problem(root: Path) -> str | None:
    """Why git could not name the author or committer of a commit here; None when it can.

    `git var` applies the same strict rules as `git commit` (config, GIT_AUTHOR_EMAIL, EMAIL,
    auto-detection, user.useConfigOnly), so the answer is git's own.
    """
    for variable in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        proc = run(["var", variable], root, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
            return lines[-1].removeprefix("fatal: ") if lines else "no name or email is configured"
    return None


def config_get(root: Path, key: str) -> str | None:
    proc = run(["config", "--get", key], root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None
