"""Small inline SVG charts, drawn in Python: they need no library, no network and no JavaScript.

Every text from the repository (metric names, commits, model versions) is escaped here; colours
are SVG attributes, not `style=`, so the page's Content-Security-Policy needs no inline styles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 320, 170
PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 12, 12, 38
CHAR_W = 6.2  # width of one character at font-size 10, generous, so no tick label is clipped
PAD_LEFT = 48  # the distribution charts' left margin: room for their fixed `100%` label
Y_TICKS = 4
MAX_X_TICKS = 5


@dataclass(frozen=True)
class Point:
    index: int  # position in time order (oldest first)
    value: float
    commit: str
    label: str  # what the hover title says
    marks: tuple[str, ...] = ()  # registered versions on this commit (`model@v1.0.0`)
    tick: str = ""  # what the x axis says under this point (a short commit, an hour)


def fmt(value: float) -> str:
    """A number as the terminal shows it: 6 significant digits, no float noise."""
    return f"{value:.6g}"


def nice_ticks(low: float, high: float, count: int = Y_TICKS) -> list[float]:
    """About COUNT round values (1, 2 or 5 times a power of ten apart) covering LOW..HIGH."""
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.5:
        ticks.append(round(value / step) * step)
        value += step
    return ticks


def tick_label(value: float, step: float) -> str:
    """A tick value with the digits its step needs, and no more: `1450`, `0.99365`, `2.505e+08`."""
    if value == 0:
        return "0"
    decimals = max(0, -math.floor(math.log10(step)))
    if abs(value) < 1e6 and decimals <= 6:
        return f"{value:.{decimals}f}"
    digits = max(1, math.floor(math.log10(abs(value))) - math.floor(math.log10(step)) + 1)
    return f"{value:.{min(digits, 6)}g}"


def metric_chart(name: str, points: Sequence[Point], count: int, x_title: str = "experiments, oldest first") -> str:
    """One metric across COUNT experiments, with labelled axes; registered versions drawn as squares.

    Hovering a point shows its value and commit (an SVG `<title>`)."""
    if not points:
        return ""
    low, high = min(p.value for p in points), max(p.value for p in points)
    if math.isclose(low, high, rel_tol=1e-9, abs_tol=1e-300):  # a flat line in the middle, not a division by zero
        margin = abs(low) * 0.05 or 0.5
        low, high = low - margin, high + margin
    ticks = nice_ticks(low, high)
    step = float(f"{ticks[1] - ticks[0]:.1g}") if len(ticks) > 1 else abs(high - low)  # 1e-05, not 9.99999e-06
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    labels = [tick_label(t, step) for t in ticks]
    pad_left = 8 + CHAR_W * max(len(label) for label in labels) + 14  # tick labels, then room for the axis title
    span_x = max(count - 1, 1)
    inner_w, inner_h = WIDTH - pad_left - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    bottom = HEIGHT - PAD_BOTTOM

    def x_at(index: int) -> float:
        return pad_left + inner_w * index / span_x

    def y_at(value: float) -> float:
        return PAD_TOP + inner_h * (1 - (value - low) / (high - low))

    coords = [(x_at(p.index), y_at(p.value)) for p in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(name)} over {escape(x_title)}">',
        f'<title>{escape(name)}</title>',
        f'<line x1="{pad_left:.1f}" y1="{bottom}" x2="{WIDTH - PAD_RIGHT}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{pad_left:.1f}" y1="{PAD_TOP}" x2="{pad_left:.1f}" y2="{bottom}" stroke="#999"/>',
        f'<text class="axis-title" x="10" y="{PAD_TOP + inner_h / 2:.1f}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 10 {PAD_TOP + inner_h / 2:.1f})">{escape(_clip(name, 28))}</text>',
        f'<text class="axis-title" x="{pad_left + inner_w / 2:.1f}" y="{HEIGHT - 3}" font-size="10" '
        f'text-anchor="middle">{escape(x_title)}</text>',
    ]
    for tick, label in zip(ticks, labels, strict=True):
        y = y_at(tick)
        parts.append(f'<line x1="{pad_left - 3:.1f}" y1="{y:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{y:.1f}" '
                     'stroke="#e3e3e3"/>')
        parts.append(f'<text class="y-tick" x="{pad_left - 5:.1f}" y="{y + 3:.1f}" text-anchor="end" '
                     f'font-size="10">{escape(label)}</text>')
    parts += _x_ticks(points, x_at, bottom)
    parts.append(f'<polyline fill="none" stroke="#2a6db0" stroke-width="1.5" points="{line}"/>')
    dots = len(points) <= 200  # beyond that, dots only hide the line; registered versions always show
    for p, (x, y) in zip(points, coords, strict=True):
        title = escape(f"{p.label}: {fmt(p.value)}" + (f" ({', '.join(p.marks)})" if p.marks else ""))
        if p.marks:
            parts.append(f'<a href="#exp-{escape(p.commit[:12])}"><rect class="registered point" '
                         f'x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#d9822b" stroke="#222">'
                         f'<title>{title}</title></rect></a>')
        elif dots:
            parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2a6db0">'
                         f'<title>{title}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def _x_ticks(points: Sequence[Point], x_at: Callable[[int], float], bottom: float) -> list[str]:
    """Up to MAX_X_TICKS labels under the x axis (first, last and evenly between), none overlapping."""
    labelled = [p for p in points if p.tick]
    if not labelled:
        return []
    shown = min(MAX_X_TICKS, len(labelled))
    chosen = sorted({round(i * (len(labelled) - 1) / max(shown - 1, 1)) for i in range(shown)})
    parts = []
    last_right = -math.inf
    for n, i in enumerate(chosen):
        p = labelled[i]
        x = x_at(p.index)
        width = CHAR_W * len(p.tick)
        anchor = "start" if n == 0 and len(chosen) > 1 else "end" if n == len(chosen) - 1 and n > 0 else "middle"
        left = x if anchor == "start" else x - width if anchor == "end" else x - width / 2
        if left < last_right + 4:  # would overlap its neighbour: leave it out
            continue
        last_right = left + width
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 3}" stroke="#999"/>')
        parts.append(f'<text class="x-tick" x="{x:.1f}" y="{bottom + 13}" text-anchor="{anchor}" '
                     f'font-size="10">{escape(p.tick)}</text>')
    return parts


def _clip(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[:limit - 1] + "\u2026"


def bar_chart(title: str, bars: Sequence[tuple[str, float, bool]], limit: float = 1.0) -> str:
    """Horizontal bars (label, value in 0..LIMIT, highlighted) for a dataset's columns."""
    if not bars:
        return ""
    row, label_w = 18, 110
    height = PAD_TOP + row * len(bars) + 6
    inner = WIDTH - label_w - 8 - CHAR_W * max(len(fmt(value)) for _, value, _ in bars)  # room for the values
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value, hot) in enumerate(bars):
        y = PAD_TOP + i * row
        share = 0.0 if not math.isfinite(value) or limit <= 0 else max(0.0, min(value / limit, 1.0))
        shown = label if len(label) <= 16 else label[:15] + "\u2026"
        parts.append(f'<text x="{label_w - 4}" y="{y + 12}" text-anchor="end" font-size="11">{escape(shown)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 2}" width="{inner * share:.1f}" height="{row - 6}" '
                     f'fill="{"#c0392b" if hot else "#2a6db0"}"><title>{escape(label)}: {fmt(value)}</title></rect>')
        parts.append(f'<text x="{label_w + inner * share + 4:.1f}" y="{y + 12}" font-size="10">{fmt(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def quantile_chart(title: str, reference: Sequence[float], current: Sequence[float]) -> str:
    """Two cumulative distributions drawn from their quantiles: reference grey, current blue."""
    values = [v for v in (*reference, *current) if math.isfinite(v)]
    if not values:
        return ""
    low, high = min(values), max(values)
    if math.isclose(low, high):
        low, high = low - 0.5, high + 0.5
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def line(quantiles: Sequence[float]) -> str:
        steps = max(len(quantiles) - 1, 1)
        return " ".join(f"{PAD_LEFT + inner_w * (q - low) / (high - low):.1f},"
                        f"{PAD_TOP + inner_h * (1 - i / steps):.1f}" for i, q in enumerate(quantiles))

    return "".join([
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>',
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" font-size="10">{fmt(low)}</text>',
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 6}" text-anchor="end" font-size="10">{fmt(high)}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end" font-size="10">100%</text>',
        f'<polyline fill="none" stroke="#999" stroke-width="1.5" points="{line(reference)}">'
        f"<title>reference</title></polyline>",
        f'<polyline fill="none" stroke="#2a6db0" stroke-width="1.5" points="{line(current)}">'
        f"<title>current</title></polyline>",
        "</svg>",
    ])
