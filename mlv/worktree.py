"""A throwaway linked git worktree, so a re-run never touches the user's working tree.

It lives in the system's temporary folder, outside the repository: nothing appears in the user's
`git status`, their index, HEAD, stash, untracked and ignored files stay as they were. Its DVC
configuration shares the user's cache and remotes, so data restored there costs no download.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlv import dvcio, gitio


@contextmanager
def temporary_worktree(root: Path, commit: str, *, keep: bool = False) -> Iterator[Path]:
    """A worktree of COMMIT for the duration of the block; removed afterwards unless KEEP.

    Removal happens on every exit, Ctrl-C included (the `finally` runs as KeyboardInterrupt
    unwinds), so an interrupted reproduce leaves no worktree behind.
    """
    parent = Path(tempfile.mkdtemp(prefix=f"mlv-reproduce-{commit[:10]}-"))
    path = parent / "worktree"
    try:
        gitio.worktree_add(root, path, commit)
        if dvcio.is_dvc_repo(path):
            dvcio.share_cache_with(path, root)
        yield path
    finally:
        if not keep:
            gitio.worktree_remove(root, path)
            _rmdir_quietly(parent)


def _rmdir_quietly(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
