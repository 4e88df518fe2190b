"""A throwaway linked git worktree, so a re-run never touches the user's working tree.

It lives under `.git/mlv/reproduce/`, outside the working tree: nothing appears in the user's
`git status`, their index, HEAD, stash, untracked and ignored files stay as they were. Its DVC
configuration shares the user's cache and remotes, so data restored there costs no download.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.data.pathsafety import check_no_symlink
from mlv.process import is_alive


@contextmanager
def temporary_worktree(root: Path, commit: str, *, keep: bool = False,
                       private_cache: bool = False) -> Iterator[Path]:
    """A worktree of COMMIT for the duration of the block; removed afterwards unless KEEP.

    With PRIVATE_CACHE, DVC in the worktree gets an empty cache of its own (see
    `use_shared_cache` to switch back): a DVC pipeline must compute its outputs, not have DVC
    check them out of the shared cache or its run-cache.

    Removal happens on every exit, Ctrl-C included (the `finally` runs as KeyboardInterrupt
    unwinds), so an interrupted reproduce leaves no worktree behind.
    """
    # Inside git's own folder: never part of the user's working tree, and on the same file system
    # as the repository (and usually its DVC cache), so data can be reflinked and moved to trash.
    base = git.common_dir(root) / "mlv" / "reproduce"
    base.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root, base)
    parent = Path(tempfile.mkdtemp(prefix=f"{commit[:10]}-", dir=base))
    path = parent / "worktree"
    owner = parent / OWNER_FILE
    owner.write_text(str(os.getpid()))
    try:
        git.worktree_add(root, path, commit)
        if dvc.is_dvc_repo(path):
            # The commit may hold `.dvc` or `.dvc/config.local` as a symlink: writing the config
            # through it would overwrite a file anywhere.
            check_no_symlink(path, ".dvc/config.local", "DVC configuration")
            dvc.share_cache_with(path, root, parent / PRIVATE_CACHE if private_cache else None)
        yield path
    finally:
        if keep:
            owner.unlink(missing_ok=True)  # a kept worktree is the user's now: never swept
        else:
            _remove(root, parent, path)


OWNER_FILE = "owner.pid"
PRIVATE_CACHE = "dvc-cache"  # beside the worktree: deleted with it


def use_shared_cache(root: Path, tree: Path) -> None:
    """Point DVC in worktree TREE back at ROOT's cache (for `--save`, whose objects must last)."""
    if dvc.is_dvc_repo(tree):
        dvc.share_cache_with(tree, root)


def _remove_abandoned(root: Path, base: Path) -> None:
    """Remove worktrees whose reproduce was killed (SIGKILL skips `finally`): their owner is gone."""
    for parent in base.iterdir():
        try:
            pid = int((parent / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # kept with --keep, or being deleted in the background
        if not is_alive(pid):
            _remove(root, parent, parent / "worktree")


def _remove(root: Path, parent: Path, path: Path) -> None:
    """Unregister the worktree now; delete its files (gigabytes of data, maybe) in the background.

    Everything but its `.git` link moves to a trash folder first (a rename: instant), so `git
    worktree remove` only has the code left to delete and the user gets the verdict without
    waiting for the data to be deleted.
    """
    (parent / OWNER_FILE).unlink(missing_ok=True)  # being deleted: not abandoned any more
    trash = parent / "trash"
    with contextlib.suppress(OSError):
        trash.mkdir()
        for entry in os.listdir(path):
            if entry != ".git":
                os.rename(path / entry, trash / entry)
    git.worktree_remove(root, path)
    # `sh` starts rm in the background and exits at once, so no child is left unwaited.
    proc = subprocess.run(["sh", "-c", 'rm -rf -- "$1" </dev/null >/dev/null 2>&1 &', "sh", str(parent)],
                          check=False, start_new_session=True)
    if proc.returncode != 0:
        shutil.rmtree(parent, ignore_errors=True)
