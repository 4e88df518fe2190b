"""The one place that prints: data to stdout, diagnostics to stderr. rich is imported lazily.

Text from a repository (messages, commands, paths, param and metric names and values, branch and
remote names) goes through `visible()` before it reaches a terminal, and through `literal()`
before it goes into rich markup or a table cell, so that its control characters are shown rather
than obeyed and `[bold]` in a commit message is printed as written. JSON is exact data: its
encoder escapes control characters itself.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from mlv.finite import nan_to_null
from mlv.text import visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


@cache
def stdout() -> Console:
    from rich.console import Console

    # Piped (a CI log, grep): no width at all, so no line is ever wrapped or cut; on a terminal,
    # the terminal's width. `:smile:` in a message stays text.
    width = None if sys.stdout.isatty() else _NO_LIMIT
    stream = cast("IO[str]", _TrailingSpaceTrimmer())
    return Console(file=stream, soft_wrap=False, highlight=False, emoji=False, width=width)


_NO_LIMIT = 1 << 20


class _TrailingSpaceTrimmer:
    """A text stream that drops the spaces rich pads a table's last cell with, so no line ends in
    spaces (diffs of logs, `grep 'DRIFT$'`). Styles closing a line are kept."""

    _PADDING = re.compile(r" +((?:\x1b\[[0-9;]*m)*)$", re.MULTILINE)

    def __init__(self) -> None:
        self._pending = ""

    @property
    def _stream(self) -> TextIO:
        return sys.stdout  # looked up at each write, as rich does: a caller may replace sys.stdout

    def write(self, text: str) -> int:
        head, newline, self._pending = (self._pending + text).rpartition("\n")
        if newline:
            self._stream.write(self._PADDING.sub(r"\1", head) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(self._PADDING.sub(r"\1", self._pending))
            self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return self._stream.encoding


@cache
def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


__all__ = ["BarProgress", "emit_json", "fmt_size", "fmt_value", "info", "literal", "plural", "stderr", "stdout",
           "visible", "warn"]


def literal(text: str) -> str:
    """TEXT for rich markup or a table cell: control characters shown, `[...]` printed as written."""
    from rich.markup import escape

    return escape(visible(text))


def emit_json(doc: Any) -> None:
    """One JSON document on stdout. NaN and infinities (a diverged loss) become null: JSON has
    no way to write them, and `NaN` would make the whole document unreadable to jq."""
    text = json.dumps(nan_to_null(doc), indent=2, ensure_ascii=False, default=str, allow_nan=False)
    # json escapes C0 controls but, with ensure_ascii off, writes DEL, C1 controls and bidi marks
    # raw; they can only stand inside strings, where \uXXXX is the same data, and safe to print.
    sys.stdout.write(text.translate(_JSON_ESCAPES) + "\n")


_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), 0x061C, *range(0x200B, 0x2010),
                                                    *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF)}


def warn(message: str) -> None:
    """One line on stderr; MESSAGE often quotes the repository, so it is made visible whole."""
    sys.stderr.write(f"warning: {visible(message)}\n")


def info(message: str) -> None:
    """One line on stderr (see `warn`)."""
    sys.stderr.write(f"{visible(message)}\n")


def plural(count: int, word: str, many: str | None = None) -> str:
    """COUNT and WORD agreeing in number: "1 file", "2 files", "1 new commit" (MANY for irregular words)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


def fmt_value(value: Any) -> str:
    """A param or metric value on one line, control characters shown (values come from the repository).

    Booleans and null are written as the YAML or JSON they were read from, not as Python's words.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))  # escapes control characters itself
    return visible(str(value))


def fmt_size(size: int | None) -> str:
    if size is None:
        return "-"
    step = 1024.0
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < step:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{value:.1f} TiB"


class BarProgress:
    """A rich progress bar on stderr, shown only for work big enough to wait for."""

    def __init__(self, min_bytes: int = 64 * 1024 * 1024) -> None:
        self.min_bytes = min_bytes
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total_bytes: int, description: str) -> None:
        if total_bytes < self.min_bytes or not sys.stderr.isatty():
            return
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        # Binary units (MiB), as every size mlv prints; rich's own speed column is decimal only.
        speed = TextColumn("{task.fields[speed]}")
        self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                  DownloadColumn(binary_units=True), speed, TimeRemainingColumn(),
                                  console=stderr(), transient=True)
        self._progress.start()
        self._task = self._progress.add_task(description, total=total_bytes, speed="")

    def advance(self, nbytes: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, nbytes)
            rate = next(t.speed for t in self._progress.tasks if t.id == self._task)
            if rate:
                self._progress.update(self._task, speed=f"{fmt_size(int(rate))}/s")

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
