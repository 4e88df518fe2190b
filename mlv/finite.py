"""Numbers as JSON can hold them. Builtins only: the CLI, the report and stored profiles use it."""

from __future__ import annotations

import math
from typing import Any


def is_finite_number(value: Any) -> bool:
    """VALUE is an int or a float (not a bool, which is an int to Python) other than NaN or infinity."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def nan_to_null(value: Any) -> Any:
    """VALUE with every NaN and infinity (a diverged loss, an empty column's mean) as None, in dicts,
    lists and tuples too: JSON has no way to write them, and `NaN` makes a document unreadable to jq."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [nan_to_null(v) for v in value]
    return value
