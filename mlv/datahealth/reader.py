"""Find a dataset's files and stream them as Arrow record batches, in bounded memory.

CSV is read with pyarrow's streaming reader, which infers column types from the first block only;
a later block that does not fit (a "1.5" in a column of integers, text in a column of numbers)
raises a conversion error. Integers are therefore read as float64 from the start (exact up to
2**53; a "1.5" later is the usual cause of that error). For anything else the reader names the
column, and the profiler starts again with that column read as text: one pass at best, a few at
worst, whatever the file.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.datahealth.errors import DataHealthError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.csv as pacsv

CSV_SUFFIXES = (".csv", ".tsv", ".csv.gz", ".tsv.gz", ".csv.bz2", ".csv.zst")
PARQUET_SUFFIXES = (".parquet", ".pq")
# Bytes per streamed CSV block (pyarrow's own default): a block this small parses within the CPU
# cache, measurably cheaper than 8 MB blocks; the profiler joins blocks before profiling them.
CSV_BLOCK = 1 << 20
INFER_BLOCK = 1 << 20  # bytes pyarrow infers the column types from (as its own default)
PARQUET_BATCH = 65_536


@dataclass(frozen=True)
class Dataset:
    files: list[Path]
    format: str  # "csv", "parquet" or "mixed"


class WidenColumn(Exception):  # noqa: N818 - a signal to the profiler, never shown to a user
    """A CSV column needs a wider type than the first block suggested."""

    def __init__(self, column: str, to: pa.DataType) -> None:
        super().__init__(column)
        self.column, self.to = column, to


def find_dataset(path: Path) -> Dataset:
    """The tabular files at PATH: the file itself, or every CSV/Parquet file under the folder."""
    if not path.exists():
        raise DataHealthError(f"{path}: no such file or folder")
    if path.is_file():
        kind = _kind(path)
        if kind is None:
            raise DataHealthError(f"{path} is not a CSV or Parquet file",
                                  hint=f"Name it with one of {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}.")
        return Dataset([path], kind)
    files = sorted(p for p in path.rglob("*") if p.is_file() and _kind(p) and not _hidden(p, path))
    if not files:
        raise DataHealthError(f"{path} holds no CSV or Parquet file")
    kinds = {_kind(p) or "" for p in files}
    return Dataset(files, kinds.pop() if len(kinds) == 1 else "mixed")


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def read_file(path: Path, csv_types: dict[str, pa.DataType]) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """The schema and the record batches of one file. CSV columns named in CSV_TYPES are read as
    those types (and integer columns are added to it as float64)."""
    with _translated(path, csv_types):
        batches = _parquet_batches(path) if _kind(path) == "parquet" else _csv_batches(path, csv_types)
        schema = next(batches)
    return schema, _translating(path, csv_types, batches)


def _translating(path: Path, csv_types: dict[str, pa.DataType], batches: Iterator[pa.RecordBatch]
                 ) -> Iterator[pa.RecordBatch]:
    with _translated(path, csv_types):
        yield from batches


@contextmanager
def _translated(path: Path, csv_types: dict[str, pa.DataType]) -> Iterator[None]:
    """pyarrow's errors as one line naming the file, or WidenColumn for a CSV conversion error."""
    import pyarrow as pa

    try:
        yield
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, OSError) as exc:
        if isinstance(exc, pa.ArrowInvalid):
            _raise_if_widenable(exc, path, csv_types)
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise DataHealthError(f"cannot read {path} as {_kind(path) or 'CSV'}: {first}") from None


def _parquet_batches(path: Path) -> Iterator[Any]:
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as handle:
        yield handle.schema_arrow  # first the schema, then the batches
        yield from handle.iter_batches(batch_size=PARQUET_BATCH)


def _csv_batches(path: Path, csv_types: dict[str, pa.DataType]) -> Iterator[Any]:
    # Infer types from a small first block (cheap), widen integers, then stream with big blocks.
    with _open_csv(path, csv_types, INFER_BLOCK) as probe:
        wider = {f.name: _first_widening(f.type) for f in probe.schema if f.name not in csv_types}
    csv_types.update({name: t for name, t in wider.items() if t is not None})
    with _open_csv(path, csv_types, CSV_BLOCK) as reader:
        yield reader.schema  # first the schema, then the batches
        yield from _prefetched(reader)


def _prefetched(reader: pacsv.CSVStreamingReader) -> Iterator[pa.RecordBatch]:
    """The reader's batches, parsed one ahead in a thread: pyarrow parses without the GIL, so on
    two cores parsing the next block overlaps with profiling this one. Memory: two blocks."""
    import queue
    import threading

    slots: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in reader:
                if stop.is_set():
                    return
                slots.put(batch)
            slots.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            slots.put(exc)

    worker = threading.Thread(target=produce, name="mlv-csv-prefetch", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)
        worker.join()


def _open_csv(path: Path, csv_types: dict[str, pa.DataType], block: int = CSV_BLOCK) -> pacsv.CSVStreamingReader:
    import pyarrow.csv as pacsv

    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    return pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=block),
                          parse_options=pacsv.ParseOptions(delimiter=delimiter),
                          convert_options=pacsv.ConvertOptions(column_types=csv_types))


def _first_widening(arrow_type: pa.DataType) -> pa.DataType | None:
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_null(arrow_type):
        return pa.float64()
    return None


_CONVERSION = re.compile(r"In CSV column #(\d+): .*CSV conversion error")


def _raise_if_widenable(exc: Exception, path: Path, csv_types: dict[str, pa.DataType]) -> None:
    """Turn pyarrow's "conversion error" into WidenColumn: the column it names becomes text
    (integers were widened to float64 already, so whatever still fails is not a number)."""
    import pyarrow as pa

    match = _CONVERSION.search(str(exc))
    if not match:
        return
    with _open_csv(path, csv_types, INFER_BLOCK) as probe:
        name = probe.schema.names[int(match.group(1))]
    if pa.types.is_string(csv_types.get(name, pa.null())):
        return  # already text: nothing wider to try
    csv_types[name] = pa.string()
    raise WidenColumn(name, pa.string()) from None
