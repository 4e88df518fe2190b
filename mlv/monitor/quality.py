"""Model performance on production: predictions joined with labels by request id, the metric
computed in one streaming pass (sums, never the rows), compared with the recorded value.

Known metrics, by the last word of their name (`test_mse`, `val.accuracy`): mse, rmse, mae, r2
(numeric predictions and labels) and accuracy (equal values, any type).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

KNOWN = ("mse", "rmse", "mae", "r2", "accuracy")
_LEAF = re.compile(r"(?:^|[._-])(mse|rmse|mae|r2|accuracy)$")


def known_metric(name: str) -> str | None:
    """The metric NAME computes (`test_mse` -> mse), or None when mlv cannot compute it."""
    found = _LEAF.search(name.lower())
    return found.group(1) if found else None


@dataclass
class Quality:
    rows: int = 0  # labelled rows
    numeric: int = 0  # of which both prediction and label are numbers
    equal: int = 0
    squared: float = 0.0
    absolute: float = 0.0
    label_sum: float = 0.0
    label_squares: float = 0.0

    def add(self, predictions: pa.Array, labels: pa.Array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(predictions):
            return
        self.rows += len(predictions)
        numeric = _is_number(predictions.type) and _is_number(labels.type)
        if numeric:
            p = pc.cast(predictions, pa.float64())
            y = pc.cast(labels, pa.float64())
            error = pc.subtract(p, y)
            self.numeric += len(p)
            self.squared += _sum(pc.multiply(error, error))
            self.absolute += _sum(pc.abs(error))
            self.label_sum += _sum(y)
            self.label_squares += _sum(pc.multiply(y, y))
            self.equal += int(pc.sum(pc.cast(pc.equal(p, y), pa.int64())).as_py() or 0)
        else:
            same = pc.equal(pc.cast(predictions, pa.string()), pc.cast(labels, pa.string()))
            self.equal += int(pc.sum(pc.cast(same, pa.int64())).as_py() or 0)

    def value(self, metric: str) -> float | None:
        """METRIC (one of KNOWN) on the labelled rows; None when it cannot be computed."""
        if metric == "accuracy":
            return self.equal / self.rows if self.rows else None
        n = self.numeric
        if not n or n != self.rows:
            return None  # a regression metric on string labels means nothing
        mse = self.squared / n
        if metric == "mse":
            return mse
        if metric == "rmse":
            return math.sqrt(mse)
        if metric == "mae":
            return self.absolute / n
        total = self.label_squares - self.label_sum ** 2 / n  # r2
        return 1 - self.squared / total if total > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {"labelled_rows": self.rows, **{m: self.value(m) for m in KNOWN if self.value(m) is not None}}


def _is_number(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_floating(kind) or pa.types.is_integer(kind))


def _sum(values: pa.Array) -> float:
    import pyarrow.compute as pc

    return float(pc.sum(values).as_py() or 0.0)
