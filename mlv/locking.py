"""Advisory file locks (fcntl.flock), the one helper behind every lock mlv takes.

A flock belongs to an open file and the kernel drops it when the process exits, however it exits,
so a lock file left on disk never blocks anyone: there is no stale lock to clean up.

The repository lock (`.git/mlv/lock`, one per work tree) is held for the whole of every mlv
command that writes to the work tree, index or branch (snapshot, checkout, pull, reproduce
--save), so two of them never interleave; a second one waits a little, then refuses with the
first one's pid and command line. It is re-entrant within a process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mlv.errors import MlvError

REPOSITORY_LOCK = "mlv/lock"
WAIT_SECONDS = 10.0  # how long a second command waits before it refuses (MLV_LOCK_WAIT overrides)
_POLL_SECONDS = 0.05

_held: dict[str, int] = {}  # repository lock files this process holds -> nesting depth


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not O_TRUNC: the file names the current holder, which a waiting process reads.
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on PATH for the block, waiting as long as it takes."""
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def try_locked(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on PATH for the block if it is free now; yields whether it was."""
    fd = _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _lock_file(root: Path) -> Path:
    from mlv.adapters import git

    return git.git_dir(root) / REPOSITORY_LOCK


def _wait_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("MLV_LOCK_WAIT", WAIT_SECONDS)))
    except ValueError:
        return WAIT_SECONDS


@contextlib.contextmanager
def repository_lock(root: Path, what: str | None = None) -> Iterator[None]:
    """Hold ROOT's repository lock for the block, or raise MlvError naming the command holding it.

    WHAT describes this command for whoever is refused next (default: this process's arguments).
    """
    path = _lock_file(root)
    key = str(path)
    if key in _held:  # re-entrant: `reproduce --save` snapshots while holding it, for example
        _held[key] += 1
        try:
            yield
        finally:
            _held[key] -= 1
        return
    fd = _open(path)
    try:
        deadline = time.monotonic() + _wait_seconds()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise MlvError(f"another mlv command is running {_holder(fd)}; nothing was changed",
                                   hint="Wait for it to finish, then run this command again.") from None
                time.sleep(_POLL_SECONDS)
        label = what or " ".join(["mlv", *sys.argv[1:]])
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{label}\n".encode("utf-8", errors="replace"), 0)
        _held[key] = 1
        try:
            yield
        finally:
            del _held[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # the next reader must not name a finished process
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_repository_lock(root: Path) -> Iterator[bool]:
    """Hold ROOT's repository lock for the block if no other process holds it; yields whether it could.

    For work that must never act under a running mlv command, and would rather skip than wait:
    finishing an interrupted publish, whose journal is live while its process runs.
    """
    path = _lock_file(root)
    if str(path) in _held:
        yield True
        return
    if not path.parent.is_dir():  # no mlv command ever ran here: nobody holds it
        yield True
        return
    with try_locked(path) as got:
        yield got


def _holder(fd: int) -> str:
    """`(pid N): COMMAND`, as the holder wrote it in the lock file."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        text = ""
    pid, _, command = text.partition("\n")
    command = "".join(c for c in " ".join(command.split()) if c.isprintable())  # one line, whatever was written
    pid = pid.strip() if pid.strip().isdigit() else "unknown"
    return f"(pid {pid}): {command}" if command else f"(pid {pid})"
