"""A private Watchman daemon for the watcher tests: its own socket, state and log in a temporary
folder, in the foreground of a subprocess the test kills at the end. `WATCHMAN_SOCK` tells mlv
(and Watchman's own clients) where it listens.

Without the `watchman` program the tests skip visibly, or fail under MLV_REQUIRE_WATCHMAN=1
(`.ci/run` installs Debian's package and sets it, so CI runs them or fails, never skips).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

REQUIRED_ENV = "MLV_REQUIRE_WATCHMAN"


class Watchman:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sock = folder / "sock"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        program = shutil.which("watchman")
        if program is None:
            message = "watchman is not installed (apt-get install watchman)"
            if os.environ.get(REQUIRED_ENV) == "1":
                pytest.fail(f"{message}, and {REQUIRED_ENV}=1")
            pytest.skip(message)
        self.process = subprocess.Popen(
            [program, "--foreground", f"--sockname={self.sock}", f"--statefile={self.folder / 'state'}",
             f"--logfile={self.folder / 'log'}", f"--pidfile={self.folder / 'pid'}", "--no-save-state"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.folder / "log").read_text(errors="replace")[-500:] if (self.folder / "log").exists() else ""
                self.stop()
                pytest.fail(f"watchman did not start: {log}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None
        self.sock.unlink(missing_ok=True)
