"""The branch and the remotes `mlv push` and `mlv pull` share with, and what a clone would lack."""

from __future__ import annotations

from pathlib import Path

from mlv.adapters import dvc, git
from mlv.errors import GitError

SKIP_HOOKS_ENV = {"MLV_SKIP_HOOKS": "1"}  # our own hooks would only repeat what we just did


def current_branch(root: Path, verb: str) -> str:
    """The branch to push or pull; otherwise an error that says what to do for VERB."""
    branch = git.current_branch(root)
    if branch is not None:
        return branch
    if git.head_ref(root) is not None:  # on a branch that has no commit yet
        if verb == "pull":
            raise GitError("this branch has no commits yet, so there is nothing to pull into",
                           hint="To start from a shared repository, `git clone` it; or make a first "
                                "commit, then `mlv pull`.")
        raise GitError("this branch has no commits yet, so there is nothing to push",
                       hint="Record an experiment with `mlv snapshot` first.")
    raise GitError(f"HEAD is detached (after `mlv checkout` of an older experiment), so there is no branch "
                   f"to {verb}",
                   hint=f"Switch to a branch first (`mlv checkout main`, or `git switch -c NAME` to keep "
                        f"this commit), then `mlv {verb}`.")


def default_git_remote(root: Path, branch: str) -> str | None:
    """The git remote `mlv push` would use for BRANCH, or None when it would ask for one."""
    try:
        return choose_git_remote(root, branch, None)
    except GitError:
        return None


def unshared_remote_config(root: Path, dvc_remote: str | None) -> str | None:
    """Why a teammate's clone would not know the DVC remote, or None when HEAD's `.dvc/config` has it.

    A remote added with `dvc remote add` lives in `.dvc/config` (or `.dvc/config.local` with
    --local), and only the committed file reaches a clone.
    """
    import configparser

    name = dvc_remote or dvc.default_remote(root)
    if not name:
        return None
    committed = configparser.ConfigParser(interpolation=None)
    try:
        committed.read_string((git.read_blob(root, "HEAD", ".dvc/config") or b"").decode("utf-8", "replace"))
    except configparser.Error:
        return None  # DVC itself will complain about a broken config
    sections = (f"'remote \"{name}\"'", f'remote "{name}"')
    has_url = any(committed.has_option(section, "url") for section in sections)
    is_default = dvc_remote is not None or committed.get("core", "remote", fallback="").strip() == name
    if has_url and is_default:
        return None
    return (f"the DVC remote {name!r} is not in the committed .dvc/config (only in .dvc/config.local or "
            "in uncommitted changes), so a teammate who clones will not have it; commit it: "
            "`git add .dvc/config && git commit -m 'DVC remote'` (a --local remote: add it again without --local)")


def choose_git_remote(root: Path, branch: str, given: str | None) -> str:
    remotes = git.remote_names(root)
    if given:
        if given not in remotes:
            raise GitError(f"no git remote named {given!r}",
                           hint=f"Known remotes: {', '.join(remotes) or 'none'}; add one with `git remote add`.")
        return given
    upstream = git.config_get(root, f"branch.{branch}.remote")
    if upstream and upstream in remotes:
        return upstream
    if "origin" in remotes:
        return "origin"
    if len(remotes) == 1:
        return remotes[0]
    raise GitError("no git remote to share with" if not remotes else "several git remotes and no upstream",
                   hint="Name one: `mlv push REMOTE` (add it first with `git remote add NAME URL`).")


def remote_branch(root: Path, branch: str, remote: str) -> str:
    if git.config_get(root, f"branch.{branch}.remote") == remote:
        merge = git.config_get(root, f"branch.{branch}.merge")
        if merge:
            return merge
    return f"refs/heads/{branch}"
