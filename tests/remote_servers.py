"""Throwaway storage servers on loopback for the remote tests and the remotes benchmark.

`SshServer` is Debian's sshd on a free port of 127.0.0.1 with a host key and a user key made for
the session; `S3Server` is moto's S3 in a thread of this process (its buckets live in this
process's memory, so stopping and restarting it keeps them: a fault test needs that), with IAM
authentication turned on once its one user exists, so wrong credentials are really refused.
Nothing listens on any address but 127.0.0.1.

When a server cannot start, `ServerUnavailableError` says why in one line; the fixtures turn that into
a visible skip, or into a failure under MLV_REQUIRE_REMOTE_SERVERS=1. `.ci/run` installs what they
need and sets that variable, so CI runs them or fails, never skips.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
SSHD = "/usr/sbin/sshd"


class ServerUnavailableError(Exception):
    """A test server could not be started; the message says why, in one line."""


def free_port() -> int:
    """A port nothing listens on now (the kernel's pick for port 0 on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def md5_of(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# -- sshd ----------------------------------------------------------------------------------------


@dataclass
class SshServer:
    """sshd on 127.0.0.1:PORT that lets `root` in with KEY only; the DVC remote lives under STORE."""

    base: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def key(self) -> Path:
        return self.base / "user_key"

    @property
    def config(self) -> Path:
        return self.base / "sshd_config"

    def url(self, store: Path) -> str:
        return f"ssh://root@{LOOPBACK}:{self.port}{store}"

    def known_hosts_line(self) -> str:
        host_key = (self.base / "host_key.pub").read_text().split()
        return f"[{LOOPBACK}]:{self.port} {host_key[0]} {host_key[1]}\n"

    def prepare(self) -> None:
        if not Path(SSHD).exists():
            raise ServerUnavailableError(f"{SSHD} is not installed (apt-get install openssh-server)")
        keygen = shutil.which("ssh-keygen")
        if keygen is None:
            raise ServerUnavailableError("ssh-keygen is not installed")
        self.base.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "user_key"):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "mlv-test", "-f",
                            str(self.base / name)], check=True, capture_output=True)
        (self.base / "authorized_keys").write_bytes((self.base / "user_key.pub").read_bytes())
        # sshd refuses to start without its privilege separation folder; a container that never
        # ran the ssh service lacks it. We are root (sshd needs that anyway).
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.port = free_port()
        self.config.write_text("\n".join([
            f"ListenAddress {LOOPBACK}",
            f"Port {self.port}",
            f"HostKey {self.base / 'host_key'}",
            f"PidFile {self.base / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.base / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "StrictModes no",
            "UsePAM no",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "MaxSessions 64",  # DVC opens many SFTP channels on one connection
            "MaxStartups 64",
            "Subsystem sftp internal-sftp",
            "LogLevel ERROR",
            "",
        ]))

    def start(self) -> None:
        if not self.port:
            self.prepare()
        log = open(self.base / "sshd.log", "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.base / "sshd.log").read_text(errors="replace").strip().splitlines()
                raise ServerUnavailableError(f"sshd exited {self.proc.returncode}: {tail[-1] if tail else 'no output'}")
            if port_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise ServerUnavailableError(f"sshd did not listen on {LOOPBACK}:{self.port} within 10 s")

    def stop(self) -> None:
        """Stop the listener and every session it started, as a machine going down would."""
        if self.proc is None:
            return
        for pid in _children(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        deadline = time.monotonic() + 5
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _children(pid: int) -> list[int]:
    """Every descendant of PID (sshd forks a process per connection, and that one forks again)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def local_store_objects(store: Path) -> dict[str, bytes]:
    """md5 -> content of every object in a DVC remote folder (DVC 3 layout: files/md5/XX/REST)."""
    base = store / "files" / "md5"
    if not base.is_dir():
        return {}
    return {f"{p.parent.name}{p.name}": p.read_bytes() for p in base.rglob("*") if p.is_file()}


# -- S3 (moto) -----------------------------------------------------------------------------------


@dataclass
class S3Server:
    """moto's S3 in a thread on 127.0.0.1, with one IAM user whose keys are ACCESS_KEY/SECRET_KEY."""

    port: int = 0
    access_key: str = ""
    secret_key: str = ""
    region: str = "us-east-1"
    puts_left: int | None = None  # see die_after_puts
    dead: bool = False
    _server: Any = None
    _thread: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Serve on PORT (a free one the first time), with moto's app behind a fault switch."""
        import logging
        import threading

        try:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server
        except ImportError as exc:
            raise ServerUnavailableError(f"moto is not installed ({exc}); pip install 'moto[server]'") from None
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        first = not self.port
        self.puts_left = None
        app = DomainDispatcherApplication(create_backend_app)
        try:
            self._server = make_server(LOOPBACK, self.port, self._faulty(app), threaded=True,
                                       request_handler=MotoRequestHandler)
        except OSError as exc:
            raise ServerUnavailableError(f"moto could not listen on {LOOPBACK}:{self.port}: {exc}") from None
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        if first:
            self._make_user()

    def die_after_puts(self, count: int) -> None:
        """Let COUNT more uploads through, then act as a dead server: refuse every request (even on
        connections already open) and stop listening."""
        self.puts_left = count

    def _faulty(self, app: Any) -> Any:
        import threading

        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            if self.puts_left is not None and (self.puts_left <= 0 or environ["REQUEST_METHOD"] == "PUT"):
                if self.puts_left <= 0:
                    server = self._server
                    if server is not None and not self.dead:
                        self.dead = True
                        threading.Thread(target=server.shutdown, daemon=True).start()
                    start_response("503 Service Unavailable", [("Connection", "close"), ("Content-Length", "0")])
                    return [b""]
                self.puts_left -= 1
            return app(environ, start_response)

        return wsgi

    def _make_user(self) -> None:
        """An IAM user allowed everything on S3, then authentication on for every later request."""
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        # moto's backends and settings are per process: another server of this process may have
        # turned authentication on and made its own user already. Off while this one makes its user.
        settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
        ActionAuthenticatorMixin.request_count = 0
        user = f"mlv-test-{self.port}"
        iam = self._client("iam", "anything", "anything")
        iam.create_user(UserName=user)
        policy = ('{"Version": "2012-10-17", "Statement": '
                  '[{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}')
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=policy)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()  # free the port, so a restart can listen on it again
            self._thread.join(timeout=10)
            self._server = None
        self.dead = False

    @property
    def running(self) -> bool:
        return self._server is not None

    def _client(self, service: str, access_key: str | None = None, secret_key: str | None = None) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=access_key or self.access_key,
                            aws_secret_access_key=secret_key or self.secret_key)

    def client(self) -> Any:
        return self._client("s3")

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str) -> dict[str, bytes]:
        """md5 -> content of every object under PREFIX (a DVC remote: PREFIX/files/md5/XX/REST)."""
        s3 = self.client()
        found: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/files/md5/"):
            for item in page.get("Contents", []):
                parts = item["Key"].split("/")
                found[parts[-2] + parts[-1]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=data)


@contextlib.contextmanager
def stopped(server: SshServer | S3Server) -> Iterator[None]:
    """SERVER stopped for a block, started again on the same port afterwards (whatever happens)."""
    server.stop()
    try:
        yield
    finally:
        server.start()


def moto_subprocess(port: int, log: Path | None = None) -> subprocess.Popen[bytes]:
    """moto's standalone server as a process of its own (the benchmark: no GIL shared with it).

    With LOG, its output goes there: one line per request it answered (`"PUT /bucket/key HTTP/1.1" 200`).
    """
    import sys

    with open(log or os.devnull, "ab") as sink:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)],
                                stdin=subprocess.DEVNULL, stdout=sink, stderr=sink, env={**os.environ})
    deadline = time.monotonic() + 30
    while not port_open(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise ServerUnavailableError(f"moto.server did not listen on {LOOPBACK}:{port}")
        time.sleep(0.1)
    return proc
