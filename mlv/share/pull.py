"""`mlv pull`: fetch experiment commits and make the work tree's data match them.

The commits are fetched, the data the new HEAD needs is downloaded *before* the branch moves (a
remote that lacks it refuses the pull with nothing changed), the branch fast-forwards, then the
work tree's data is made to match the new HEAD through `restore.restore_paths`, which never
overwrites data that is saved nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlv import locking
from mlv.adapters import dvc, git, remote_trust
from mlv.data.restore import readable_pointer
from mlv.errors import DvcError, GitError, MlvError
from mlv.share import verdicts
from mlv.share.remotes import SKIP_HOOKS_ENV, choose_git_remote, current_branch, remote_branch

if TYPE_CHECKING:
    from mlv.adapters.dvc import TransferProgress
    from mlv.data.track import ProgressSink


@dataclass
class PullResult:
    remote: str
    branch: str
    old: str
    new: str
    commits: int  # commits the branch moved forward by
    restored: list[str] = field(default_factory=list)
    fetched: int = 0
    started: bool = False  # a clone with no commit yet was switched to the remote's branch

    def to_json(self) -> dict[str, object]:
        return {"remote": self.remote, "branch": self.branch, "old": self.old, "new": self.new,
                "commits": self.commits, "restored": self.restored, "fetched": self.fetched,
                "started": self.started}


def worktree_pointers(root: Path) -> list[dvc.Pointer]:
    """The pointers of the pointer files HEAD tracks, as they are in the work tree, and the
    stage outputs the work tree's `dvc.lock` pins."""
    from mlv.pipeline import dvcfiles

    pointers = []
    for rel in git.ls_tree_paths(root, "HEAD", ".dvc"):
        try:
            data = (root / rel).read_bytes()
        except FileNotFoundError:
            continue
        pointer = readable_pointer(data, rel)
        if pointer is not None:
            pointers.append(pointer)
    return pointers + dvcfiles.worktree_stage_outputs(root)


def _start_from_remote(root: Path, given: str | None) -> None:
    """In a clone whose branch has no commit (a bare remote whose HEAD names a branch nobody
    pushed: git's default `master` while the team pushed `main`), switch to the branch the remote
    has, tracking it, as `git checkout BRANCH` would: the remote's default branch, else the
    unborn branch's own name, else its only branch."""
    unborn = (git.head_ref(root) or "").removeprefix("refs/heads/")
    name = choose_git_remote(root, unborn, given)
    git.fetch(root, name, f"+refs/heads/*:refs/remotes/{name}/*")
    prefix = f"refs/remotes/{name}/"
    branches = [ref.removeprefix(prefix) for ref in git.out(["for-each-ref", "--format=%(refname)", prefix], root)
                .splitlines() if ref != f"{prefix}HEAD"]
    symref = git.out(["ls-remote", "--symref", name, "HEAD"], root, check=False)
    default = next((line.split()[1].removeprefix("refs/heads/") for line in symref.splitlines()
                    if line.startswith("ref: ")), None)
    choice = next((b for b in (default, unborn) if b in branches), branches[0] if len(branches) == 1 else None)
    if choice is None or choice.startswith("-"):
        raise GitError(f"this clone has no commit yet and {name} has no branch to start from"
                       if not branches else f"this clone has no commit yet and {name} has several branches",
                       hint=f"Pick one with git: `git checkout {branches[0] if branches else 'BRANCH'}`, "
                            "then `mlv pull`.")
    git.run(["checkout", "--quiet", "-b", choice, "--track", f"{name}/{choice}"], root, env=SKIP_HOOKS_ENV)


def _prefetch(root: Path, target: str, dvc_remote: str | None, transfer: TransferProgress | None) -> int:
    """Download what TARGET's pointers need and the cache lacks, before anything is changed."""
    from mlv.data import restore

    cache = dvc.cache_dir(root)
    missing = {p.md5: p.path for p in restore.pointers_at(root, target) if not dvc.has_object(cache, p.md5)}
    if not missing:
        return 0
    try:
        with dvc.quiet_dvc_logs():
            fetched = remote_trust.fetch_objects(root, sorted(missing), dvc_remote, transfer)
    except DvcError as exc:
        raise exc.with_context(suffix="; the branch was not moved") from None
    for md5, path in sorted(missing.items(), key=lambda item: item[1]):
        if not dvc.has_object(cache, md5):
            raise DvcError(f"{path} of {target[:10]} ({md5}) is not on the DVC remote; the branch was not moved",
                           hint="Ask whoever pushed it to run `mlv push` (or `dvc push`), then pull again.")
    return fetched


def pull(root: Path, remote: str | None = None, dvc_remote: str | None = None,
         progress: ProgressSink | None = None, transfer: TransferProgress | None = None) -> PullResult:
    """Fast-forward the current branch from REMOTE and make the work tree's data match it.

    PROGRESS hears the data written into the work tree, TRANSFER each download from the DVC remote.
    """
    with locking.repository_lock(root):  # no snapshot may commit while the branch and data move
        return _pull(root, remote, dvc_remote, progress, transfer)


def _pull(root: Path, remote: str | None, dvc_remote: str | None, progress: ProgressSink | None,
          transfer: TransferProgress | None) -> PullResult:
    from mlv.data import restore

    # A clone with no commit yet (a remote to start from): not a new repository with no remote.
    started = git.current_branch(root) is None and git.head_ref(root) is not None and bool(git.remote_names(root))
    if started:
        _start_from_remote(root, remote)
    branch = current_branch(root, "pull")
    name = choose_git_remote(root, branch, remote)
    source = remote_branch(root, branch, name)
    tracking = f"refs/remotes/{name}/{source.removeprefix('refs/heads/')}"
    git.fetch(root, name, f"+{source}:{tracking}")
    # The model registry lives in tags: fetch them too (a tag that differs locally is never
    # overwritten; git refuses it and names it).
    git.fetch(root, name, "refs/tags/*:refs/tags/*")
    verdicts.pull_verdicts(root, name)  # saved verdicts; a local one is never overwritten
    old = git.resolve_commit(root, "HEAD")
    new = git.resolve_commit(root, tracking)
    fetched = 0
    commits = 0
    if old != new and not git.is_ancestor(root, new, old):
        if not git.is_ancestor(root, old, new):
            raise GitError(f"{branch} and {name}/{source.removeprefix('refs/heads/')} have diverged, "
                           "so a fast-forward is impossible; nothing was changed",
                           hint="Merge or rebase with git (`git pull`), then run `mlv pull` again.")
        restore.check_commit_paths(root, new, restore.pointers_at(root, new))  # before the branch moves
        fetched = _prefetch(root, new, dvc_remote, transfer)
        commits = git.count_commits(root, new, excluded=[old])
        try:
            git.fast_forward(root, new, env=SKIP_HOOKS_ENV)
        except GitError as exc:
            raise exc.with_context(prefix=f"{branch}: ",
                                   hint="Commit or stash your changes, then run `mlv pull` again.") from None
    try:
        with dvc.quiet_dvc_logs():
            report = restore.restore_paths(root, worktree_pointers(root), fetch_missing=True,
                                            remote=dvc_remote, progress=progress, honour_links=True,
                                            transfer=transfer)
    except MlvError as exc:
        moved = f"{branch} is now at {new[:10]}, but " if commits else ""
        raise exc.with_context(prefix=moved) from None
    head = git.resolve_commit(root, "HEAD")
    return PullResult(name, branch, old, head, commits, report.restored, fetched + report.fetched, started)
