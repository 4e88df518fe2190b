"""Progress lines for long steps the core reports through callbacks: a fresh environment's build,
and data moving to or from a DVC remote. On stderr, only on a terminal; rich is imported only
once something is shown."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from mlv.env.fresh import BuildProgress


class BuildProgressLine:
    """`uv: downloaded ━━━━ 12/40 packages 0:00:07` while a fresh environment is built.

    Called with each BuildProgress; `close()` ends the line and says how long the build took.
    Disabled (a no-op) off a terminal and under --json, where stderr is for the command's output.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._last: BuildProgress | None = None

    def __call__(self, event: BuildProgress) -> None:
        if not self.enabled:
            return
        self._last = event
        if self._progress is None:
            self._start(event.total)
        assert self._progress is not None and self._task is not None  # noqa: S101
        self._progress.update(self._task, completed=event.done, total=max(event.total, 1),
                              description=f"{event.installer}: {event.step}")

    def _start(self, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from mlv.cli import output

        self._started = time.monotonic()
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("packages"), TimeElapsedColumn(),
                                  console=output.stderr(), transient=True)
        self._progress.start()
        self._task = self._progress.add_task("", total=max(total, 1))

    def close(self) -> None:
        if self._progress is None:
            return
        from mlv.cli import output

        self._progress.stop()
        self._progress = None
        if self._last is not None:
            output.info(f"  environment built with {self._last.installer}: "
                        f"{output.plural(self._last.total, 'package')} in {time.monotonic() - self._started:.1f} s")


class TransferBar:
    """`Downloading data ━━━━ 3/12 files 41.0 MiB 12.3 MiB/s 0:00:04` while DVC moves data.

    The bar follows the files (DVC says how many it will move before it starts); the bytes are in
    binary units, as every size mlv prints. On stderr, only on a terminal, never under --json.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._bytes = 0
        self._started = time.monotonic()

    def transfer_started(self, objects: int, description: str) -> None:
        if not self.enabled or objects <= 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from mlv.cli import output

        self.transfer_finished()
        self._bytes, self._started = 0, time.monotonic()
        self._progress = Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                                  TextColumn("files {task.fields[moved]}"), TimeElapsedColumn(),
                                  console=output.stderr(), transient=True)
        self._progress.start()
        self._task = self._progress.add_task(description, total=objects, moved="")

    def transfer_advanced(self, objects: int, nbytes: int) -> None:
        if self._progress is None or self._task is None:
            return
        from mlv.cli import output

        self._bytes += nbytes
        elapsed = max(time.monotonic() - self._started, 1e-3)
        # A folder remote copies whole files and reports no bytes: then the files say it all.
        moved = f"{output.fmt_size(self._bytes)} {output.fmt_size(int(self._bytes / elapsed))}/s" if self._bytes else ""
        self._progress.update(self._task, advance=objects, moved=moved)

    def transfer_finished(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class SegmentsBar:
    """`reading segments ━━━━ 40/100 0:00:03` while `mlv monitor` reads a log of many segments.

    Called with (segments read, segments in the window). On stderr, only on a terminal; a log of a
    few segments reads too fast for a bar to be worth drawing.
    """

    MIN_SEGMENTS = 20

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total < self.MIN_SEGMENTS:
            return
        if self._progress is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            from mlv.cli import output

            self._progress = Progress(TextColumn("reading segments"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=output.stderr(), transient=True)
            self._progress.start()
            self._task = self._progress.add_task("", total=total)
        assert self._task is not None  # noqa: S101 - set with the progress
        self._progress.update(self._task, completed=done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
