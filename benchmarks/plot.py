"""docs/benchmarks.png: time against dataset size, mlv against DVC (and the floor)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.context import Case
from benchmarks.targets import TITLES

STYLE = {"mlv": ("-", "o"), "dvc": ("--", "s"), "floor": (":", "^")}
NAMES = {"mlv": "mlv", "dvc": "DVC", "floor": "floor"}
COLOURS = {"first": "tab:blue", "noop": "tab:green", "change1": "tab:orange", "diff": "tab:purple",
           "checkout": "tab:red"}


def _series(cases: Sequence[Case], op: str, tool: str) -> tuple[list[int], list[float]]:
    points = sorted((c.nfiles, c.measurements[tool].median) for c in cases
                    if c.op == op and c.key and tool in c.measurements and c.measurements[tool].ok)
    return [p[0] for p in points], [p[1] for p in points]


def draw(cases: Sequence[Case], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    for tool in ("mlv", "dvc", "floor"):
        xs, ys = _series(cases, "first", tool)
        if xs:
            line, marker = STYLE[tool]
            label = {"floor": "md5sum (floor)"}.get(tool, NAMES[tool])
            left.plot(xs, ys, line, marker=marker, color={"mlv": "tab:blue", "dvc": "tab:gray",
                                                          "floor": "black"}[tool], label=label)
    left.set_title("First snapshot (1 GiB file + N small files)")
    for op in ("noop", "change1", "diff", "checkout"):
        for tool in ("mlv", "dvc"):
            xs, ys = _series(cases, op, tool)
            if xs:
                line, marker = STYLE[tool]
                right.plot(xs, ys, line, marker=marker, color=COLOURS[op],
                           label=f"{TITLES[op]} - {NAMES[tool]}")
    right.set_title("Incremental operations (solid: mlv, dashed: DVC)")
    for ax in (left, right):
        ax.set_xscale("symlog", linthresh=1)
        ax.set_yscale("log")
        ax.set_xlabel("files tracked (besides the 1 GiB file: 0, 10,000, 100,000)")
        ax.set_ylabel("median wall time (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("mlv against DVC: time against dataset size")
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
