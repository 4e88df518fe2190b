"""docs/benchmarks.png: time against dataset size, mlv against DVC (and the floor)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.context import Case
from benchmarks.targets import TITLES

STYLE = {"mlv": ("-", "o"), "dvc": ("--", "s"), "floor": (":", "^")}
COLOURS = {"noop": "tab:green", "change1": "tab:orange", "diff": "tab:purple", "checkout": "tab:red"}


def _series(cases: Sequence[Case], op: str, tool: str) -> tuple[list[int], list[float]]:
    """(dataset size, median) points: bytes for first snapshots, files tracked otherwise."""
    points = sorted((c.nbytes if op == "first" else c.nfiles, c.measurements[tool].median) for c in cases
                    if c.op == op and c.key and tool in c.measurements and c.measurements[tool].ok)
    return [p[0] for p in points], [p[1] for p in points]


def _ticks(cases: Sequence[Case], first: bool) -> dict[int, str]:
    """Tick positions and labels: one per dataset measured."""
    ticks = {}
    for c in cases:
        if not c.key or (c.op == "first") != first:
            continue
        if first:
            label = c.dataset.replace(" (", "\n(")
            if any(len(m.samples) == 1 for t, m in c.measurements.items() if t != "floor"):
                label += "\nmlv, DVC: 1 run"
            ticks[c.nbytes] = label
        else:
            ticks[c.nfiles] = "1 GiB file" if c.nfiles == 1 else f"1 GiB file\n+ {c.nfiles - 1:,} files"
    return ticks


def draw(cases: Sequence[Case], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6.2))
    names = {"mlv": "mlv snapshot", "dvc": "DVC: dvc add + git add + git commit", "floor": "md5sum (floor)"}
    colours = {"mlv": "tab:blue", "dvc": "tab:gray", "floor": "black"}
    for tool in ("mlv", "dvc", "floor"):
        xs, ys = _series(cases, "first", tool)
        if xs:
            line, marker = STYLE[tool]
            left.plot(xs, ys, line, marker=marker, color=colours[tool], label=names[tool])
            _annotate(left, xs, ys)
    left.set_title("First snapshot (fresh repository, empty cache)")
    left.set_xlabel("dataset")
    for op, colour in COLOURS.items():
        for tool in ("mlv", "dvc"):
            xs, ys = _series(cases, op, tool)
            if xs:
                line, marker = STYLE[tool]
                right.plot(xs, ys, line, marker=marker, color=colour,
                           label=f"{TITLES[op]} ({'mlv' if tool == 'mlv' else 'DVC'})")
    right.set_title("Incremental operations (solid: mlv, dashed: DVC)")
    right.set_xlabel("files tracked")
    for ax, first in ((left, True), (right, False)):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = _ticks(cases, first)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(list(ticks), list(ticks.values()), fontsize=8)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g} s"))
        ax.set_ylabel("median wall time (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    right.set_xlim(0.5, 300_000)
    fig.suptitle("mlv against DVC on the same data: time against dataset size")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)


def _annotate(ax: Any, xs: list[int], ys: list[float]) -> None:
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:.3g} s", (x, y), textcoords="offset points", xytext=(6, -10), fontsize=7)
