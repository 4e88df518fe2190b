"""Run an experiment's command with its output streamed live, and time it."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlv.errors import CommandFailedError, Interrupted
from mlv.process import is_alive

COMMAND_NOT_FOUND = 127  # what POSIX shells return when the command does not exist


TAIL_LINES = 20  # the last lines of standard output kept in the record
TAIL_LINE_CHARS = 400
MAX_STDOUT_METRICS = 100
_LINE_CAP = 64 * 1024  # a "line" longer than this is cut: a progress bar without newlines
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
# `Test MSE: 0.1234` and `loss = 0.5` (a whole line), `mse=0.09 r2=0.99` (pairs within a line).
_METRIC_LINE = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_ ./-]{{0,62}}?)\s*:\s*({_NUMBER})\s*")
_METRIC_ASSIGN = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_.-]{{0,62}})\s*=\s*({_NUMBER})\s*")
_METRIC_PAIR = re.compile(rf"(?<![\w.])([A-Za-z_][A-Za-z0-9_.-]{{0,62}})=({_NUMBER})(?![\w.])")


@dataclass(frozen=True)
class RunResult:
    command: str
    exit_code: int
    started: str  # ISO 8601, UTC
    duration_s: float
    stdout_sha256: str = hashlib.sha256(b"").hexdigest()
    stdout_bytes: int = 0
    stdout_tail: tuple[str, ...] = ()
    stdout_metrics: tuple[tuple[str, float | int], ...] = ()  # `name: number` lines, last value wins

    def stdout_evidence(self) -> dict[str, object]:
        """The record's `stdout` field."""
        return {"sha256": self.stdout_sha256, "bytes": self.stdout_bytes, "tail": list(self.stdout_tail)}


class _StdoutTee:
    """Passes the command's output through as it comes, hashing it and keeping what the record
    needs: the last lines and the `name: number` metrics (all capped)."""

    def __init__(self, sink: int) -> None:
        self.sink = sink
        self.digest = hashlib.sha256()
        self.size = 0
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.metrics: dict[str, float | int] = {}
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        with contextlib.suppress(OSError):  # a closed terminal must not stop the command
            os.write(self.sink, chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()[-_LINE_CAP:]
        for line in lines:
            self._line(line[-_LINE_CAP:].decode("utf-8", errors="replace").rstrip("\r"))

    def close(self) -> None:
        if self._partial:
            self._line(self._partial.decode("utf-8", errors="replace"))
            self._partial = b""

    def _line(self, text: str) -> None:
        text = text.rsplit("\r", 1)[-1]  # a progress bar redrawn with \r: its last state
        if text.strip():
            self.tail.append(text[:TAIL_LINE_CHARS])
        whole = _METRIC_LINE.fullmatch(text) or _METRIC_ASSIGN.fullmatch(text)
        pairs = [(whole.group(1), whole.group(2))] if whole else _METRIC_PAIR.findall(text)
        for raw_name, value in pairs:
            name = raw_name.strip()
            if name in self.metrics or len(self.metrics) < MAX_STDOUT_METRICS:
                self.metrics[name] = _number(value)


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


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
    Its standard output passes through a pipe, live, so the record can keep evidence of it.
    WHEN_STOPPED ends the message (what the interruption means for the caller's operation).
    """
    _check_program_exists(command, env)
    started, t0 = now_iso(), time.monotonic()
    # With --json, stdout carries our JSON document, so the command's output goes to stderr.
    tee = _StdoutTee(_fd(sys.stderr, 2) if stdout_to_stderr else _fd(sys.stdout, 1))
    child_env = dict(env if env is not None else os.environ)
    # Through a pipe Python would buffer the command's output until it exits: keep it live.
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    with _ForwardedSignals() as signals:
        try:
            proc = subprocess.Popen(command, shell=True, cwd=cwd, env=child_env,  # noqa: S602
                                    stdout=subprocess.PIPE, **_OWN_PROCESS_GROUP)
        except OSError as exc:
            raise CommandFailedError(f"cannot start {command!r}: {exc.strerror}") from None
        signals.group = proc.pid
        reader = threading.Thread(target=_pump, args=(proc, tee), daemon=True)
        reader.start()
        with _terminal_given_to(proc.pid):
            code = _wait_unless_signalled(proc, signals)
        received = signals.received
    # A background process the command left running may hold the pipe open: do not wait for it.
    reader.join(timeout=2.0)
    if not reader.is_alive() and proc.stdout is not None:
        proc.stdout.close()  # drained; while a reader still blocks on it, it stays open for it
    tee.close()
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
    return RunResult(command=command, exit_code=code, started=started, duration_s=duration,
                     stdout_sha256=tee.digest.hexdigest(), stdout_bytes=tee.size, stdout_tail=tuple(tee.tail),
                     stdout_metrics=tuple(tee.metrics.items()))


def _fd(stream: object, default: int) -> int:
    try:
        return int(stream.fileno())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return default


def _pump(proc: subprocess.Popen[bytes], tee: _StdoutTee) -> None:
    assert proc.stdout is not None  # noqa: S101 - opened with stdout=PIPE
    fd = proc.stdout.fileno()
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 65536):
            tee.feed(chunk)


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
    with _exit_notice(proc) as ended_within:
        while signals.received is None:
            if ended_within(0.2):
                return proc.wait()
    _stop(proc)
    return proc.wait()


@contextlib.contextmanager
def _exit_notice(proc: subprocess.Popen[bytes]) -> Iterator[Callable[[float], bool]]:
    """A function telling whether PROC ended within a number of seconds.

    Where the kernel offers a pidfd (Linux 5.3+), the wait ends the moment the command exits;
    elsewhere subprocess polls, with sleeps of up to 50 ms, which a short command pays each time.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, an older kernel, or a sandbox refusing it
        def polled(seconds: float) -> bool:
            try:
                proc.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                return False
            return True

        yield polled
        return

    # poll, not select: a library caller may hold more than select's 1024 file descriptors.
    exits = select.poll()
    exits.register(pidfd, select.POLLIN)

    def notified(seconds: float) -> bool:
        exits.poll(seconds * 1000)  # (a signal to mlv is forwarded by its handler meanwhile)
        return proc.poll() is not None

    try:
        yield notified
    finally:
        os.close(pidfd)


def _signal_group(group: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """The command's group got the signal; give it a moment to exit, then make sure all of it does."""
    for sig, grace in ((None, 5.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        if sig is not None:
            _signal_group(proc.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if proc.poll() is not None and not is_alive(proc.pid, group=True):
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


# -- what this run produced ------------------------------------------------------------------------

Fingerprint = tuple[tuple[str, int, int, str], ...]  # (relpath, size, mtime_ns, sha256 or "") per file
MAX_HASHED_BYTES = 16 * 1024 * 1024  # files up to this size are hashed too; larger ones by stat only


def fingerprints(root: Path, paths: list[str]) -> dict[str, Fingerprint | None]:
    """Each path's files as they are now (None when absent), to tell afterwards whether a run wrote
    them: the mtime and size of every file, and the content hash of small ones (metrics files)."""
    return {path: _fingerprint(root / path) for path in paths}


def _fingerprint(base: Path) -> Fingerprint | None:
    """A symlinked file counts by the file it leads to, as DVC hashes it (a symlinked folder is
    not followed)."""
    if not base.exists() or (base.is_symlink() and base.is_dir()):
        return None
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    found = []
    for file in files:
        try:
            stat = file.stat()
            digest = _sha256(file) if stat.st_size <= MAX_HASHED_BYTES else ""
        except OSError:
            continue
        found.append((file.relative_to(base).as_posix(), stat.st_size, stat.st_mtime_ns, digest))
    return tuple(found)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def not_written_by_run(root: Path, before: dict[str, Fingerprint | None]) -> list[str]:
    """The paths of BEFORE that the run left as they were (same files, mtimes and hashes): what
    they hold came from an earlier run, not this one. A path that is absent is left to the
    caller's usual handling."""
    stale = []
    for path, old in before.items():
        if old is not None and _fingerprint(root / path) == old:
            stale.append(path)
    return stale


def stdout_metrics(run: RunResult | None, metrics_files: list[str]) -> dict[str, object]:
    """Metrics read from the run's `name: number` output lines, when no metrics file is declared
    (the record says so with `metrics_from: stdout`)."""
    if run is None or metrics_files or not run.stdout_metrics:
        return {}
    return {"stdout": dict(run.stdout_metrics)}
