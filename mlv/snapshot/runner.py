"""Run an experiment's command with its output streamed live, and time it."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
    when_stopped: str = "no experiment commit was made",
) -> RunResult:
    """Run COMMAND through the shell in CWD, output live; a signal stops it and raises Interrupted.

    The shell is used on purpose: a recorded command such as `python train.py && python eval.py`
    must replay exactly as the user typed it. The command runs in a process group of its own, and
    SIGINT, SIGTERM and SIGHUP sent to mlv are passed on to that whole group, so stopping mlv (Ctrl-C,
    `kill PID`, a closed terminal) also stops the command and leaves no orphan training for hours.
    WHEN_STOPPED ends the message (what the interruption means for the caller's operation).
    """
    _check_program_exists(command, env)
    started, t0 = now_iso(), time.monotonic()
    # With --json, stdout carries our JSON document, so the command's output goes to stderr.
    stdout = sys.stderr.fileno() if stdout_to_stderr else None
    with _ForwardedSignals() as signals:
        try:
            proc = subprocess.Popen(command, shell=True, cwd=cwd, env=dict(env) if env else None,  # noqa: S602
                                    stdout=stdout, **_OWN_PROCESS_GROUP)
        except OSError as exc:
            raise CommandFailedError(f"cannot start {command!r}: {exc.strerror}") from None
        signals.group = proc.pid
        with _terminal_given_to(proc.pid):
            code = _wait_unless_signalled(proc, signals)
        received = signals.received
    if received is None and code in _DIED_OF_CTRL_C and _had_terminal():
        received = signal.SIGINT  # the terminal's Ctrl-C went to the command, which owned the terminal
    if received is not None:
        name = signal.Signals(received).name
        raise Interrupted(f"interrupted ({name}) while the command ran; the command was stopped and "
                          f"{when_stopped}", exit_code=128 + received) from None
    duration = round(time.monotonic() - t0, 3)
    if code == COMMAND_NOT_FOUND:
        word = (shlex.split(command) or [command])[0]
        raise CommandFailedError(f"command not found: {word}",
                                 hint="Check the command, or activate the environment that has it.")
    return RunResult(command=command, exit_code=code, started=started, duration_s=duration)


_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Popen's `process_group` is new in Python 3.11; before, the child calls setpgid(0, 0) itself.
_OWN_PROCESS_GROUP: dict[str, Any] = (
    {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}
)
_DIED_OF_CTRL_C = (-signal.SIGINT, 128 + signal.SIGINT)


class _ForwardedSignals:
    """While the command runs: SIGINT/SIGTERM/SIGHUP to mlv go to the command's process group.

    The first one is remembered, so that mlv's wait gives the command a grace period and then makes
    sure it ends. Handlers can only be set in the main thread; elsewhere (a library caller's
    thread) nothing is installed and the defaults stay.
    """

    def __init__(self) -> None:
        self.group: int | None = None
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> _ForwardedSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in _FORWARDED:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum: int, frame: object) -> None:
        # Never raises: an exception from a handler could land anywhere, even between the wait and
        # the cleanup. The wait below looks at `received` instead.
        if self.group is not None:
            _signal_group(self.group, signum)
        if self.received is None:
            self.received = signum


def _wait_unless_signalled(proc: subprocess.Popen[bytes], signals: _ForwardedSignals) -> int:
    """The command's exit code; on a signal to mlv, its group is stopped before returning."""
    if signals.received is not None:  # arrived before the group existed to forward it to
        _signal_group(proc.pid, signals.received)
    while signals.received is None:
        try:
            return proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
    _stop(proc)
    return proc.wait()


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The command's group got the signal; give it a moment to exit, then make sure all of it does."""
    for sig, grace in ((None, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if sig is not None:
            _signal_group(proc.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(proc.pid):
                return
            time.sleep(0.05)


def _had_terminal() -> bool:
    return _foreground_terminal() is not None


def _foreground_terminal() -> int | None:
    """stdin's terminal when mlv runs in its foreground (an interactive shell), else None."""
    try:
        fd = sys.stdin.fileno()
        if os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp():
            return fd
    except (OSError, ValueError, AttributeError):
        pass
    return None


@contextlib.contextmanager
def _terminal_given_to(group: int) -> Iterator[None]:
    """In an interactive shell the command's group owns the terminal while it runs: it may read
    from it (a `breakpoint()` in train.py) and gets Ctrl-C directly, as if typed at the shell."""
    fd = _foreground_terminal()
    if fd is None:
        yield
        return
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not set it
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, group)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, os.getpgrp())
        signal.signal(signal.SIGTTOU, previous)


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


