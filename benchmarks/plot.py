"""docs/benchmarks.png: time against dataset size, mlv against DVC (and the floor)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.context import Case
from benchmarks.datasets import fmt_bytes
from benchmarks.targets import TITLES

STYLE = {"mlv": ("-", "o"), "dvc": ("--", "s"), "floor": (":", "^")}
COLOURS = {"noop": "tab:green", "change1": "tab:orange", "diff": "tab:purple", "checkout": "tab:red"}


def _series(cases: Sequence[Case], op: str, tool: str) -> tuple[list[int], list[float]]:
    """(dataset size, median) points: bytes for first snapshots, files tracked otherwise."""
    points = sorted((c.nbytes if op == "first" else c.nfiles, c.measurements[tool].median) for c in cases
                    if c.op == op and c.key and tool in c.measurements and c.measurements[tool].ok)
    return [p[0] for p in points], [p[1] for p in points]


def draw(cases: Sequence[Case], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 6))
    names = {"mlv": "mlv snapshot", "dvc": "DVC: dvc add + git commit", "floor": "md5sum (floor)"}
    colours = {"mlv": "tab:blue", "dvc": "tab:gray", "floor": "black"}
    for tool in ("mlv", "dvc", "floor"):
        xs, ys = _series(cases, "first", tool)
        if xs:
            line, marker = STYLE[tool]
            left.plot(xs, ys, line, marker=marker, color=colours[tool], label=names[tool])
            _annotate(left, xs, ys)
    left.set_title("First snapshot, against bytes")
    left.set_xlabel("dataset size (100,000 files / 10,000 files / one file)")
    left.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_bytes(v)))
    for op, colour in COLOURS.items():
        for tool in ("mlv", "dvc"):
            xs, ys = _series(cases, op, tool)
            if xs:
                line, marker = STYLE[tool]
                right.plot(xs, ys, line, marker=marker, color=colour,
                           label=f"{TITLES[op]} ({'mlv' if tool == 'mlv' else 'DVC'})")
    right.set_title("Incremental operations (solid: mlv, dashed: DVC)")
    right.set_xlabel("files tracked (the 1 GiB file, plus 10,000 or 100,000 small files)")
    right.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g} s"))
        ax.set_ylabel("median wall time")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("mlv against DVC on the same data: time against dataset size (log-log)")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)


def _annotate(ax: Any, xs: list[int], ys: list[float]) -> None:
    for x, y in zip(xs, ys, strict=True):
        ax.annotate(f"{y:.2g} s", (x, y), textcoords="offset points", xytext=(6, -10), fontsize=7)
