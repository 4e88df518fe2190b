"""A private, persistent copy of the data `mlv reproduce` last used, lent to each worktree.

Writing a dataset of 10,000 files costs seconds on most disks, every time, even copied straight
from the cache. So reproduce keeps its own copy in `.git/mlv/reproduce-data/`, brings it up to
date with a restore (its stat cache means only files that differ are rewritten), *moves* it into
the worktree (a rename: instant), and moves it back after the run. The command only ever sees
this private copy, never the DVC cache, so whatever it writes cannot corrupt the cache: the next
restore notices the change and rewrites the file. Delete the folder at any time to free space.

Only one reproduce may borrow the pool at a time; a concurrent one restores into its worktree
directly, which is slower but otherwise the same.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.data import restore
from mlv.data.pathsafety import checked_path
from mlv.data.safe_write import SafeTree
from mlv.data.statecache import StateCache
from mlv.errors import MlvError
from mlv.locking import try_locked


def _pool_dir(root: Path) -> Path:
    return git.common_dir(root) / "mlv" / "reproduce-data"


@contextlib.contextmanager
def lend_data(root: Path, tree: Path, pointers: Sequence[dvc.Pointer]) -> Iterator[None]:
    """TREE holds POINTERS' data for the duration of the block (fetched from the remote if needed)."""
    for pointer in pointers:  # the worktree's files come from a commit that may be hostile
        checked_path(tree, pointer.path, "data path")
        if os.path.lexists(tree / pointer.path):
            raise MlvError(f"data path {pointer.path!r} is also committed to git in this commit; "
                           "refusing to overwrite it")
    pool = _pool_dir(root)
    with try_locked(pool.with_name("reproduce-data.lock")) as locked:
        if not locked:
            restore_into(root, tree, pointers)
            yield
            return
        state = StateCache.load(pool.with_name("reproduce-data-state.json"))
        _clear_symlinks(pool, pointers)
        # force: the pool is mlv's own copy; whatever a previous command did to it is discarded.
        restore.prepare_restore(root, pointers, fetch_missing=True, force=True, target=pool,
                                state=state).apply()
        moved: list[str] = []
        try:
            for pointer in pointers:
                _move(pool / pointer.path, tree, pointer.path)
                moved.append(pointer.path)
            _share_state(state, tree, moved)
            yield
        finally:
            for path in moved:
                with contextlib.suppress(OSError):  # lost: the next reproduce restores it again
                    _move(tree / path, pool, path)


def restore_into(root: Path, tree: Path, pointers: Sequence[dvc.Pointer]) -> None:
    """Write POINTERS' data into worktree TREE from ROOT's DVC cache (and remote).

    ROOT's, not the worktree's: a pipeline's worktree gets an empty DVC cache of its own, so its
    stages must compute their outputs (see worktree.temporary_worktree).
    """
    from mlv.data.statecache import of_work_tree

    restore.prepare_restore(root, pointers, fetch_missing=True, target=tree, state=of_work_tree(tree)).apply()


def _clear_symlinks(pool: Path, pointers: Sequence[dvc.Pointer]) -> None:
    """A command may have left a symlink where data was; drop the link (never its target)."""
    for pointer in pointers:
        current = pool
        for part in pointer.path.split("/"):
            current = current / part
            if current.is_symlink():
                current.unlink()
                break


def _move(source: Path, base: Path, rel: str) -> None:
    """Rename SOURCE to REL under BASE, its folders opened and created without following a symlink
    (the worktree holds a commit that may be hostile, and the command ran in it meanwhile)."""
    if not os.path.lexists(source):
        return
    folder, _, name = rel.rpartition("/")
    with SafeTree(base) as tree:
        fd = tree.open_dir(folder, create=True)
        if fd is None:  # cannot happen with create=True
            return
        try:
            os.rename(source, name, dst_dir_fd=fd)
        finally:
            os.close(fd)


def _share_state(pool_state: StateCache, tree: Path, paths: list[str]) -> None:
    """Tell the worktree's stat cache what the moved files hold (a rename keeps inode and mtime),
    so judging and `--save` do not hash the data again."""
    from mlv.data.statecache import of_work_tree

    tree_state = of_work_tree(tree)
    for key, entry in pool_state.entries.items():
        if any(key == p or key.startswith(f"{p}/") for p in paths):
            tree_state.set_entry(key, entry)
    tree_state.save()
