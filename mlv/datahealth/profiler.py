"""`profile_dataset(path) -> Profile`: one streaming pass over a CSV/Parquet file or folder."""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from mlv.datahealth.errors import DataHealthError, require_extra
from mlv.datahealth.model import Profile

if TYPE_CHECKING:
    import pyarrow as pa

    from mlv.datahealth.accumulate import Accumulator
    from mlv.datahealth.partial import Partial

# Rows fed to the accumulators at once. Readers hand over small batches (small CSV blocks parse
# faster: they stay in the CPU cache); each accumulator call has a fixed cost in Python and numpy
# calls, so batches are joined to about this many rows first, or fewer when a wide table would
# hold more than FEED_BYTES of Arrow data (memory stays bounded whatever the number of columns).
FEED_ROWS = 131_072
FEED_BYTES = 32 << 20
_MAX_THREADS = 4
_MAX_RESTARTS = 50  # each widens one CSV column to text; a file cannot need more than its columns


def profile_dataset(path: Path) -> Profile:
    """The profile of the CSV or Parquet file at PATH, or of every such file under a folder
    (which must all have the same columns, with the same kinds of values)."""
    require_extra(checking=False)
    from mlv.datahealth.reader import WidenColumn, find_dataset

    dataset = find_dataset(path)
    csv_types: dict[str, pa.DataType] = {}
    for _ in range(_MAX_RESTARTS):
        try:
            return _profile_files(dataset.files, dataset.format, csv_types)
        except WidenColumn:
            continue  # csv_types now reads that column as text: start again
    raise DataHealthError(f"cannot settle the column types of {path}")


def _profile_files(files: list[Path], fmt: str, csv_types: dict[str, pa.DataType]) -> Profile:
    from mlv.datahealth.reader import read_file

    with _Profiler() as profiler:
        for file in files:
            schema, batches = read_file(file, csv_types)
            profiler.start_schema(schema, str(file))
            for batch in batches:
                profiler.add(batch)
        return profiler.result({"format": fmt, "files": len(files)})


def file_partial(file: Path) -> Partial:
    """What profiling FILE alone saw, to be merged with the other files' (the Dask engine)."""
    require_extra(checking=False)
    from mlv.datahealth.reader import WidenColumn, read_file

    csv_types: dict[str, pa.DataType] = {}
    for _ in range(_MAX_RESTARTS):
        try:
            with _Profiler() as profiler:
                schema, batches = read_file(file, csv_types)
                profiler.start_schema(schema, str(file))
                for batch in batches:
                    profiler.add(batch)
                return profiler.partial(str(file))
        except WidenColumn:
            continue
    raise DataHealthError(f"cannot settle the column types of {file}")


def profile_table(table: pa.Table | pa.RecordBatch) -> Profile:
    """The profile of an in-memory Arrow table (the Python API; tests use it to skip the disk)."""
    require_extra(checking=False)
    import pyarrow as pa

    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    # Slices of what the profiler feeds at once: zero-copy, and no column is converted whole.
    return profile_batches(table.to_batches(max_chunksize=FEED_ROWS), table.schema)


def profile_batches(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> Profile:
    with _Profiler() as profiler:
        profiler.start_schema(schema, "the table")
        for batch in batches:
            profiler.add(batch)
        return profiler.result({"format": "arrow", "files": 0})


class _Profiler:
    """Feeds each column's accumulator; used as a context manager, which owns a pool of threads."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: dict[str, Accumulator | None] = {}
        self.kinds: dict[str, str] = {}  # column -> logical kind, to compare files of a folder
        self.first: str = ""
        self.pending: list[pa.RecordBatch] = []  # of one file's schema, fewer than FEED_ROWS rows
        self.pending_rows = 0
        self.pending_bytes = 0
        # Columns are profiled side by side: numpy's sorts and pyarrow's kernels run without the
        # GIL, so the threads use the cores that the single-threaded CSV stream leaves idle.
        # Each accumulator gets one task per feed and feeds run one after another: no sharing.
        self.pool = ThreadPoolExecutor(max_workers=min(_MAX_THREADS, os.cpu_count() or 1),
                                       thread_name_prefix="mlv-profile")

    def __enter__(self) -> _Profiler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def start_schema(self, schema: pa.Schema, where: str) -> None:
        from mlv.datahealth.accumulate import accumulator_for

        self._feed()  # files of a folder may differ in physical types: never join their batches
        kinds = {f.name: _kind_name(accumulator_for(f.name, f.type)) for f in schema}
        if not self.columns:
            self.columns = {f.name: accumulator_for(f.name, f.type) for f in schema}
            self.kinds, self.first = kinds, where
        elif kinds != self.kinds:
            raise DataHealthError(f"mismatched columns: {where} has {_describe(kinds)} but {self.first} has "
                                  f"{_describe(self.kinds)}", hint="Every file of a dataset needs the same columns.")

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        self.pending_bytes += batch.nbytes
        if self.pending_rows >= FEED_ROWS or self.pending_bytes >= FEED_BYTES:
            self._feed()

    def _feed(self) -> None:
        if not self.pending:
            return
        batches, self.pending, self.pending_rows, self.pending_bytes = self.pending, [], 0, 0
        tasks = []
        for index, name in enumerate(batches[0].schema.names):  # by name: files may order columns apart
            accumulator = self.columns[name]
            if accumulator is not None:
                tasks.append(self.pool.submit(_add_joined, accumulator, [batch.column(index) for batch in batches]))
        for task in tasks:
            task.result()  # re-raises a worker's exception here

    def partial(self, where: str) -> Partial:
        from mlv.datahealth.partial import Partial

        self._feed()
        return Partial(rows=self.rows, columns=self.columns, where=where)

    def result(self, source: dict[str, object]) -> Profile:
        self._feed()
        skipped = [{"column": name, "reason": "unsupported type"} for name, a in self.columns.items() if a is None]
        summaries = [self.pool.submit(a.result) for a in self.columns.values() if a is not None]  # sorts, too
        return Profile(rows=self.rows, columns=[summary.result() for summary in summaries],
                       source=source, skipped=skipped)


def _add_joined(accumulator: Accumulator, chunks: list[pa.Array]) -> None:
    accumulator.add(_joined(chunks))


def _joined(chunks: list[pa.Array]) -> pa.Array:
    """One array of CHUNKS (a copy, cheap next to what the accumulators do with it)."""
    import pyarrow as pa

    if len(chunks) == 1:
        return chunks[0]
    if pa.types.is_dictionary(chunks[0].type):  # each batch may carry its own dictionary
        chunks = [chunk.dictionary_decode() for chunk in chunks]
    return pa.concat_arrays(chunks)


def _kind_name(accumulator: Accumulator | None) -> str:
    return accumulator.dtype if accumulator is not None else "unsupported"


def _describe(kinds: dict[str, str]) -> str:
    shown = ", ".join(f"{name} ({kind})" for name, kind in list(kinds.items())[:6])
    return f"[{shown}{', ...' if len(kinds) > 6 else ''}]"
