"""Run an experiment's command with its output streamed live, and time it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlv.errors import CommandFailedError, Interrupted

COMMAND_NOT_FOUND = 127  # what POSIX shells return when the command does not exist


@dataclass(frozen=True)
class RunResult:
    command: str
    exit_code: int
    started: str  # ISO 8601, UTC
    duration_s: float


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_command(
    command: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    stdout_to_stderr: bool = False,
) -> RunResult:
    """Run COMMAND through the shell in CWD, output live; Ctrl-C stops it and raises Interrupted.

    The shell is used on purpose: a recorded command such as `python train.py && python eval.py`
    must replay exactly as the user typed it.
    """
    _check_program_exists(command, env)
    started, t0 = now_iso(), time.monotonic()
    # With --json, stdout carries our JSON document, so the command's output goes to stderr.
    stdout = sys.stderr.fileno() if stdout_to_stderr else None
    try:
        proc = subprocess.Popen(command, shell=True, cwd=cwd, env=dict(env) if env else None,  # noqa: S602
                                stdout=stdout)
    except OSError as exc:
        raise CommandFailedError(f"cannot start {command!r}: {exc.strerror}") from None
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        _stop(proc)
        raise Interrupted("interrupted while the command ran; no experiment commit was made") from None
    duration = round(time.monotonic() - t0, 3)
    if code == COMMAND_NOT_FOUND:
        word = (shlex.split(command) or [command])[0]
        raise CommandFailedError(f"command not found: {word}",
                                 hint="Check the command, or activate the environment that has it.")
    return RunResult(command=command, exit_code=code, started=started, duration_s=duration)


# Shell keywords and builtins: a command starting with one of these has no program to look up.
_SHELL_WORDS = frozenset({
    "!", "{", "}", "[[", "]]", ".", ":", "case", "cd", "command", "echo", "eval", "exec", "exit",
    "export", "for", "if", "printf", "read", "set", "source", "test", "time", "true", "false",
    "type", "ulimit", "umask", "unset", "until", "while",
})


def _check_program_exists(command: str, env: Mapping[str, str] | None) -> None:
    """Refuse a command whose program is missing before the shell prints its own noise."""
    try:
        words = shlex.split(command)
    except ValueError:
        return  # let the shell report its own syntax error
    words = [w for w in words if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)]
    if not words or words[0] in _SHELL_WORDS or any(c in words[0] for c in "$`|&;<>()"):
        return
    path = (env or os.environ).get("PATH")
    if shutil.which(words[0], path=path) is None:
        raise CommandFailedError(f"command not found: {words[0]}",
                                 hint="Check the command, or activate the environment that has it.")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The child got the same Ctrl-C; give it a moment to exit, then make sure it does."""
    for sig, grace in ((None, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if sig is not None:
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:
            continue
