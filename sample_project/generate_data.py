"""Generate the sample tabular dataset into data/dataset.csv (fixed seed: same bytes every time).

    python generate_data.py                                  # the training data
    python generate_data.py --shift 0.8 --missing 0.05       # next month's data: drifted, with holes

--shift moves the mean of every feature by that many standard deviations (the target follows, as it
would in the world); --missing empties that share of the x2 cells. Both show up in `mlv data check`.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

ROWS = 2000
FEATURES = ("x1", "x2", "x3", "x4")
WEIGHTS = (1.5, -2.0, 0.7, 3.1)


def main(out: str = "data/dataset.csv", seed: int = 7, shift: float = 0.0, missing: float = 0.0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, len(FEATURES)))
    x += shift
    y = x @ np.array(WEIGHTS) + 0.5 + rng.normal(scale=0.3, size=ROWS)
    # Drawn after the data, so the default dataset keeps exactly the bytes it always had.
    holes = rng.random(ROWS) < missing if missing > 0 else np.zeros(ROWS, dtype=bool)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FEATURES, "y"])
        for row, target, hole in zip(x, y, holes, strict=True):
            cells = [f"{v:.6f}" for v in row] + [f"{target:.6f}"]
            if hole:
                cells[1] = ""
            writer.writerow(cells)
    print(f"wrote {ROWS} rows to {path}" + (f" (features shifted by {shift} std, {holes.sum()} x2 cells missing)"
                                            if shift or missing else ""))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="data/dataset.csv", help="where to write the CSV")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--shift", type=float, default=0.0, help="shift the mean of every feature by this many std")
    parser.add_argument("--missing", type=float, default=0.0, help="share of x2 cells to leave empty (0..1)")
    return parser.parse_args()


if __name__ == "__main__":
    args = _arguments()
    main(args.out, args.seed, args.shift, args.missing)
