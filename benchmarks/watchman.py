"""The benchmark's own Watchman daemon: a private socket, state and log in the work folder, started
for the run and stopped at its end, so the "watcher on" rows never depend on (or disturb) a
Watchman the machine already runs. Without the `watchman` program those rows are skipped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def daemon(folder: Path) -> Iterator[Path | None]:
    """The socket of a Watchman started in FOLDER for the block; None without Watchman."""
    program = shutil.which("watchman")
    if program is None:
        yield None
        return
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "sock"
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [program, "--foreground", f"--sockname={sock}", f"--statefile={folder / 'state'}",
         f"--logfile={folder / 'log'}", f"--pidfile={folder / 'pid'}", "--no-save-state"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        yield sock if sock.exists() else None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
