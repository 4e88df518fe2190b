"""Small inline SVG charts, drawn in Python: they need no library, no network and no JavaScript.

Every text from the repository (metric names, commits, model versions) is escaped here; colours
are SVG attributes, not `style=`, so the page's Content-Security-Policy needs no inline styles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 320, 150
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 10, 12, 22


@dataclass(frozen=True)
class Point:
    index: int  # position in time order (oldest first)
    value: float
    commit: str
    label: str  # what the hover title says
    marks: tuple[str, ...] = ()  # registered versions on this commit (`model@v1.0.0`)


def fmt(value: float) -> str:
    return f"{value:.4g}"


def metric_chart(name: str, points: Sequence[Point], count: int) -> str:
    """One metric across COUNT experiments; registered versions drawn as larger squares."""
    if not points:
        return ""
    low, high = min(p.value for p in points), max(p.value for p in points)
    if math.isclose(low, high):  # a flat line in the middle, not a division by zero
        margin = abs(low) * 0.05 or 0.5
        low, high = low - margin, high + margin
    span_x = max(count - 1, 1)
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def xy(p: Point) -> tuple[float, float]:
        return (PAD_LEFT + inner_w * p.index / span_x,
                PAD_TOP + inner_h * (1 - (p.value - low) / (high - low)))

    coords = [xy(p) for p in points]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(name)} over experiments">',
        f'<title>{escape(name)}</title>',
        f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>',
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end" font-size="10">{fmt(high)}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" text-anchor="end" font-size="10">{fmt(low)}</text>',
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 6}" font-size="10">oldest</text>',
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 6}" text-anchor="end" font-size="10">newest</text>',
        f'<polyline fill="none" stroke="#2a6db0" stroke-width="1.5" points="{line}"/>',
    ]
    dots = len(points) <= 200  # beyond that, dots only hide the line; registered versions always show
    for p, (x, y) in zip(points, coords, strict=True):
        title = escape(f"{p.label}: {fmt(p.value)}" + (f" ({', '.join(p.marks)})" if p.marks else ""))
        if p.marks:
            parts.append(f'<a href="#exp-{escape(p.commit[:12])}"><rect class="registered" '
                         f'x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#d9822b" stroke="#222">'
                         f'<title>{title}</title></rect></a>')
        elif dots:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#2a6db0"><title>{title}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(title: str, bars: Sequence[tuple[str, float, bool]], limit: float = 1.0) -> str:
    """Horizontal bars (label, value in 0..LIMIT, highlighted) for a dataset's columns."""
    if not bars:
        return ""
    row, label_w = 18, 110
    height = PAD_TOP + row * len(bars) + 6
    inner = WIDTH - label_w - 50
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
