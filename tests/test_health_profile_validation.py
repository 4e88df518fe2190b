"""A stored data profile is checked field by field before the check computes with it: a forged
profile full of NaN, wrong types or absurd sizes is refused in one line, never read as "healthy"."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mlv.datahealth.check import check
from mlv.datahealth.errors import DataHealthError
from mlv.datahealth.model import FORMAT_VERSION, Profile
from mlv.datahealth.profiler import profile_table
from mlv.datahealth.store import MAX_PROFILE_BYTES, parse_profile


def _tables() -> tuple[Profile, Profile]:
    rng = np.random.default_rng(25)
    n = 5000
    reference = {"a": rng.normal(0, 1, n), "b": rng.lognormal(0, 1, n), "c": rng.uniform(0, 1, n),
                 "d": rng.choice(["x", "y", "z"], n)}
    current = {"a": rng.normal(3, 1, n), "b": rng.lognormal(2, 1, n), "c": rng.uniform(2, 3, n),
               "d": rng.choice(["x", "y", "z"], n, p=[0.8, 0.1, 0.1])}
    return profile_table(pa.table(reference)), profile_table(pa.table(current))


def _nan_everywhere(doc: Any) -> Any:
    """Every fractional number of the profile replaced by NaN (JSON's `NaN`, which Python reads)."""
    if isinstance(doc, dict):
        return {k: _nan_everywhere(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_nan_everywhere(v) for v in doc]
    return math.nan if isinstance(doc, float) else doc


def test_a_genuine_profile_is_valid_and_four_of_four_columns_drift() -> None:
    reference, current = _tables()
    stored = parse_profile(reference.dumps().encode(), "ref.json")
    assert stored == Profile.from_json(json.loads(reference.dumps()))
    result = check(current, stored)
    assert len(result.drifted_columns) == 4 and not result.ok


def test_a_forged_profile_full_of_nan_is_refused_in_one_line() -> None:
    reference, _ = _tables()
    forged = json.dumps(_nan_everywhere(reference.to_json())).encode()
    assert b"NaN" in forged
    with pytest.raises(DataHealthError) as caught:
        parse_profile(forged, "ref.json")
    line = caught.value.one_line()
    assert line.startswith("ref.json: invalid data profile: ") and "finite number" in line and "\n" not in line


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


FORGERIES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "rows as text": (_set(["rows"], "5000"), "rows must be a whole number"),
    "rows as a boolean": (_set(["rows"], True), "rows must be a whole number"),
    "columns as a mapping": (_set(["columns"], {}), "columns must be a list"),
    "a column as text": (_set(["columns", 0], "a"), "columns[0] must be a mapping"),
    "an unknown dtype": (_set(["columns", 0, "dtype"], "float"), "dtype must be one of"),
    "a name as a number": (_set(["columns", 0, "name"], 7), "name must be text"),
    "a count that is not the rows": (_set(["columns", 0, "count"], 4999), "is not the profile's 5000 rows"),
    "more missing than rows": (_set(["columns", 0, "missing"], 6000), "more missing values than rows"),
    "a null mean": (_set(["columns", 0, "numeric", "mean"], None), "mean must be a finite number"),
    "an infinite std": (_set(["columns", 0, "numeric", "std"], math.inf), "std must be a finite number"),
    "a negative std": (_set(["columns", 0, "numeric", "std"], -1.0), "std >= 0"),
    "a mean above the maximum": (_set(["columns", 0, "numeric", "mean"], 1e9), "minimum <= mean <= maximum"),
    "quantiles as text": (_set(["columns", 0, "numeric", "quantiles"], "0,1"), "quantiles must be a list of 101"),
    "too few quantiles": (_set(["columns", 0, "numeric", "quantiles"], [0.0, 1.0]), "a list of 101"),
    "decreasing quantiles": (_set(["columns", 0, "numeric", "quantiles"], [float(-i) for i in range(101)]),
                             "must not decrease"),
    "a rank error of 2": (_set(["columns", 0, "numeric", "rank_error"], 2), "between 0 and 1"),
    "no numeric summary": (_set(["columns", 0, "numeric"], None), "needs its numeric summary"),
    "an unknown key": (_set(["columns", 0, "numeric", "evil"], 1), "unknown keys: evil"),
    "category counts as text": (_set(["columns", 3, "categories", "top"], [["x", "5000"]]), "whole number"),
    "categories that do not add up": (_set(["columns", 3, "categories", "other"], 10**9), "do not add up"),
    "a category listed twice": (_set(["columns", 3, "categories", "top"], [["x", 2500], ["x", 2500]]), "twice"),
    "complete as text": (_set(["columns", 3, "categories", "complete"], "yes"), "complete must be true or false"),
    "a format version as text": (_set(["format_version"], str(FORMAT_VERSION)), "format_version ? is not"),
    "the previous format": (_set(["format_version"], 1), "format_version 1 is not the one this mlv reads"),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_wrong_types_and_ranges_are_refused_in_one_line(name: str) -> None:
    reference, _ = _tables()
    doc = copy.deepcopy(reference.to_json())
    edit, expected = FORGERIES[name]
    edit(doc)
    with pytest.raises(DataHealthError) as caught:
        parse_profile(json.dumps(doc).encode(), "ref.json")
    assert expected in caught.value.one_line() and "\n" not in caught.value.one_line()


def test_oversized_profiles_and_lists_are_refused_before_use() -> None:
    with pytest.raises(DataHealthError, match="larger than 16 MB"):
        parse_profile(b" " * (MAX_PROFILE_BYTES + 1), "big.json")
    reference, _ = _tables()
    doc = reference.to_json()
    doc["columns"][3]["categories"]["top"] = [[f"v{i}", 0] for i in range(20_000)] + [["x", 5000]]
    with pytest.raises(DataHealthError, match="at most 10,000"):
        Profile.from_json(doc)
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(DataHealthError):
        parse_profile(deep.encode(), "deep.json")
