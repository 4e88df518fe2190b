"""Segments of the prediction log: find them, check each one's footer, read them one at a time.

A segment that cannot be read (truncated by a crash, corrupt, of another format, with columns the
log format does not have) is skipped and reported, never fatal: the monitor reads what it can and
says what it could not. Each segment is read whole before any of its rows counts, so a segment
that fails half-way counts not at all (a segment is one flush interval of one worker: small).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from mlv.monitor.errors import MonitorError
from mlv.monitor.logstore import SEGMENTS, WRITERS, LogStore, describe_error
from mlv.monitor.window import Window

if TYPE_CHECKING:
    import pyarrow as pa

LOG_FORMAT = "1"
INPUT_PREFIX = "input."
_PARTITION = re.compile(r"^date=([0-9]{4}-[0-9]{2}-[0-9]{2})$")
_NAME = re.compile(r"^(?P<writer>[A-Za-z0-9._-]{1,200})-(?P<seq>[0-9]{8,})\.parquet$")
_FIXED = {"request_id": "string", "ts": "timestamp", "model": "string", "version": "string",
          "latency_s": "float64", "status": "int16", "prediction": "float64|string"}
MAX_METADATA_VALUE = 4096  # a writer's metadata values are short; anything longer is not ours


@dataclass(frozen=True)
class Segment:
    path: str  # inside the log's file system
    name: str  # relative to the log's segments folder, for messages
    writer: str
    seq: int
    day: date
    rows: int
    dropped: int
    errors: dict[str, int]
    requests: int
    sample_rate: float
    features: tuple[str, ...]  # input columns without the `input.` prefix
    interval_s: float | None = None  # the writer's segment interval (None: a writer that does not say)
    final: bool = False  # the last segment of a writer that stopped cleanly
    written: datetime | None = None  # when the writer wrote it


@dataclass
class Listing:
    """The segments of a window, those skipped with the reason, and the sequence gaps per writer."""

    segments: list[Segment] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"segment", "reason"}
    gaps: list[dict[str, Any]] = field(default_factory=list)  # {"writer", "missing": [seq, ...]}
    # Writers whose newest segment is not final and is stale: killed or crashed, a tail may be lost.
    unfinished: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lost_segments(self) -> int:
        return sum(len(g["missing"]) for g in self.gaps)


def list_segments(store: LogStore, window: Window) -> Listing:
    """Every segment whose date partition can hold rows of WINDOW, footers checked."""
    import pyarrow.fs as pafs

    top = store.path(SEGMENTS)
    try:
        infos = store.fs.get_file_info(pafs.FileSelector(top, recursive=True, allow_not_found=True))
    except (OSError, ValueError) as exc:
        raise MonitorError(f"cannot list the prediction log at {store.url}: {describe_error(exc)}",
                           hint="Check the URL and the credentials (for S3: those DVC uses).") from None
    first, last = window.dates()
    listing = Listing()
    seen: dict[str, set[int]] = {}
    for info in sorted(infos, key=lambda i: i.path):
        if info.type != pafs.FileType.File:
            continue
        rel = posixpath.relpath(info.path, top)
        parts = rel.split("/")
        if any(p.startswith((".", "_")) for p in parts):
            continue  # a write in progress, or a marker file
        day, name = _parse_name(parts)
        if day is None or name is None:
            listing.skipped.append({"segment": rel, "reason": "not a segment name "
                                    "(date=YYYY-MM-DD/WRITER-SEQ.parquet)"})
            continue
        if (first is not None and day < first) or (last is not None and day > last):
            continue
        seen.setdefault(name.group("writer"), set()).add(int(name.group("seq")))
        try:
            listing.segments.append(_open(store, info.path, rel, day, name))
        except _UnreadableError as exc:
            listing.skipped.append({"segment": rel, "reason": str(exc)})
    listing.gaps = _gaps(seen)
    listing.unfinished = unfinished_writers(listing.segments, window.until or datetime.now(UTC),
                                            lambda writer: _heartbeat(store, writer))
    return listing


def _heartbeat(store: LogStore, writer: str) -> datetime | None:
    """When WRITER last said it was alive (`writers/<writer>.json`, rewritten each idle interval);
    None when it never did, or the file cannot be read."""
    try:
        with store.fs.open_input_stream(store.path(WRITERS, f"{writer}.json")) as handle:
            doc = json.loads(handle.read(MAX_METADATA_VALUE))
        moment = datetime.fromisoformat(str(doc["alive"]).replace("Z", "+00:00"))
    except Exception:  # noqa: BLE001 - missing, unreadable or foreign: no sign of life
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def unfinished_writers(segments: list[Segment], end: datetime,
                       heartbeat: Callable[[str], datetime | None] = lambda _writer: None) -> list[dict[str, Any]]:
    """Writers that ended without a final segment: the newest segment of each is not final, and it
    and the writer's heartbeat (HEARTBEAT(writer): an idle writer's sign of life) are more than two
    of its intervals before END. What such a writer acknowledged after its newest segment is lost:
    at most one interval of rows. Writers that do not state an interval are not judged."""
    newest: dict[str, Segment] = {}
    for segment in segments:
        if segment.written is None:
            continue
        held = newest.get(segment.writer)
        if held is None or segment.seq > held.seq:
            newest[segment.writer] = segment
    found = []
    for writer, segment in sorted(newest.items()):
        if segment.final or segment.interval_s is None or segment.written is None:
            continue
        if (end - segment.written).total_seconds() <= 2 * segment.interval_s:
            continue
        alive = heartbeat(writer)
        if alive is None or (end - alive).total_seconds() > 2 * segment.interval_s:
            found.append({"writer": writer, "last_segment": segment.name, "last_seq": segment.seq,
                          "last_written": segment.written.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                          "interval_s": segment.interval_s})
    return found


def _parse_name(parts: list[str]) -> tuple[date | None, re.Match[str] | None]:
    if len(parts) != 2:
        return None, None
    partition, name = _PARTITION.match(parts[0]), _NAME.match(parts[1])
    if partition is None or name is None:
        return None, None
    try:
        return date.fromisoformat(partition.group(1)), name
    except ValueError:
        return None, None


def _gaps(seen: dict[str, set[int]]) -> list[dict[str, Any]]:
    """Sequence numbers missing between a writer's first and last segment: lost segments."""
    gaps = []
    for writer, seqs in sorted(seen.items()):
        missing = sorted(set(range(min(seqs), max(seqs) + 1)) - seqs)
        if missing:
            gaps.append({"writer": writer, "missing": missing[:1000], "count": len(missing)})
    return gaps


class _UnreadableError(Exception):
    """Why one segment is skipped."""


def _open(store: LogStore, path: str, rel: str, day: date, name: re.Match[str]) -> Segment:
    import pyarrow.parquet as pq

    try:
        with store.fs.open_input_file(path) as handle:
            meta = pq.ParquetFile(handle).metadata
            schema = meta.schema.to_arrow_schema()
    except Exception as exc:  # noqa: BLE001 - any failure of a foreign file means: skip it
        raise _UnreadableError(f"unreadable Parquet ({describe_error(exc)})") from None
    kv = {k.decode("utf-8", "replace"): v.decode("utf-8", "replace")[:MAX_METADATA_VALUE]
          for k, v in (schema.metadata or {}).items()}
    if kv.get("mlv.log_format") != LOG_FORMAT:
        raise _UnreadableError(f"mlv.log_format is {kv.get('mlv.log_format')!r}, not {LOG_FORMAT!r}")
    _check_columns(schema)
    writer, seq = name.group("writer"), int(name.group("seq"))
    if kv.get("mlv.writer", writer) != writer or kv.get("mlv.seq", str(seq)).lstrip("0") != str(seq):
        raise _UnreadableError("its mlv.writer/mlv.seq metadata disagrees with its name")
    return Segment(path=path, name=rel, writer=writer, seq=seq, day=day, rows=meta.num_rows,
                   dropped=_count(kv, "mlv.dropped"), errors=_errors(kv), requests=_count(kv, "mlv.requests"),
                   sample_rate=_rate(kv), features=tuple(f.name[len(INPUT_PREFIX):] for f in schema
                                                         if f.name.startswith(INPUT_PREFIX)),
                   interval_s=_interval(kv), final=kv.get("mlv.final") == "true", written=_written(kv))


def _interval(kv: dict[str, str]) -> float | None:
    if "mlv.interval_s" not in kv:
        return None
    try:
        value = float(kv["mlv.interval_s"])
    except ValueError:
        raise _UnreadableError("mlv.interval_s is not a number") from None
    if not 0 < value < 86400 * 365:
        raise _UnreadableError("mlv.interval_s is not a positive number of seconds")
    return value


def _written(kv: dict[str, str]) -> datetime | None:
    if "mlv.written" not in kv:
        return None
    try:
        moment = datetime.fromisoformat(kv["mlv.written"].replace("Z", "+00:00"))
    except ValueError:
        raise _UnreadableError("mlv.written is not an ISO 8601 time") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check_columns(schema: pa.Schema) -> None:
    import pyarrow as pa

    for column, wanted in _FIXED.items():
        index = schema.get_field_index(column)
        if index < 0:
            raise _UnreadableError(f"column {column} is missing")
        kind = schema.field(index).type
        ok = {"string": pa.types.is_string(kind) or pa.types.is_large_string(kind),
              "timestamp": pa.types.is_timestamp(kind),
              "float64": pa.types.is_floating(kind), "int16": pa.types.is_integer(kind),
              "float64|string": pa.types.is_floating(kind) or pa.types.is_string(kind)
              or pa.types.is_large_string(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind)}[wanted]
        if not ok:
            raise _UnreadableError(f"column {column} is {kind}, not {wanted}")


def _count(kv: dict[str, str], key: str) -> int:
    try:
        value = int(kv.get(key, "0"))
    except ValueError:
        raise _UnreadableError(f"{key} is not a whole number") from None
    if value < 0:
        raise _UnreadableError(f"{key} is negative")
    return value


def _rate(kv: dict[str, str]) -> float:
    try:
        rate = float(kv.get("mlv.sample_rate", "1.0"))
    except ValueError:
        raise _UnreadableError("mlv.sample_rate is not a number") from None
    if not 0 < rate <= 1:
        raise _UnreadableError("mlv.sample_rate is not in (0, 1]")
    return rate


def _errors(kv: dict[str, str]) -> dict[str, int]:
    try:
        doc = json.loads(kv.get("mlv.errors", "{}"))
    except ValueError:
        raise _UnreadableError("mlv.errors is not JSON") from None
    if not isinstance(doc, dict) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                            for v in doc.values()):
        raise _UnreadableError('mlv.errors is not a mapping like {"500": 2}')
    return {str(k)[:8]: int(v) for k, v in doc.items()}


def read_segments(store: LogStore, listing: Listing, columns: list[str] | None, window: Window
                  ) -> Iterator[tuple[Segment, pa.Table]]:
    """Each segment's rows inside WINDOW (COLUMNS only; None: all), one segment at a time. A
    segment that fails to read is moved to `listing.skipped` and yields nothing.

    The next segment is read on a thread while the caller works on this one (pyarrow reads and
    decodes without the GIL): at most two segments are in memory."""
    from concurrent.futures import ThreadPoolExecutor

    pending = list(listing.segments)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlv-monitor-read") as pool:
        ahead = pool.submit(_read_one, store, pending[0], columns, window) if pending else None
        for index, segment in enumerate(pending):
            assert ahead is not None  # noqa: S101 - submitted for every segment
            table, error = ahead.result()
            ahead = pool.submit(_read_one, store, pending[index + 1], columns, window) \
                if index + 1 < len(pending) else None
            if table is None:
                listing.segments.remove(segment)
                listing.skipped.append({"segment": segment.name, "reason": f"unreadable rows ({error})"})
                continue
            yield segment, table


def _read_one(store: LogStore, segment: Segment, columns: list[str] | None, window: Window
              ) -> tuple[pa.Table | None, str]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        with store.fs.open_input_file(segment.path) as handle:
            # ParquetFile.read, not read_table: no dataset is built per file (a third of the CPU).
            table = pq.ParquetFile(handle).read(columns=columns, use_threads=True)
    except Exception as exc:  # noqa: BLE001 - a foreign file's failure of any kind: skip it
        return None, describe_error(exc)
    if window.since is None and window.until is None:
        return table, ""
    ts = table.column("ts")
    bounds = pc.min_max(ts).as_py()
    if bounds["min"] is None or ((window.since is None or bounds["min"] >= window.since)
                                 and (window.until is None or bounds["max"] < window.until)):
        return table, ""  # all inside (the usual case): no copy
    keep = None
    if window.since is not None:
        keep = pc.greater_equal(ts, pa.scalar(window.since, type=ts.type))
    if window.until is not None:
        before = pc.less(ts, pa.scalar(window.until, type=ts.type))
        keep = before if keep is None else pc.and_(keep, before)
    return table.filter(keep), ""
