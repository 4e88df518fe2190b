"""Run `mlv` and `dvc` in processes forked from one that has imported them already.

Most of a short command's time is the interpreter starting and importing typer, rich and DVC;
the suite runs about two thousand such commands. A fork server (one per pytest worker) pays that
once: each command is still a process of its own, with its own argv, working directory,
environment, standard streams and exit code, running the same entry point as the console script
(`mlv.cli.app:main`, `dvc.cli:main`), from a clean, single-threaded interpreter that has run
nothing but imports.

What a fork does not give, and where the tests therefore start the real executables: an import
measured by the command itself (`--help` staying light, tests/test_cli_meta.py), a terminal
(tests/terminal_helpers.py), signals to a process group (conftest.spawned) and git hooks.
`MLV_TEST_FORKSERVER=0` turns the server off: every command then starts its executable.

The test's own calls (conftest.run_program) go over a socket pair: a request is a pickled
`(program, argv, cwd, env, stdin, timeout)` with a 4-byte length; the answer a pickled
`(returncode, stdout, stderr)`. Code that starts executables itself (the benchmark harness, a
CI workflow's shell steps) can use `ForkServer.launchers()` instead: a folder with `mlv` and `dvc`
launchers, short scripts that connect to the server's Unix socket, hand it their argv, working
directory, environment and their own three standard streams (passed as file descriptors), and
exit with the command's exit code. The server serves both, and commands may overlap (a command may
start a launcher).

`python` runs `python -c CODE ARGS...` the same way, for a test's own probes that import DVC.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ENTRY_POINTS = {"mlv": ("mlv.cli.app", "main"), "dvc": ("dvc.cli", "main")}
# What DVC's commands import on first use (measured: dulwich, pygit2, networkx, ruamel, its command
# modules...), about 0.1-0.25 s that each forked `dvc` call would otherwise pay again.
_PRELOAD = ("mlv.cli.app", "dvc.cli", "dvc.cli.parser", "dvc.repo", "dvc.repo.index", "dvc.repo.graph",
            "dvc.repo.trie", "dvc.repo.stage", "dvc.repo.plots", "dvc.repo.brancher", "dvc.repo.experiments",
            "dvc.repo.worktree", "dvc.repo.open_repo", "dvc.scm", "dvc.dirs", "dvc.data_cloud", "dvc.cachemgr",
            "dvc.rwlock", "dvc.ui.table", "dvc.utils.strictyaml", "dvc_data.hashfile", "dvc_data.hashfile.status",
            "dvc_data.index.checkout", "dvc_data.index.push", "dvc_data.index.fetch", "dvc_render",
            "scmrepo.git.backend.dulwich", "scmrepo.git.backend.pygit2", "dulwich.porcelain", "dulwich.worktree",
            "pygit2", "networkx", "ruamel.yaml", "configobj", "rich.table", "rich.live", "rich.status", "yaml",
            # The `data` extra, imported by every snapshot that profiles a table (about 0.3 s) and by
            # `mlv data check` (scipy, 0.6 s more), and the S3 and SSH file systems a push or pull
            # opens (0.3 s each). A test that hides the extra sets PYTHONPATH and so starts its
            # executable (ForkServer.can_run).
            "numpy", "pyarrow", "pyarrow.compute", "pyarrow.csv", "pyarrow.parquet", "scipy.stats",
            "dvc_s3", "s3fs", "dvc_ssh", "sshfs")


def _send(sock: socket.socket, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(struct.pack("!I", len(data)) + data)


def _receive(sock: socket.socket) -> Any:
    header = _read_exactly(sock, 4)
    if header is None:
        return None
    body = _read_exactly(sock, struct.unpack("!I", header)[0])
    return pickle.loads(body) if body is not None else None  # noqa: S301 - our own pipe


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# A launcher: the interpreter without site (a few milliseconds), the standard library alone.
_LAUNCHER = """#!{python} -S
import os, pickle, socket, struct, sys
request = pickle.dumps(({program!r}, sys.argv[1:], os.getcwd(), dict(os.environ)))
with socket.socket(socket.AF_UNIX) as server:
    server.connect({socket_path!r})
    socket.send_fds(server, [struct.pack("!I", len(request)) + request], [0, 1, 2])
    reply = server.recv(4)
os._exit(struct.unpack("!i", reply)[0] if len(reply) == 4 else 1)
"""


class ForkServer:
    """The client: one server process per pytest worker, started with the session (or at the
    first command)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._folder: Path | None = None
        self._lock = threading.Lock()
        self._startup_env: dict[str, str] = {}

    def can_run(self, env: dict[str, str]) -> bool:
        """False when ENV sets what only an interpreter's start-up reads (PYTHONPATH, import
        profiling, the locale of the standard streams) otherwise than the server's own start did:
        such a command needs its executable."""
        started_with = self._startup_env if self._sock is not None else _startup_settings(dict(os.environ))
        return _startup_settings(env) == started_with

    def run(self, program: str, argv: list[str], cwd: Path, env: dict[str, str],
            stdin: str | None, timeout: float) -> subprocess.CompletedProcess[str]:
        with self._lock:
            sock = self._connect()
            _send(sock, (program, argv, str(cwd), env, stdin, timeout))
            answer = _receive(sock)
        if answer is None:
            self.close()
            raise RuntimeError("the test fork server died; rerun with MLV_TEST_FORKSERVER=0 to see why")
        code, out, err = answer
        if code is None:
            raise subprocess.TimeoutExpired([program, *argv], timeout, out, err)
        return subprocess.CompletedProcess([program, *argv], code, out, err)

    def start(self) -> None:
        """Start the server now, so that its imports overlap with whatever comes before the
        first command (pytest collecting the tests)."""
        with self._lock:
            self._connect()

    def launchers(self) -> Path:
        """The folder of this server's `mlv` and `dvc` launchers (see the module's docstring)."""
        with self._lock:
            self._connect()
            assert self._folder is not None
            return self._folder

    def _connect(self) -> socket.socket:
        if self._sock is None:
            # The socket's path must be short (108 bytes on Linux), which a pytest tmp_path or a
            # TMPDIR may not be. It listens before the server starts: a launcher never finds it
            # missing.
            self._folder = Path(tempfile.mkdtemp(prefix="mlv-forks-", dir="/tmp" if os.path.isdir("/tmp") else None))
            listener = socket.socket(socket.AF_UNIX)
            listener.bind(str(self._folder / "server.sock"))
            listener.listen(64)
            ours, theirs = socket.socketpair()
            fds = [theirs.fileno(), listener.fileno()]
            self._proc = subprocess.Popen([sys.executable, "-m", "tests.forkserver", *map(str, fds)],
                                          pass_fds=fds, stdin=subprocess.DEVNULL,
                                          cwd=Path(__file__).resolve().parent.parent)
            theirs.close()
            listener.close()
            for program in ENTRY_POINTS:
                launcher = self._folder / program
                launcher.write_text(_LAUNCHER.format(python=sys.executable, program=program,
                                                     socket_path=str(self._folder / "server.sock")))
                launcher.chmod(0o755)
            self._sock = ours
            self._startup_env = _startup_settings(dict(os.environ))
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _startup_settings(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON") or k in ("LANG", "LC_ALL", "LC_CTYPE")}


def enabled() -> bool:
    return os.environ.get("MLV_TEST_FORKSERVER", "1") != "0"


# -- the server -----------------------------------------------------------------------------------

def _preload() -> None:
    for name in _PRELOAD:
        __import__(name)
    _import_all_of_mlv()
    # What was imported never changes: out of the collector's sight, a child's collections do not
    # touch (and so copy) the pages of the tens of megabytes every child shares with the server.
    gc.freeze()


def _import_all_of_mlv() -> None:
    """Every module of mlv (each would otherwise be imported again by every command using it)."""
    import pkgutil

    import mlv

    for info in pkgutil.walk_packages(mlv.__path__, "mlv."):
        __import__(info.name)


@dataclass
class _Requested:
    """A command the test asked for over the socket pair: its output files, until it ends."""

    pid: int
    out: IO[bytes]
    err: IO[bytes]
    deadline: float


def serve(requests: socket.socket, listener: socket.socket) -> None:
    """Until the test's end of REQUESTS closes: fork a command per request and per launcher
    connection on LISTENER; answer a request when its command ends (or is killed at its timeout)."""
    _preload()
    requested: dict[int, _Requested] = {}  # pidfd -> the one command a test waits for
    launched: dict[int, int] = {}  # pidfd -> pid: commands that report on their own connection
    while True:
        deadline = min((job.deadline for job in requested.values()), default=None)
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        watched: list[socket.socket | int] = [requests, listener, *requested, *launched]
        ready, _, _ = select.select(watched, [], [], wait)
        for pidfd in [fd for fd, job in requested.items() if fd in ready or job.deadline <= time.monotonic()]:
            _send(requests, _answer(requested.pop(pidfd), timed_out=pidfd not in ready))
            os.close(pidfd)
        for pidfd in [fd for fd in launched if fd in ready]:
            os.waitpid(launched.pop(pidfd), 0)
            os.close(pidfd)
        server_fds = [requests.fileno(), listener.fileno(), *requested, *launched]
        if requests in ready:
            request = _receive(requests)
            if request is None:
                return
            pidfd, job = _start_requested(server_fds, *request)
            requested[pidfd] = job
        if listener in ready:
            pid = _start_launched(listener, server_fds)
            launched[os.pidfd_open(pid)] = pid


def _start_requested(server_fds: list[int], program: str, argv: list[str], cwd: str, env: dict[str, str],
                     stdin: str | None, timeout: float) -> tuple[int, _Requested]:
    with tempfile.TemporaryFile() as inp:
        inp.write((stdin or "").encode())
        inp.seek(0)
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 - _answer closes them
        pid = os.fork()
        if pid == 0:
            _child(program, argv, cwd, env, (inp.fileno(), out.fileno(), err.fileno()), server_fds)
    return os.pidfd_open(pid), _Requested(pid, out, err, time.monotonic() + timeout)


def _answer(job: _Requested, timed_out: bool) -> tuple[int | None, str, str]:
    """The ended command's return code as subprocess gives it (-N for signal N; None: killed at
    its timeout), and its output."""
    if timed_out:
        os.kill(job.pid, signal.SIGKILL)
    _, status = os.waitpid(job.pid, 0)
    with job.out, job.err:
        job.out.seek(0)
        job.err.seek(0)
        return (None if timed_out else os.waitstatus_to_exitcode(status)), _text(job.out.read()), \
            _text(job.err.read())


def _start_launched(listener: socket.socket, server_fds: list[int]) -> int:
    conn, _ = listener.accept()
    with conn:
        first, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        body, size = first[4:], struct.unpack("!I", first[:4])[0]
        if len(body) < size:
            body += _read_exactly(conn, size - len(body)) or b""
        program, argv, cwd, env = pickle.loads(body)  # noqa: S301 - our own launchers
        pid = os.fork()
        if pid == 0:
            _child(program, argv, cwd, env, (fds[0], fds[1], fds[2]), server_fds,
                   report=lambda code: conn.sendall(struct.pack("!i", code)))
        for fd in fds:
            os.close(fd)
    return pid


def _text(data: bytes) -> str:
    # As subprocess.run(text=True) decodes, with universal newlines.
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _child(program: str, argv: list[str], cwd: str, env: dict[str, str], fds: tuple[int, int, int],
           server_fds: list[int], report: Callable[[int], None] | None = None) -> None:
    """Become the command; never returns (its SystemExit ends the process as a script's does).
    REPORT, if given, is told the exit code just before the process ends."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in server_fds:  # the server's own sockets and pidfds are none of the command's
            os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if program != "dvc":
            # Importing DVC (done by the server, by mlv only when a command needs it) wraps the
            # standard streams in colorama's; mlv starts with the interpreter's own.
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        code = _run_python_c(argv) if program == "python" else _run_entry_point(program, argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    except BaseException:  # noqa: BLE001 - as the interpreter would: a traceback, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:  # what an interpreter's shutdown does that the command may rely on
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            final = code if isinstance(code, int) else 0
            if report is not None:
                with contextlib.suppress(OSError):
                    report(final)
            os._exit(final)


def _run_entry_point(program: str, argv: list[str]) -> Any:
    module, function = ENTRY_POINTS[program]
    sys.argv = [program, *argv]
    return getattr(__import__(module, fromlist=[function]), function)()


def _run_python_c(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "-c":
        raise SystemExit("the fork server runs `python -c CODE [ARG...]` only")
    sys.argv = ["-c", *argv[2:]]
    exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the test's own code
    return 0


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])), socket.socket(fileno=int(sys.argv[2])))
