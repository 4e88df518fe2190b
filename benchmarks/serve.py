"""Serving speed: `python -m benchmarks.serve [--smoke] [--work-dir DIR] [--mlflow-python PY]`.

Side by side in one run, on loopback, the same model (scikit-learn LinearRegression, 3 features,
trained and registered by mlv, then packaged by `mlv model package`):

- `mlflow models serve --env-manager local` (MLflow from benchmarks/requirements-serve.txt, in a
  virtual environment of its own: `--mlflow-python`, made with uv when missing in a full run; the
  smoke run skips MLflow with a printed reason when that interpreter is absent);
- the floor: a bare Starlette app on uvicorn (benchmarks/serve_floor.py): parse JSON, predict a
  numpy row;
- `mlv serve` with the prediction log on, and with `--no-log`.

Single-row bodies on keep-alive connections; 1 connection with 1 worker, 8 connections with 1 and
with 2 workers. All servers run at once and their rounds are interleaved, so background load weighs
on each alike. Each round sends a fixed number of requests (bounded in time as well); the median
round's req/s and its latency p50/p99 (client side, ms) are reported. The load generator is this
process: asyncio on raw sockets (uvloop when present), one coroutine per connection.

Targets (with logging on): >= 4x MLflow, >= 0.7x the floor, logging overhead <= 10%, p99 <= 1.5 ms
on one connection.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MLFLOW_PYTHON = Path("/tmp/mlv-bench-mlflow/bin/python")
REQUIREMENTS = REPO_ROOT / "benchmarks" / "requirements-serve.txt"
FEATURES = ("x1", "x2", "x3")
ROW = {"x1": 0.25, "x2": -1.5, "x3": 0.75}
SHAPES = ((1, 1), (8, 1), (8, 2))  # (connections, workers)
LOOPBACK = "127.0.0.1"

TRAIN = """
import json, joblib, numpy as np
from pathlib import Path
from sklearn.linear_model import LinearRegression
rng = np.random.default_rng(7)
x = rng.normal(size=(2000, 3))
y = x @ np.array([1.5, -2.0, 0.7]) + 0.5 + rng.normal(scale=0.3, size=2000)
Path("models").mkdir(exist_ok=True)
model = LinearRegression().fit(x, y)
joblib.dump(model, "models/model.joblib")
Path("metrics.json").write_text(json.dumps({"r2": model.score(x, y)}))
"""
DATA_HEADER = "x1,x2,x3,y\n"

SAVE_FOR_MLFLOW = """
import sys, joblib, pandas as pd, mlflow.sklearn
from mlflow.models import infer_signature
model = joblib.load(sys.argv[1])
x = pd.DataFrame([[0.25, -1.5, 0.75]], columns=["x1", "x2", "x3"])
mlflow.sklearn.save_model(model, sys.argv[2], signature=infer_signature(x, model.predict(x)))
"""


@dataclass
class Round:
    requests: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


@dataclass
class Figure:
    server: str
    connections: int
    workers: int
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    note: str = ""


# -- the load generator ----------------------------------------------------------------------------


def _request(path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _connection(port: int, raw: bytes, count: int, deadline: float, latencies: list[float]) -> int:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    errors = 0
    try:
        for _ in range(count):
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
    return errors


async def _round(port: int, raw: bytes, connections: int, total: int, limit_s: float) -> Round:
    latencies: list[float] = []
    started = time.perf_counter()
    deadline = started + limit_s
    errors = await asyncio.gather(*(_connection(port, raw, total // connections, deadline, latencies)
                                    for _ in range(connections)))
    return Round(len(latencies), time.perf_counter() - started, latencies, sum(errors))


def summarize(done: list[Round]) -> Figure:
    """The median round (by req/s), with its latency percentiles."""
    median = sorted(done, key=lambda r: r.rps)[len(done) // 2]
    q = statistics.quantiles(median.latencies_ms, n=100)
    return Figure("", 0, 0, median.rps, statistics.median(median.latencies_ms), q[98], sum(r.errors for r in done))


# -- the servers -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], cwd: Path, port: int, startup_s: float = 120):
    # Its output goes to a file: a pipe nobody reads fills up and stops a chatty server (MLflow warns
    # on every request).
    output = cwd / f"server-{port}.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=sink, stderr=sink, start_new_session=True)
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {output.read_text()[-500:]}")
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(argv[:3])} did not listen within {startup_s:.0f} s")
            time.sleep(0.1)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def prepare(work: Path) -> tuple[Path, Path]:
    """A repository whose experiment trained the model, registered and packaged: (repo, package)."""
    repo, package = work / "repo", work / "package"
    for path in (repo, package):
        shutil.rmtree(path, ignore_errors=True)
    repo.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}

    def run(*argv: str) -> None:
        subprocess.run(argv, cwd=repo, env=env, check=True, capture_output=True)

    run("git", "init", "-q", "-b", "main")
    (repo / "data").mkdir()
    import numpy as np

    x = np.random.default_rng(3).normal(size=(2000, 3))
    y = x @ np.array([1.5, -2.0, 0.7]) + 0.5
    (repo / "data" / "dataset.csv").write_text(DATA_HEADER + "".join(
        f"{a:.6f},{b:.6f},{c:.6f},{t:.6f}\n" for (a, b, c), t in zip(x, y, strict=True)))
    (repo / "train.py").write_text(TRAIN)
    mlv = str(BIN / "mlv")
    run(mlv, "init")
    run("git", "add", "train.py")  # a snapshot leaves untracked files out
    run(mlv, "snapshot", "--run", f"{sys.executable} train.py", "-m", "bench model")
    run(mlv, "model", "register", "bench")
    run(mlv, "model", "package", "bench@v0.0.1", "-o", str(package))
    return repo, package


def ensure_mlflow(python: Path, install: bool) -> str | None:
    """None when MLflow's interpreter is ready, else why it is skipped."""
    if python.exists():
        return None
    if not install:
        return f"no MLflow interpreter at {python} (a full run makes it from {REQUIREMENTS.name})"
    uv = shutil.which("uv") or str(BIN / "uv")
    venv = python.parent.parent
    print(f"installing MLflow into {venv} (once)", file=sys.stderr, flush=True)
    subprocess.run([uv, "venv", "-q", str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), "-r", str(REQUIREMENTS)], check=True)
    return None


def servers(work: Path, package: Path, mlflow_python: Path | None) -> dict[str, object]:
    """Each server's name -> a function (port, workers) -> (argv, env, path, body)."""
    body = json.dumps({"rows": [ROW]}).encode()
    model = next((package / "artifact").rglob("*.joblib"))
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PROMETHEUS"))}
    uvicorn = str(BIN / "uvicorn")

    def floor(port: int, workers: int) -> tuple[list[str], dict[str, str], str, bytes]:
        env = {**base, "MODEL": str(model), "FEATURES": ",".join(FEATURES), "PYTHONPATH": str(REPO_ROOT)}
        return ([uvicorn, "--factory", "benchmarks.serve_floor:app", "--host", LOOPBACK, "--port", str(port),
                 "--workers", str(workers), "--log-level", "warning", "--no-access-log"], env, "/predict", body)

    def mlv(logging: bool) -> object:
        def start(port: int, workers: int) -> tuple[list[str], dict[str, str], str, bytes]:
            log = ["--log", str(work / "predictions")] if logging else ["--no-log"]
            return ([str(BIN / "mlv"), "serve", str(package), "--port", str(port), "--workers", str(workers), *log],
                    base, "/predict", body)
        return start

    found: dict[str, object] = {}
    if mlflow_python is not None:
        saved = work / "mlflow-model"
        if not saved.exists():
            subprocess.run([str(mlflow_python), "-c", SAVE_FOR_MLFLOW, str(model), str(saved)], check=True,
                           capture_output=True)

        def mlflow(port: int, workers: int) -> tuple[list[str], dict[str, str], str, bytes]:
            argv = [str(mlflow_python.parent / "mlflow"), "models", "serve", "-m", str(saved), "--env-manager", "local",
                    "-h", LOOPBACK, "-p", str(port), "-w", str(workers)]
            records = json.dumps({"dataframe_records": [ROW]}).encode()
            env = {**base, "MLFLOW_TRACKING_URI": f"file://{work / 'mlruns'}",
                   "PATH": f"{mlflow_python.parent}{os.pathsep}{base.get('PATH', '')}"}  # it starts `uvicorn` by name
            return argv, env, "/invocations", records
        found["mlflow models serve"] = mlflow
    found["bare Starlette (floor)"] = floor
    found["mlv serve, log on"] = mlv(True)
    found["mlv serve, log off"] = mlv(False)
    return found


def run(work: Path, total: int, rounds: int, limit_s: float, mlflow_python: Path | None,
        note: str = "") -> list[Figure]:
    """For each worker count, every server runs at once (each idle while another is measured) and
    their rounds are interleaved: A B C D, A B C D, ... so that the machine's other load, which drifts
    over minutes, weighs on all of them alike."""
    _repo, package = prepare(work)
    figures: list[Figure] = []
    starts = servers(work, package, mlflow_python)
    for workers in sorted({w for _, w in SHAPES}):
        with contextlib.ExitStack() as stack:
            ready: dict[str, tuple[int, str, bytes]] = {}
            for name, start in starts.items():
                port = _free_port()
                argv, env, path, body = start(port, workers)  # type: ignore[operator]
                try:
                    stack.enter_context(running(argv, env, work, port))
                    ready[name] = (port, path, body)
                except RuntimeError as exc:
                    figures += [Figure(name, c, w, note=str(exc)[:200]) for c, w in SHAPES if w == workers]
            for connections in [c for c, w in SHAPES if w == workers]:
                figures += _interleaved(ready, connections, workers, total, rounds, limit_s)
    if note:
        figures += [Figure("mlflow models serve", c, w, note=note) for c, w in SHAPES]
    return figures


def _interleaved(ready: dict[str, tuple[int, str, bytes]], connections: int, workers: int, total: int,
                 rounds: int, limit_s: float) -> list[Figure]:
    done: dict[str, list[Round]] = {name: [] for name in ready}
    for port, path, body in ready.values():  # warm-up
        asyncio.run(_round(port, _request(path, body), connections, min(total, 200), limit_s))
    for _ in range(rounds):
        for name, (port, path, body) in ready.items():
            done[name].append(asyncio.run(_round(port, _request(path, body), connections, total, limit_s)))
    figures = []
    for name, got in done.items():
        figure = summarize(got)
        figure.server, figure.connections, figure.workers = name, connections, workers
        figures.append(figure)
        print(f"{name:24} {connections} conn {workers} worker(s): {figure.rps:7.0f} req/s, "
              f"p50 {figure.p50_ms:.2f} ms, p99 {figure.p99_ms:.2f} ms, errors {figure.errors}",
              file=sys.stderr, flush=True)
    return figures


def render(figures: list[Figure], info: dict[str, str]) -> str:
    by = {(f.server, f.connections, f.workers): f for f in figures}
    names = list(dict.fromkeys(f.server for f in figures))
    lines = [f"Measured {info['date']} on {info['machine']} (load {info['load']}); "
             f"{info['requests']} single-row requests a round, median of {info['rounds']} rounds; "
             "latency measured by the client.", "",
             "| server | " + " | ".join(f"{c} conn, {w} worker{'s' if w > 1 else ''}" for c, w in SHAPES) + " |",
             "| --- |" + " --- |" * len(SHAPES)]
    for name in names:
        cells = []
        for c, w in SHAPES:
            f = by.get((name, c, w))
            if f is None or f.rps is None:
                cells.append(f"not measured: {f.note}" if f else "-")
            else:
                cells.append(f"{f.rps:,.0f} req/s, p50 {f.p50_ms:.2f} ms, p99 {f.p99_ms:.2f} ms")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| ratio | " + " | ".join(f"{c} conn, {w}w" for c, w in SHAPES) + " | target |",
              "| --- |" + " --- |" * (len(SHAPES) + 1)]
    ratios = (("mlv (log on) / MLflow", "mlv serve, log on", "mlflow models serve", ">= 4"),
              ("mlv (log on) / floor", "mlv serve, log on", "bare Starlette (floor)", ">= 0.7"),
              ("log on / log off", "mlv serve, log on", "mlv serve, log off", ">= 0.9"))
    for label, top, bottom, target in ratios:
        cells = []
        for c, w in SHAPES:
            a, b = by.get((top, c, w)), by.get((bottom, c, w))
            cells.append(f"{a.rps / b.rps:.2f}" if a and b and a.rps and b.rps else "-")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="few requests; MLflow skipped when not installed")
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--mlflow-python", type=Path, default=MLFLOW_PYTHON,
                        help=f"MLflow's interpreter (default {MLFLOW_PYTHON}; made by a full run when missing)")
    parser.add_argument("--requests", type=int, default=None, help="requests a round (default 3000; smoke 200)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per shape and server (default 5; smoke 1)")
    parser.add_argument("--out", type=Path, default=None, help="write the Markdown table and JSON here")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every server this run started is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    total = args.requests or (200 if args.smoke else 3000)
    rounds = args.rounds or (1 if args.smoke else 5)
    skip = ensure_mlflow(args.mlflow_python, install=not args.smoke)
    if skip:
        print(f"MLflow skipped: {skip}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="mlv-bench-serve-") as tmp:
        work = (args.work_dir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": f"{os.cpu_count()} cores",
                "load": f"{os.getloadavg()[0]:.1f}", "requests": str(total), "rounds": str(rounds)}
        figures = run(work, total, rounds, 20.0 if args.smoke else 60.0,
                      None if skip else args.mlflow_python, note=f"skipped: {skip}" if skip else "")
        table = render(figures, info)
    print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "serve.md").write_text(table)
        (args.out / "serve.json").write_text(json.dumps({"info": info, "figures": [asdict(f) for f in figures]},
                                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
