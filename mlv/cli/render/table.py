"""Tables that fit the reader: the column that says what a row is about stays whole, numbers are
never split, and piped output (a CI log, `grep`) is never wrapped or cut.

On a terminal narrower than the table, free text (messages, commands) is shortened with an
ellipsis first, then summaries wrap between their parts, then whole columns are left out in the
order the caller gives, with a note naming them. A cell is never broken inside a value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

GAP = "  "
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    name: str
    key: bool = False  # identifies the row: never shortened, never left out
    right: bool = False  # right-aligned (counts, scores)
    shorten: bool = False  # free text: may be cut with an ellipsis down to min_width
    wrap: bool = False  # parts separated by two spaces may go on separate lines
    min_width: int = 8
    drop: int = 0  # left out when nothing else fits: the highest first; 0 = never


class Styled(NamedTuple):
    """A cell with an ANSI style (e.g. "31" red), applied on a colour terminal only."""

    text: str
    style: str


Cell = str | Styled


def terminal_width() -> int | None:
    """The terminal's width, or None when stdout is not a terminal (no limit: never wrap a pipe)."""
    if not sys.stdout.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns  # COLUMNS when set, else the terminal's own


def render(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None) -> list[str]:
    """The table's lines (no trailing spaces) for WIDTH columns, None for no limit; a last line
    names the columns left out, if any."""
    shown = list(range(len(columns)))
    while True:
        widths = _fit(columns, rows, shown, width)
        if widths is not None or not any(columns[i].drop for i in shown):
            break
        shown.remove(max((i for i in shown if columns[i].drop), key=lambda i: columns[i].drop))
    if widths is None:  # even the key columns do not fit: let the terminal wrap, cut nothing
        widths = {i: _natural(columns[i], rows, i) for i in shown}
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    picked, sizes = [columns[i] for i in shown], [widths[i] for i in shown]
    lines = _lines([c.name for c in picked], picked, sizes, "1" * colour)
    for row in rows:
        lines += _lines([row[i] for i in shown], picked, sizes, None if colour else "")
    hidden = [c.name for i, c in enumerate(columns) if i not in shown]
    if hidden:
        lines.append(f"({', '.join(hidden)} left out to fit {width} columns; "
                     "a wider terminal, a pipe or --json shows all)")
    return lines


def _text(cell: Cell) -> str:
    return cell.text if isinstance(cell, Styled) else cell


def _natural(column: Column, rows: Sequence[Sequence[Cell]], index: int) -> int:
    cells = [column.name, *(_text(row[index]) for row in rows)]
    return max(len(line) for cell in cells for line in (cell.split("\n") or [""]))


def _least(column: Column, rows: Sequence[Sequence[Cell]], index: int) -> int:
    """The narrowest the column may become without breaking a value."""
    natural = _natural(column, rows, index)
    if column.key or not (column.shorten or column.wrap):
        return natural
    if column.shorten:
        return min(natural, max(column.min_width, len(column.name)))
    parts = [p for row in rows for line in _text(row[index]).split("\n") for p in line.split(GAP)]
    return max([len(column.name), *map(len, parts)])


def _fit(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], shown: list[int],
         width: int | None) -> dict[int, int] | None:
    widths = {i: _natural(columns[i], rows, i) for i in shown}
    if width is None:
        return widths
    least = {i: _least(columns[i], rows, i) for i in shown}
    excess = sum(widths.values()) + len(GAP) * (len(shown) - 1) - width
    # Shorten free text first, then wrap summaries: the widest give up a column at a time.
    for kind in ("shorten", "wrap"):
        while excess > 0:
            candidates = [i for i in shown if getattr(columns[i], kind) and widths[i] > least[i]]
            if not candidates:
                break
            widest = max(candidates, key=lambda i: widths[i] - least[i])
            widths[widest] -= 1
            excess -= 1
    return widths if excess <= 0 else None


def _wrapped(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for line in text.split("\n"):
        current = ""
        for part in line.split(GAP):
            candidate = f"{current}{GAP}{part}" if current else part
            if current and len(candidate) > width:
                lines.append(current)
                current = part
            else:
                current = candidate
        lines.append(current)
    return lines


def _cell_lines(text: str, column: Column, width: int) -> list[str]:
    if column.wrap:
        return _wrapped(text, width)
    lines = text.split("\n")
    if column.shorten:
        return [line if len(line) <= width else line[: width - 1] + ELLIPSIS for line in lines]
    return lines


def _lines(cells: Sequence[Cell], columns: Sequence[Column], widths: Sequence[int], style: str | None) -> list[str]:
    """One row as terminal lines. STYLE: an ANSI code for every cell (the header), None for each
    Styled cell's own, "" for none."""
    split = [_cell_lines(_text(c), col, w) for c, col, w in zip(cells, columns, widths, strict=True)]
    height = max(len(lines) for lines in split)
    out = []
    for n in range(height):
        parts = []
        for cell, col, w, lines in zip(cells, columns, widths, split, strict=True):
            text = lines[n] if n < len(lines) else ""
            pad = " " * (w - len(text))
            code = style if style is not None else (cell.style if isinstance(cell, Styled) else "")
            shown = f"\033[{code}m{text}\033[0m" if code and text else text
            parts.append(pad + shown if col.right else shown + pad)
        out.append(GAP.join(parts).rstrip())
    return out
