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

Protocol, over a socket pair: a request is a pickled `(program, argv, cwd, env, stdin, timeout)`
with a 4-byte length; the answer a pickled `(returncode, stdout, stderr)`.

For code that starts executables itself (the benchmark harness), `executables()` serves the same
forks through a Unix socket and writes `mlv` and `dvc` launchers: each is a short script that
hands the server its argv, working directory, environment and its three standard streams
themselves (file descriptors passed over the socket), then exits with the command's exit code.
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


class ForkServer:
    """The client: one server process per pytest worker, started with the session (or at the
    first command)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
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

    def _connect(self) -> socket.socket:
        if self._sock is None:
            ours, theirs = socket.socketpair()
            self._proc = subprocess.Popen([sys.executable, "-m", "tests.forkserver", str(theirs.fileno())],
                                          pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
                                          cwd=Path(__file__).resolve().parent.parent)
            theirs.close()
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


@contextlib.contextmanager
def executables(folder: Path) -> Iterator[Path]:
    """FOLDER with `mlv` and `dvc` launchers served by a fork server of their own, for the
    block's length (see the module's docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    # A socket's path must be short (108 bytes on Linux), which a pytest tmp_path may not be.
    socket_dir = Path(tempfile.mkdtemp(prefix="mlv-forks-"))
    socket_path = socket_dir / "server.sock"
    proc = subprocess.Popen([sys.executable, "-m", "tests.forkserver", "--listen", str(socket_path)],
                            stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
    try:
        for program in ENTRY_POINTS:
            launcher = folder / program
            launcher.write_text(_LAUNCHER.format(python=sys.executable, program=program,
                                                 socket_path=str(socket_path)))
            launcher.chmod(0o755)
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the launchers' fork server did not start")
            time.sleep(0.05)
        yield folder
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(socket_dir, ignore_errors=True)


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


def serve(sock: socket.socket) -> None:
    _preload()
    while (request := _receive(sock)) is not None:
        _send(sock, _answer(*request))


def serve_launchers(socket_path: str) -> None:
    """Fork a command per connection, on the launcher's own streams; the command itself reports
    its exit code on the connection (none: it was killed). Commands may overlap."""
    _preload()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(socket_path + ".new")
    listener.listen(16)
    os.rename(socket_path + ".new", socket_path)  # the launchers' client waits for this name
    listener.settimeout(1.0)
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        conn.settimeout(None)
        request, fds = _receive_with_fds(conn)
        if os.fork() == 0:
            program, argv, cwd, env = request
            _child(program, argv, cwd, env, (fds[0], fds[1], fds[2]), report=_reporter(conn))
        for fd in fds:
            os.close(fd)
        conn.close()


def _reporter(conn: socket.socket) -> Callable[[int], None]:
    return lambda code: conn.sendall(struct.pack("!i", code))


def _receive_with_fds(conn: socket.socket) -> tuple[Any, list[int]]:
    first, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    size = struct.unpack("!I", first[:4])[0]
    rest = _read_exactly(conn, size - (len(first) - 4)) if len(first) - 4 < size else b""
    return pickle.loads(first[4:] + (rest or b"")), fds  # noqa: S301 - our own launchers


def _import_all_of_mlv() -> None:
    """Every module of mlv (each would otherwise be imported again by every command using it)."""
    import pkgutil

    import mlv

    for info in pkgutil.walk_packages(mlv.__path__, "mlv."):
        __import__(info.name)


def _answer(program: str, argv: list[str], cwd: str, env: dict[str, str], stdin: str | None,
            timeout: float) -> tuple[int | None, str, str]:
    with tempfile.TemporaryFile() as inp, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        inp.write((stdin or "").encode())
        inp.seek(0)
        pid = os.fork()
        if pid == 0:
            _child(program, argv, cwd, env, (inp.fileno(), out.fileno(), err.fileno()))
        code = _wait(pid, timeout)
        out.seek(0)
        err.seek(0)
        return code, _text(out.read()), _text(err.read())


def _text(data: bytes) -> str:
    # As subprocess.run(text=True) decodes, with universal newlines.
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _child(program: str, argv: list[str], cwd: str, env: dict[str, str], fds: tuple[int, int, int],
           report: Callable[[int], None] | None = None) -> None:
    """Become the command; never returns (its SystemExit ends the process as a script's does).
    REPORT, if given, is told the exit code just before the process ends."""
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if program == "mlv":
            # Importing DVC (done by the server, by mlv only when a command needs it) wraps the
            # standard streams in colorama's; mlv starts with the interpreter's own.
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        module, function = ENTRY_POINTS[program]
        sys.argv = [program, *argv]
        entry = getattr(__import__(module, fromlist=[function]), function)
        code = entry()
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


def _wait(pid: int, timeout: float) -> int | None:
    """The child's return code as subprocess gives it (-N for signal N); None after TIMEOUT (killed)."""
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    return os.waitstatus_to_exitcode(status) if ready else None


if __name__ == "__main__":
    if sys.argv[1] == "--listen":
        serve_launchers(sys.argv[2])
    else:
        serve(socket.socket(fileno=int(sys.argv[1])))
