"""A data profile fed batch by batch (push), over the profiler's pull API (`profile_batches`).

The monitor reads the log once and feeds several consumers per batch; the profiler wants an
iterator. A thread runs the profiler on a small queue, so memory stays at a few batches.
"""

from __future__ import annotations

import queue
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pyarrow as pa

    from mlv.datahealth.model import Profile

_DONE = None


class StreamProfile:
    def __init__(self, schema: pa.Schema) -> None:
        from mlv.datahealth.profiler import profile_batches

        self.schema = schema
        self._queue: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=4)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlv-monitor-profile")
        self._future: Future[Profile] = self._pool.submit(profile_batches, self._batches(), schema)

    def _batches(self) -> Iterator[pa.RecordBatch]:
        while (batch := self._queue.get()) is not _DONE:
            yield batch

    def add(self, table: pa.Table) -> None:
        for batch in table.to_batches():
            self._put(batch)

    def _put(self, item: pa.RecordBatch | None) -> None:
        while True:
            if self._future.done():  # the profiler failed: stop feeding, result() raises its error
                return
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def result(self) -> Profile:
        self._put(_DONE)
        try:
            return self._future.result()
        finally:
            self._pool.shutdown(wait=True)
