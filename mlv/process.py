"""Whether a process (or process group) still runs, from its id. Builtins only."""

from __future__ import annotations

import os


def is_alive(pid: int, *, group: bool = False) -> bool:
    """PID (with GROUP: the process group PID) has a process, as far as this user can tell.

    Only "no such process" means gone. Any other error (a process of another user refuses the
    signal) means it may run, so callers keep what it may be using. An id of 0 or below names no
    process (signal 0 to it would probe this process's own group), as a corrupt pid file may say.
    """
    if pid <= 0:
        return False
    try:
        os.killpg(pid, 0) if group else os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
