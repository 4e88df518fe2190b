"""Generate the sample tabular dataset into data/dataset.csv (fixed seed: same bytes every time)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROWS = 2000
FEATURES = ("x1", "x2", "x3", "x4")
WEIGHTS = (1.5, -2.0, 0.7, 3.1)


def main(out: str = "data/dataset.csv", seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(ROWS, len(FEATURES)))
    y = x @ np.array(WEIGHTS) + 0.5 + rng.normal(scale=0.3, size=ROWS)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*FEATURES, "y"])
        for row, target in zip(x, y, strict=True):
            writer.writerow([f"{v:.6f}" for v in row] + [f"{target:.6f}"])
    print(f"wrote {ROWS} rows to {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
