"""Check a stored data profile before anything computes with it.

A profile is read from a commit, which anyone with push access (or a pull request) can write. A
profile whose numbers are NaN, null or of the wrong type would otherwise flow into the distances
(NaN >= threshold is false: "no drift") or crash the check. Every field is checked here for its
type, its size and its range, so `Profile.from_json` either returns a profile the check can trust
or raises one DataHealthError line. No numpy: loading a profile needs no `data` extra.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from mlv.datahealth.errors import DataHealthError

MAX_COLUMNS = 100_000
MAX_CATEGORIES = 10_000  # far above what the profiler keeps (its top list is 20 values)
MAX_RAW_VALUES = 1_000  # numeric columns keep their values up to this many
MAX_TOKEN_BUCKETS = 65_536
MAX_TEXT = 4_096  # column names, types, category values, ISO dates
QUANTILES = 101
BIN_MEANS = 100
_DTYPES = ("numeric", "categorical", "boolean", "datetime")
_COLUMN_KEYS = {"name", "dtype", "physical", "count", "missing", "distinct", "distinct_exact", "distinct_error",
                "numeric", "categories", "minimum", "maximum", "text"}
_NUMERIC_KEYS = {"minimum", "maximum", "mean", "std", "quantiles", "bin_means", "quantiles_exact", "rank_error",
                 "values", "sketch"}
_CATEGORY_KEYS = {"top", "other", "complete", "count_error"}


class _InvalidError(Exception):
    """One reason a profile is refused; turned into a DataHealthError with the field's path."""


def validate_profile(doc: Any, format_version: int) -> None:
    """Raise DataHealthError unless DOC is a profile of FORMAT_VERSION that the check can use."""
    if not isinstance(doc, dict) or "format_version" not in doc:
        raise DataHealthError("not an mlv data profile (no format_version)")
    version = doc["format_version"]
    if version != format_version or isinstance(version, bool):
        shown = version if isinstance(version, int) else "?"
        raise DataHealthError(f"data profile format_version {shown} is not the one this mlv reads "
                              f"({format_version})", hint="Profile the data again: `mlv data profile PATH --save`.")
    try:
        _profile(doc)
    except _InvalidError as exc:
        raise DataHealthError(f"invalid data profile: {exc}",
                              hint="It was not written by mlv, or was edited; profile the data again.") from None


def _profile(doc: dict[str, Any]) -> None:
    _keys(doc, {"format_version", "rows", "columns", "source", "skipped"}, "profile")
    rows = _count(doc.get("rows"), "rows")
    columns = doc.get("columns")
    if not isinstance(columns, list) or len(columns) > MAX_COLUMNS:
        raise _InvalidError(f"columns must be a list of at most {MAX_COLUMNS:,}")
    names = set()
    for index, column in enumerate(columns):
        name = _column(column, rows, f"columns[{index}]")
        if name in names:
            raise _InvalidError(f"column {name!r} appears twice")
        names.add(name)
    source = doc.get("source", {})
    if not isinstance(source, dict) or len(source) > 16 or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in source.values()):
        raise _InvalidError("source must be a small mapping of text or whole numbers")
    skipped = doc.get("skipped", [])
    if not isinstance(skipped, list) or len(skipped) > MAX_COLUMNS or not all(
            isinstance(s, dict) and set(s) == {"column", "reason"} and all(_short(v) for v in s.values())
            for s in skipped):
        raise _InvalidError("skipped must be a list of {column, reason}")


def _column(doc: Any, rows: int, where: str) -> str:
    if not isinstance(doc, dict):
        raise _InvalidError(f"{where} must be a mapping")
    _keys(doc, _COLUMN_KEYS, where)
    name = doc.get("name")
    if not _short(name):
        raise _InvalidError(f"{where}.name must be text of at most {MAX_TEXT} characters")
    where = f"column {name!r}"
    if doc.get("dtype") not in _DTYPES:
        raise _InvalidError(f"{where}: dtype must be one of {', '.join(_DTYPES)}")
    if not _short(doc.get("physical")):
        raise _InvalidError(f"{where}: physical must be text")
    count = _count(doc.get("count"), f"{where}: count")
    if count != rows:
        raise _InvalidError(f"{where}: count {count} is not the profile's {rows} rows")
    missing = _count(doc.get("missing"), f"{where}: missing")
    if missing > count:
        raise _InvalidError(f"{where}: more missing values than rows")
    _count(doc.get("distinct"), f"{where}: distinct")
    _bool(doc.get("distinct_exact"), f"{where}: distinct_exact")
    _share(doc.get("distinct_error", 0.0), f"{where}: distinct_error")
    _summaries(doc, count - missing, where)
    return str(name)


def _summaries(doc: dict[str, Any], valid: int, where: str) -> None:
    numeric, categories = doc.get("numeric"), doc.get("categories")
    if numeric is not None:
        _numeric(numeric, valid, f"{where}: numeric")
    elif doc["dtype"] == "numeric" and valid:
        raise _InvalidError(f"{where}: a numeric column with values needs its numeric summary")
    if categories is not None:
        _categories(categories, valid, f"{where}: categories")
    elif doc["dtype"] in {"categorical", "boolean"} and valid:
        raise _InvalidError(f"{where}: a {doc['dtype']} column with values needs its categories")
    if doc.get("text") is not None:
        _text(doc["text"], f"{where}: text")
    for key in ("minimum", "maximum"):
        if doc.get(key) is not None and not _short(doc[key]):
            raise _InvalidError(f"{where}: {key} must be an ISO 8601 date or null")


def _numeric(doc: Any, valid: int, where: str) -> None:
    if not isinstance(doc, dict):
        raise _InvalidError(f"{where} must be a mapping")
    _keys(doc, _NUMERIC_KEYS, where)
    low, high, mean = (_finite(doc.get(k), f"{where}.{k}") for k in ("minimum", "maximum", "mean"))
    std = _finite(doc.get("std"), f"{where}.std")
    slack = 1e-9 * max(abs(low), abs(high), 1.0)
    if not low <= high or not low - slack <= mean <= high + slack or std < 0:
        raise _InvalidError(f"{where}: needs minimum <= mean <= maximum and std >= 0")
    quantiles = _numbers(doc.get("quantiles"), QUANTILES, f"{where}.quantiles")
    if any(b < a for a, b in itertools.pairwise(quantiles)):
        raise _InvalidError(f"{where}.quantiles must not decrease")
    _numbers(doc.get("bin_means"), BIN_MEANS, f"{where}.bin_means")
    _bool(doc.get("quantiles_exact"), f"{where}.quantiles_exact")
    _share(doc.get("rank_error"), f"{where}.rank_error")
    values = doc.get("values")
    if values is not None:
        kept = _numbers(values, None, f"{where}.values")
        if len(kept) != valid or len(kept) > MAX_RAW_VALUES or any(b < a for a, b in itertools.pairwise(kept)):
            raise _InvalidError(f"{where}.values must be the column's {valid} values, sorted, at most {MAX_RAW_VALUES}")
    if not isinstance(doc.get("sketch", ""), str) or len(doc.get("sketch", "")) > 64:
        raise _InvalidError(f"{where}.sketch must be short text")


def _categories(doc: Any, valid: int, where: str) -> None:
    if not isinstance(doc, dict):
        raise _InvalidError(f"{where} must be a mapping")
    _keys(doc, _CATEGORY_KEYS, where)
    top = doc.get("top")
    if not isinstance(top, list) or len(top) > MAX_CATEGORIES:
        raise _InvalidError(f"{where}.top must be a list of at most {MAX_CATEGORIES:,} [value, count] pairs")
    seen = set()
    for pair in top:
        if not (isinstance(pair, list) and len(pair) == 2 and _short(pair[0])):
            raise _InvalidError(f"{where}.top must hold [value, count] pairs")
        _count(pair[1], f"{where}.top count")
        if pair[0] in seen:
            raise _InvalidError(f"{where}.top lists {pair[0]!r} twice")
        seen.add(pair[0])
    other = _count(doc.get("other"), f"{where}.other")
    _bool(doc.get("complete"), f"{where}.complete")
    _count(doc.get("count_error", 0), f"{where}.count_error")
    if sum(pair[1] for pair in top) + other != valid:
        raise _InvalidError(f"{where}: the counts do not add up to the column's {valid} values")


def _text(doc: Any, where: str) -> None:
    if not isinstance(doc, dict):
        raise _InvalidError(f"{where} must be a mapping")
    _keys(doc, {"token_buckets", "tokens", "buckets"}, where)
    size = _count(doc.get("token_buckets"), f"{where}.token_buckets")
    if not 1 <= size <= MAX_TOKEN_BUCKETS:
        raise _InvalidError(f"{where}.token_buckets must be between 1 and {MAX_TOKEN_BUCKETS}")
    tokens = _count(doc.get("tokens"), f"{where}.tokens")
    buckets = doc.get("buckets")
    if not isinstance(buckets, list) or len(buckets) > size:
        raise _InvalidError(f"{where}.buckets must be a list of at most {size} [bucket, count] pairs")
    last = -1
    for pair in buckets:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise _InvalidError(f"{where}.buckets must hold [bucket, count] pairs")
        bucket = _count(pair[0], f"{where}.buckets bucket")
        _count(pair[1], f"{where}.buckets count")
        if not last < bucket < size:
            raise _InvalidError(f"{where}.buckets must be ordered, each below {size}")
        last = bucket
    if sum(pair[1] for pair in buckets) != tokens:
        raise _InvalidError(f"{where}: the bucket counts do not add up to {tokens} tokens")


def _keys(doc: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k)[:40] for k in doc if k not in allowed)
    if unknown:
        raise _InvalidError(f"{where} has unknown keys: {', '.join(unknown[:5])}")


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise _InvalidError(f"{where} must be a whole number >= 0")
    return value


def _bool(value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise _InvalidError(f"{where} must be true or false")


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _InvalidError(f"{where} must be a finite number")
    return float(value)


def _share(value: Any, where: str) -> None:
    if not 0 <= _finite(value, where) <= 1:
        raise _InvalidError(f"{where} must be between 0 and 1")


def _numbers(value: Any, size: int | None, where: str) -> list[float]:
    if not isinstance(value, list) or (size is not None and len(value) != size):
        raise _InvalidError(f"{where} must be a list of {size if size is not None else 'finite'} numbers")
    return [_finite(v, where) for v in value]


def _short(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT
