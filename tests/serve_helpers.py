"""Real servers for the `mlv serve` tests: uvicorn over loopback, on packages built from a real registry.

- `registry_template` and `package_template`: the sample project trained with the real scikit-learn
  script (a LinearRegression), registered as sample@v0.0.1 and promoted to prod; once a session.
- `InThread`: uvicorn serving `build_app(settings)` in a thread of the test process, on a socket
  bound first (no port race); stopped as SIGTERM stops it (graceful shutdown, lifespan end).
- `serve_process`: `mlv serve ...` as a user runs it, in its own session, for the signal tests.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    SAMPLE_PROJECT,
    VENV_BIN,
    copy_template,
    derived_template,
    kill_session,
    mlv,
    shared_template,
    spawned,
)
from tests.remote_servers import LOOPBACK, free_port

FEATURES = ("x1", "x2", "x3", "x4")
ROW = {"x1": 0.5, "x2": -1.0, "x3": 2.0, "x4": 0.25}


def build_trained(folder: Path) -> None:
    shutil.copy(SAMPLE_PROJECT / "train.py", folder / "train.py")  # scikit-learn: a real model object
    mlv(folder, "snapshot", "--run", "python train.py", "-m", "sklearn baseline")
    mlv(folder, "model", "register", "sample")
    mlv(folder, "model", "promote", "sample", "v0.0.1", "prod")


def registry_template(factory: pytest.TempPathFactory, templates: dict[str, Path]) -> Path:
    return derived_template(factory, templates["sample"], build_trained)


def package_template(factory: pytest.TempPathFactory, templates: dict[str, Path]) -> Path:
    """sample#prod packaged, once a session (tests that change it copy it first)."""
    registry = registry_template(factory, templates)

    def build(folder: Path) -> None:
        repo = copy_template(registry, factory.mktemp("pkg") / "repo")
        mlv(repo, "model", "package", "sample#prod", "-o", str(folder))

    return shared_template(factory, "serve-package", build)


class Client:
    """One keep-alive HTTP connection to the server on PORT."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        data = body.encode() if isinstance(body, str) else body
        self.conn.request(method, path, data, {"content-type": "application/json", **(headers or {})})
        response = self.conn.getresponse()
        payload = response.read()
        if response.getheader("connection") == "close":
            self.conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def predict(self, body: Any, request_id: str | None = None, path: str = "/predict") -> tuple[int, Any]:
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        headers = {"x-request-id": request_id} if request_id else None
        status, _headers, payload = self.request("POST", path, raw, headers)
        return status, json.loads(payload)

    def metrics(self) -> dict[str, float]:
        """The /metrics page as {series with labels: value}."""
        _status, _headers, payload = self.request("GET", "/metrics")
        values = {}
        for line in payload.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def close(self) -> None:
        self.conn.close()


class InThread:
    """uvicorn serving the app for SETTINGS in a thread of this process, until `stop()`."""

    def __init__(self, settings: Any) -> None:
        import uvicorn

        from mlv.serve.app import build_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(build_app(settings), log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the in-thread server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        self.sock.close()


@contextlib.contextmanager
def in_thread(settings: Any) -> Iterator[InThread]:
    server = InThread(settings)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serve_process(cwd: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`mlv serve ARGS --port P` started in CWD; yields once /health answers."""
    port = free_port()
    argv = [str(Path(VENV_BIN) / "mlv"), "serve", *args, "--port", str(port)]
    with spawned(argv, cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"mlv serve exited {proc.returncode}: {proc.communicate()[1]}")
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                kill_session(proc.pid)
                raise AssertionError("mlv serve did not start listening in 90 s")
            time.sleep(0.05)
        yield proc, port


def segments(log: Path) -> list[Path]:
    return sorted(p for p in (log / "segments").rglob("*.parquet") if not p.name.startswith((".", "_")))


def read_log(log: Path) -> tuple[Any, list[dict[str, str]]]:
    """Every row of the log as one table, and each segment's metadata (decoded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables, metas = [], []
    for path in segments(log):
        table = pq.read_table(path)
        tables.append(table.replace_schema_metadata(None))
        metas.append({k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()
                      if k.startswith(b"mlv.")})
    return (pa.concat_tables(tables) if tables else None), metas
