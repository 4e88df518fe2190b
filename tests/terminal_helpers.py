"""Running mlv on a terminal (a pty on stdin and stderr), as a user at a prompt would."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from tests.conftest import VENV_BIN

# A colour terminal 120 columns wide, whatever the caller's environment says (the suite pins TERM=dumb
# for everything else: tests/conftest.py). An empty NO_COLOR means colours on (no-color.org).
TERMINAL_ENV = {"TERM": "xterm-256color", "COLUMNS": "120", "NO_COLOR": ""}


def terminal_stdout(columns: int) -> dict[str, str]:
    """The environment that makes mlv print to a pipe what a colour terminal COLUMNS wide gets
    (rich's TTY_COMPATIBLE): for tests that read the tables themselves."""
    return {**TERMINAL_ENV, "TTY_COMPATIBLE": "1", "COLUMNS": str(columns)}


def on_a_terminal(repo: Path, args: list[str], answers: list[bytes] | None = None,
                  env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run mlv with stdin and stderr on a terminal, typing each of ANSWERS when a prompt appears;
    its exit code and everything the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(Path(VENV_BIN) / "mlv"), *args], cwd=repo, stdin=slave, stderr=slave,
                            stdout=subprocess.DEVNULL, env={**os.environ, **TERMINAL_ENV, **(env or {})})
    os.close(slave)
    seen, pending = b"", list(answers or [])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: mlv is done
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen.rstrip().endswith((b"]:", b":", b"?")):
                os.write(master, pending.pop(0))
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def read_until_closed(master: int) -> bytes:
    """Everything a program writes to the pty MASTER until it closes its end."""
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the program is done
            return seen
        if not chunk:
            return seen
        seen += chunk
