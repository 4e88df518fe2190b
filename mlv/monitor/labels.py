"""Ground truth: `mlv monitor labels FILE...` stores labels in the log; the monitor joins them.

Each labels file becomes `<LOG>/labels/<sha256 of the file>.parquet` (`request_id`, `label`,
`ts`: when it was added), so adding the same file twice changes nothing. When a request id has
several labels, the one added last counts. Ids that match no logged prediction are counted and
reported, never an error: labels often arrive before the segment holding their rows is flushed.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.monitor.errors import MonitorError
from mlv.monitor.logstore import LABELS, LogStore, describe_error

if TYPE_CHECKING:
    import pyarrow as pa

MAX_LABELS_FILE_BYTES = 2 << 30
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class LabelsAdded:
    files: list[dict[str, Any]] = field(default_factory=list)  # {"file", "rows", "stored", "dropped"}
    unknown_ids: int = 0  # label ids no logged prediction has
    matched_ids: int = 0

    @property
    def rows(self) -> int:
        return sum(int(f["rows"]) for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "rows": self.rows, "matched_ids": self.matched_ids,
                "unknown_ids": self.unknown_ids}


def add_labels(store: LogStore, files: list[Path], column: str = "label") -> LabelsAdded:
    """Store each of FILES under the log's labels folder, then count ids the log does not know."""
    import pyarrow as pa

    added = LabelsAdded()
    stored: list[pa.Table] = []
    for file in files:
        table, dropped = _read_labels_file(file, column)
        digest = _sha256(file)
        target = store.path(LABELS, f"{digest}.parquet")
        _write(store, target, table)
        stored.append(table)
        added.files.append({"file": str(file), "rows": table.num_rows, "stored": f"{LABELS}/{digest}.parquet",
                            "dropped": dropped})
    ids = pa.concat_arrays([t.column("request_id").combine_chunks() for t in stored]) if stored \
        else pa.array([], pa.string())
    added.matched_ids, added.unknown_ids = _match(store, ids)
    return added


def _read_labels_file(file: Path, column: str) -> tuple[pa.Table, int]:
    """FILE's (request_id, label) rows, with `ts` now; rows with a missing id or label are dropped."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read(file)
    for needed in ("request_id", column):
        if needed not in table.column_names:
            raise MonitorError(f"{file} has no column {needed!r} (its columns: {', '.join(table.column_names[:10])})",
                               hint="Labels need a request_id column and a label column (--column NAME).")
    ids = pc.cast(table.column("request_id"), pa.string())
    labels = table.column(column)
    labels = pc.cast(labels, pa.float64() if _is_number(labels.type) else pa.string())
    keep = pc.and_(pc.is_valid(ids), pc.is_valid(labels))
    if pa.types.is_floating(labels.type):
        keep = pc.and_(keep, pc.invert(pc.is_nan(labels)))
    rows = pa.table({"request_id": ids, "label": labels}).filter(keep)
    now = pa.scalar(datetime.now(UTC), pa.timestamp("us", tz="UTC"))
    rows = rows.append_column("ts", pa.repeat(now, rows.num_rows))
    return rows, table.num_rows - rows.num_rows


def _read(file: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    name = file.name.lower()
    try:
        if file.stat().st_size > MAX_LABELS_FILE_BYTES:
            raise MonitorError(f"{file} is larger than {MAX_LABELS_FILE_BYTES >> 30} GiB",
                               hint="Split it into several labels files.")
        if name.endswith(PARQUET_SUFFIXES):
            return pq.read_table(file)
        if name.endswith(CSV_SUFFIXES):
            options = pcsv.ParseOptions(delimiter="\t" if name.endswith(".tsv") else ",")
            convert = pcsv.ConvertOptions(column_types={"request_id": pa.string()})
            return pcsv.read_csv(file, parse_options=options, convert_options=convert)
    except FileNotFoundError:
        raise MonitorError(f"{file} does not exist") from None
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, pa.ArrowException):
            raise
        raise MonitorError(f"{file} cannot be read: {describe_error(exc)}") from None
    raise MonitorError(f"{file} is neither CSV nor Parquet", hint="Name it .csv, .tsv or .parquet.")


def _is_number(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind))


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(store: LogStore, target: str, table: pa.Table) -> None:
    """TABLE at TARGET, atomically: locally to a dot-name then renamed, remotely in one upload."""
    import pyarrow.parquet as pq

    try:
        store.fs.create_dir(posixpath.dirname(target), recursive=True)
        if store.is_local:
            tmp = posixpath.join(posixpath.dirname(target), f".{posixpath.basename(target)}.{os.getpid()}.tmp")
            pq.write_table(table, tmp, filesystem=store.fs)
            store.fs.move(tmp, target)
        else:
            pq.write_table(table, target, filesystem=store.fs)
    except OSError as exc:
        raise MonitorError(f"cannot write labels to {store.url}: {describe_error(exc)}",
                           hint="Check that the log is writable (and, for S3, the credentials).") from None


def _match(store: LogStore, ids: pa.Array) -> tuple[int, int]:
    """(label ids found in the log, label ids not found), over every segment of the log."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlv.monitor.segments import list_segments, read_segments
    from mlv.monitor.window import Window

    wanted = pc.unique(ids)
    if not len(wanted):
        return 0, 0
    found = pa.array([False] * len(wanted))
    everything = Window(None, None)
    for _, table in read_segments(store, list_segments(store, everything), ["request_id"], everything):
        found = pc.or_(found, pc.is_in(wanted, value_set=table.column("request_id").combine_chunks()))
    matched = int(pc.sum(pc.cast(found, pa.int64())).as_py() or 0)
    return matched, len(wanted) - matched


def load_labels(store: LogStore) -> tuple[pa.Table | None, list[dict[str, str]]]:
    """Every stored label (the latest per request id), and the labels files skipped as unreadable."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    try:
        infos = store.fs.get_file_info(pafs.FileSelector(store.path(LABELS), allow_not_found=True))
    except (OSError, ValueError) as exc:
        raise MonitorError(f"cannot list the labels at {store.url}: {describe_error(exc)}") from None
    tables, skipped = [], []
    for info in sorted(infos, key=lambda i: i.path):
        name = posixpath.basename(info.path)
        if info.type != pafs.FileType.File or name.startswith((".", "_")) or not name.endswith(".parquet"):
            continue
        try:
            with store.fs.open_input_file(info.path) as handle:
                table = pq.read_table(handle, columns=["request_id", "label", "ts"])
            wanted = [("request_id", pa.string()), ("label", table.schema.field("label").type),
                      ("ts", pa.timestamp("us", tz="UTC"))]
            tables.append(table.cast(pa.schema(wanted)))
        except Exception as exc:  # noqa: BLE001 - a foreign file's failure of any kind: skip it
            skipped.append({"labels": f"{LABELS}/{name}", "reason": describe_error(exc)})
    if not tables:
        return None, skipped
    if len({t.schema.field("label").type for t in tables}) > 1:  # numbers in one file, text in another
        tables = [t.set_column(1, "label", pc.cast(t.column("label"), pa.string())) for t in tables]
    labels = pa.concat_tables(tables).sort_by([("ts", "ascending")])
    # The last label of each id wins: reverse, then keep each id's first occurrence.
    reversed_ids = labels.column("request_id").combine_chunks()[::-1]
    _, first = _first_indices(reversed_ids)
    keep = pc.subtract(pa.scalar(labels.num_rows - 1), pa.array(first))
    return labels.take(keep).select(["request_id", "label"]), skipped


def _first_indices(values: pa.Array) -> tuple[pa.Array, list[int]]:
    import pyarrow as pa

    table = pa.table({"v": values, "i": pa.array(range(len(values)), pa.int64())})
    grouped = table.group_by("v", use_threads=False).aggregate([("i", "min")])
    return grouped.column("v"), grouped.column("i_min").to_pylist()
