"""The prediction log's writer: requests go into a bounded queue, a background thread writes them
as Parquet segments (docs/reference/prediction-log.md). No request waits for a disk or a network.

    logger = PredictionLogger("predictions/", model="churn", version="v1.2.0")
    logger.log(request_id, {"x1": [0.5], "x2": [1.0]}, [3.2], latency_s=0.0004)
    ...
    logger.close()  # writes everything logged so far

Guarantees:
- `log()` never blocks and never raises for a full queue or a log that cannot be written: the rows
  are dropped and counted (`dropped`, and `mlv.dropped` in the next segment written).
- `close()` (SIGTERM in `mlv serve`) writes every row `log()` accepted.
- A process killed with SIGKILL loses what was logged since its last segment: at most one
  segment interval (`interval_s`, 1 s by default) of rows. Every segment carries the interval, and
  the last one `close()` writes is marked final, so `mlv monitor` tells a writer that stopped
  cleanly from one that was killed (docs/reference/prediction-log.md).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

LOG_FORMAT = "1"
SEGMENTS = "segments"
WRITERS = "writers"  # each live writer's heartbeat
TYPES = ("float64", "int64", "string", "bool")


@dataclass
class _Entry:
    request_id: str
    ts_us: int
    model: str
    version: str
    latency_s: float
    status: int
    columns: dict[str, list[Any]]
    predictions: Sequence[Any]


@dataclass
class _Since:
    """What happened since the previous segment: its metadata."""

    requests: int = 0
    dropped: int = 0
    errors: dict[str, int] = field(default_factory=dict)


class PredictionLogger:
    """One writer of the prediction log (one per process)."""

    def __init__(self, url: str = "predictions", *, model: str = "", version: str = "",
                 features: Sequence[tuple[str, str]] | None = None, sample_rate: float = 1.0,
                 queue_size: int = 100_000, interval_s: float = 1.0, segment_rows: int = 100_000,
                 on_written: Callable[[int], None] | None = None,
                 on_dropped: Callable[[str, int], None] | None = None) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate {sample_rate} is not between 0 and 1")
        self.url = url.rstrip("/") or "/"
        self.model, self.version = model, version
        self.features: list[tuple[str, str]] | None = list(features) if features is not None else None
        self.sample_rate = sample_rate
        self.queue_size, self.interval_s, self.segment_rows = max(1, queue_size), interval_s, segment_rows
        self.writer = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.seq = 0
        self.logged = 0  # rows written to segments
        self.dropped = 0  # rows dropped (full queue, unwritable log)
        self.last_error: str | None = None
        self._on_written, self._on_dropped = on_written, on_dropped
        self._queue: collections.deque[_Entry] = collections.deque()
        self._since = _Since()
        self._lock = threading.Lock()  # guards _since and the counters the request path bumps
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"mlv-prediction-log-{self.writer}", daemon=True)
        self._thread.start()

    # -- the request path: constant time, never blocks on I/O ---------------------------------------

    def log(self, request_id: str | None, columns: dict[str, list[Any]], predictions: Sequence[Any], *,
            latency_s: float, status: int = 200, model: str | None = None, version: str | None = None) -> bool:
        """Queue one answered request's rows; False when they were dropped (full queue, closed)
        or left out by sampling."""
        with self._lock:
            self._since.requests += 1
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311 - sampling, not a secret
            return False
        if self._closed or len(self._queue) >= self.queue_size:
            self._drop(len(predictions), "queue_full")
            return False
        self._queue.append(_Entry(request_id or uuid.uuid4().hex, time.time_ns() // 1000, model or self.model,
                                  version or self.version, latency_s, status, columns, predictions))
        if len(self._queue) * len(predictions) >= self.segment_rows:
            self._wake.set()
        return True

    def error(self, status: int) -> None:
        """Count a request answered with STATUS (4xx/5xx): it has no rows, only this count."""
        with self._lock:
            self._since.requests += 1
            key = str(status)
            self._since.errors[key] = self._since.errors.get(key, 0) + 1

    def skipped(self) -> None:
        """Count a request that has nothing to log (a body the middleware could not read)."""
        with self._lock:
            self._since.requests += 1

    def _drop(self, rows: int, reason: str) -> None:
        with self._lock:
            self.dropped += rows
            self._since.dropped += rows
        if self._on_dropped is not None:
            self._on_dropped(reason, rows)

    # -- the background writer ----------------------------------------------------------------------

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer."""
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)

    def flush(self) -> None:
        """Write what is queued now, from the calling thread (tests, short scripts)."""
        self._write_pending()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._closed:
                break  # what is queued goes into the final segment
            if not self._write_pending() and self.seq:
                self._heartbeat()  # idle, not dead: the monitor must not count this writer as killed
        self._write_pending(final=True)
        self._heartbeat(remove=True)

    def _heartbeat(self, remove: bool = False) -> None:
        """`<LOG>/writers/<writer>.json`, rewritten each idle interval: when this writer last showed
        it was alive. Removed once the final segment is written. Best effort: a failure costs at
        most a report that this writer may have ended."""
        path = f"{self.url}/{WRITERS}/{self.writer}.json"
        from datetime import UTC, datetime

        at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        body = json.dumps({"writer": self.writer, "interval_s": self.interval_s, "alive": at}).encode()
        with contextlib.suppress(Exception):
            if "://" in self.url:
                import fsspec  # type: ignore[import-untyped]

                fs, where = fsspec.core.url_to_fs(path)
                if remove:
                    fs.rm_file(where)
                else:
                    fs.pipe_file(where, body)
                return
            if remove:
                os.unlink(path)
                return
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{os.path.dirname(path)}/.{self.writer}.json.tmp"
            with open(tmp, "wb") as handle:
                handle.write(body)
            os.replace(tmp, path)

    def _write_pending(self, final: bool = False) -> bool:
        """Write what is queued (and the counts) as segments; False when there was nothing to write."""
        with self._lock:
            entries = [self._queue.popleft() for _ in range(len(self._queue))]
            since, self._since = self._since, _Since()
        # The last segment is written even when empty, once anything was: it says "stopped cleanly".
        has_final = final and (self.seq > 0 or since.requests > 0)
        if not entries and not since.dropped and not since.errors and not has_final:
            with self._lock:  # requests alone are carried to the next segment
                self._since.requests += since.requests
            return False
        rows = sum(len(e.predictions) for e in entries)
        written = 0
        try:
            for day, table, count in self._tables(entries, since, final):
                self._write_segment(day, table)
                written += count
        except Exception as exc:  # noqa: BLE001 - any write failure: rows counted as dropped, serving goes on
            self.last_error = f"{exc.__class__.__name__}: {str(exc)[:200]}"
            if not written:  # nothing of it reached the log: its counts go into the next segment
                with self._lock:
                    self._since.requests += since.requests
                    self._since.dropped += since.dropped
                    for key, count in since.errors.items():
                        self._since.errors[key] = self._since.errors.get(key, 0) + count
            self._drop(rows - written, "unwritable")
        self.logged += written
        if self._on_written is not None and written:
            self._on_written(written)
        return True

    def _tables(self, entries: list[_Entry], since: _Since, final: bool = False
                ) -> list[tuple[str, pa.Table, int]]:
        """ENTRIES as one table per UTC day (the hive partition), the counts on the first, FINAL on the last."""
        by_day: dict[str, list[_Entry]] = {}
        for entry in entries:
            by_day.setdefault(time.strftime("%Y-%m-%d", time.gmtime(entry.ts_us / 1e6)), []).append(entry)
        if not by_day:
            by_day[time.strftime("%Y-%m-%d", time.gmtime())] = []
        out = []
        days = sorted(by_day.items())
        for i, (day, group) in enumerate(days):
            meta = since if i == 0 else _Since()
            table = self._table(group, meta, final=final and i == len(days) - 1)
            out.append((day, table, sum(len(e.predictions) for e in group)))
        return out

    def _table(self, entries: list[_Entry], since: _Since, final: bool = False) -> pa.Table:
        import pyarrow as pa

        features = self._feature_types(entries)
        ids: list[str] = []
        ts: list[int] = []
        models: list[str] = []
        versions: list[str] = []
        latency: list[float] = []
        status: list[int] = []
        inputs: dict[str, list[Any]] = {name: [] for name, _ in features}
        predictions: list[Any] = []
        for e in entries:
            n = len(e.predictions)
            ids += [e.request_id] if n == 1 else [f"{e.request_id}:{i}" for i in range(n)]
            ts += [e.ts_us] * n
            models += [e.model] * n
            versions += [e.version] * n
            latency += [e.latency_s] * n
            status += [e.status] * n
            for name in inputs:
                inputs[name] += e.columns.get(name) or [None] * n
            predictions += list(e.predictions)
        prediction_type = pa.string() if any(isinstance(p, str) for p in predictions) else pa.float64()
        arrays = {"request_id": pa.array(ids, pa.string()), "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
                  "model": pa.array(models, pa.string()), "version": pa.array(versions, pa.string()),
                  "latency_s": pa.array(latency, pa.float64()), "status": pa.array(status, pa.int16())}
        for name, kind in features:
            arrays[f"input.{name}"] = pa.array(inputs[name], _ARROW[kind]())
        arrays["prediction"] = pa.array([_as_type(p, prediction_type) for p in predictions], prediction_type)
        metadata = {"mlv.log_format": LOG_FORMAT, "mlv.writer": self.writer,
                    "mlv.dropped": str(since.dropped), "mlv.errors": json.dumps(since.errors, sort_keys=True),
                    "mlv.sample_rate": repr(float(self.sample_rate)), "mlv.requests": str(since.requests),
                    "mlv.interval_s": repr(float(self.interval_s))}
        if final:
            metadata["mlv.final"] = "true"
        return pa.table(arrays).replace_schema_metadata(metadata)

    def _feature_types(self, entries: list[_Entry]) -> list[tuple[str, str]]:
        """The schema's features, or (library use without one) types read off the first rows."""
        if self.features is None and entries:
            self.features = [(name, _infer(values)) for name, values in entries[0].columns.items()]
        return self.features or []

    def _write_segment(self, day: str, table: pa.Table) -> None:
        """TABLE as the next segment, whole or absent; its number is taken only once it is written,
        so a failed write leaves no gap (a gap means a loss)."""
        import io

        import pyarrow.parquet as pq

        seq = self.seq + 1
        from datetime import UTC, datetime

        written = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"mlv.seq": str(seq).encode(),
                                               b"mlv.written": written.encode()})
        name = f"{self.writer}-{seq:08d}.parquet"
        folder = f"{self.url}/{SEGMENTS}/date={day}"
        if "://" in self.url:
            import fsspec

            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            fs, path = fsspec.core.url_to_fs(f"{folder}/{name}")
            fs.pipe_file(path, buffer.getvalue())  # one PUT: whole or absent
            self.seq = seq
            return
        os.makedirs(folder, exist_ok=True)
        tmp = f"{folder}/.{name}.tmp"
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, f"{folder}/{name}")
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.seq = seq


def _infer(values: list[Any]) -> str:
    for value in values:
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int64"
        if isinstance(value, float):
            return "float64"
        if value is not None:
            return "string"
    return "float64"


def _as_type(value: Any, kind: pa.DataType) -> Any:
    import pyarrow as pa

    if kind == pa.string():
        return None if value is None else str(value)
    return value


def _arrow_types() -> dict[str, Callable[[], pa.DataType]]:
    import pyarrow as pa

    return {"float64": pa.float64, "int64": pa.int64, "string": pa.string, "bool": pa.bool_}


class _LazyTypes(dict[str, Callable[[], Any]]):
    def __missing__(self, key: str) -> Callable[[], Any]:
        self.update(_arrow_types())
        return self[key]


_ARROW = _LazyTypes()


# -- for your own server -----------------------------------------------------------------------------

_DEFAULT: dict[str, PredictionLogger] = {}


def log_prediction(inputs: dict[str, Any] | list[dict[str, Any]], predictions: Any, *, url: str = "predictions",
                   model: str = "", version: str = "", request_id: str | None = None,
                   latency_s: float = 0.0) -> bool:
    """Log one request's rows (a dict, or a list of dicts) and predictions to the log at URL, through
    one logger per URL for the whole process (closed, so written, at exit)."""
    rows = [inputs] if isinstance(inputs, dict) else list(inputs)
    preds = list(predictions.tolist() if hasattr(predictions, "tolist") else predictions) \
        if isinstance(predictions, (list, tuple)) or hasattr(predictions, "tolist") else [predictions]
    logger = _DEFAULT.get(url)
    if logger is None:
        import atexit

        logger = _DEFAULT[url] = PredictionLogger(url, model=model, version=version)
        atexit.register(logger.close)
    return logger.log(request_id, _columns(rows), preds, latency_s=latency_s, model=model, version=version)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    names = list(dict.fromkeys(k for row in rows for k in row))
    return {name: [row.get(name) for row in rows] for name in names}


class PredictionLogMiddleware:
    """ASGI middleware: logs each 2xx answer of POST PATH (JSON in, JSON out) to LOGGER, after the
    response is sent. Request bodies: `{"rows"|"dataframe_records": [...]}`, `{"dataframe_split": ...}`,
    a list of objects or one object; responses: `{"predictions": [...]}`, a list, or one value.
    A body it cannot read is counted as a request, not logged."""

    def __init__(self, app: Any, logger: PredictionLogger, path: str = "/predict") -> None:
        self.app, self.logger, self.path = app, logger, path

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request: list[bytes] = []
        response: list[bytes] = []
        status = [0]

        async def receiving() -> Any:
            message = await receive()
            if message.get("type") == "http.request":
                request.append(message.get("body", b""))
            return message

        async def sending(message: Any) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 0))
            elif message.get("type") == "http.response.body" and 200 <= status[0] < 300:
                response.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receiving, sending)
        latency = time.perf_counter() - started
        if not 200 <= status[0] < 300:
            self.logger.error(status[0])
            return
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or None
        rows, predictions = _parsed(b"".join(request), b"".join(response))
        if rows is None or predictions is None or len(rows) != len(predictions):
            self.logger.skipped()
            return
        self.logger.log(rid, _columns(rows), predictions, latency_s=latency, status=status[0])


def _parsed(request: bytes, response: bytes) -> tuple[list[dict[str, Any]] | None, list[Any] | None]:
    try:
        body, answer = json.loads(request), json.loads(response)
    except ValueError:
        return None, None
    rows: Any = body
    if isinstance(body, dict):
        split = body.get("dataframe_split")
        if isinstance(split, dict) and isinstance(split.get("columns"), list) and isinstance(split.get("data"), list):
            rows = [dict(zip(split["columns"], r, strict=False)) for r in split["data"] if isinstance(r, list)]
        else:
            rows = body.get("rows", body.get("dataframe_records", body.get("instances", [body])))
    if isinstance(answer, dict):
        answer = answer.get("predictions", answer.get("prediction"))
    predictions = answer if isinstance(answer, list) else [answer]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return None, None
    return rows, predictions
