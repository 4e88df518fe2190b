"""One accumulator per column: fed Arrow arrays batch by batch, it returns a ColumnProfile.

Memory per column is bounded by the sketches in mlv.datahealth.sketch, whatever the number of rows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlv.datahealth.model import CategorySummary, ColumnProfile, NumericSummary, TextSummary
from mlv.datahealth.sketch import (
    DistinctCounter,
    FrequentItems,
    QuantileSketch,
    hash_strings,
    mix64,
    sorted_counts,
    sorted_unique,
)

if TYPE_CHECKING:
    import pyarrow as pa

RAW_VALUES_MAX = 1000  # numeric columns this small keep every value: exact K-S from the profile
# Categories kept with their counts: every one of them enters the drift test, so rows moving among
# rare categories count; beyond, the rest share one "(other)" bucket (a bounded tail, ~20 kB).
TOP_K = 1000
TOKEN_BUCKETS = 16_384  # text columns: words hashed into this many buckets
# A string column is free text when, in its first batch, most values hold a space and the values
# average this many words or more.
TEXT_MIN_WORDS = 3.0
_WORD_SPLIT = r"[^\p{L}\p{N}]+"  # RE2: anything but letters and digits separates words
SMALL_COUNTS_MAX = 20  # numeric columns keep exact value counts while they have this few values
_SMALL_COUNTS_PROBE = 256  # more distinct values than that among these first ones: stop at once


class Accumulator:
    dtype = ""

    def __init__(self, name: str, physical: str) -> None:
        self.name = name
        self.physical = physical
        self.count = 0
        self.missing = 0
        self.distinct = DistinctCounter()

    def add(self, array: pa.Array) -> None:
        self.count += len(array)
        self.missing += array.null_count
        self._add(array)

    def _add(self, array: pa.Array) -> None:
        raise NotImplementedError

    def merge(self, other: Accumulator) -> None:
        """Add what OTHER saw (another partition of the same column), as if this one had seen it."""
        if type(other) is not type(self):
            raise TypeError(f"cannot merge a {other.dtype} column into a {self.dtype} one")
        self.count += other.count
        self.missing += other.missing
        self.distinct.merge(other.distinct)
        self._merge(other)

    def _merge(self, other: Any) -> None:
        raise NotImplementedError

    def result(self) -> ColumnProfile:
        return ColumnProfile(name=self.name, dtype=self.dtype, physical=self.physical, count=self.count,
                             missing=self.missing, distinct=self.distinct.estimate(),
                             distinct_exact=self.distinct.exact, distinct_error=self.distinct.relative_error,
                             **self._details())

    def _details(self) -> dict[str, Any]:
        return {}


class NumericAccumulator(Accumulator):
    dtype = "numeric"

    def __init__(self, name: str, physical: str) -> None:
        super().__init__(name, physical)
        self.n = 0
        self.minimum, self.maximum = math.inf, -math.inf
        self.mean = 0.0
        self.m2 = 0.0  # sum of squared deviations from the mean (Chan et al.'s parallel update)
        self.sketch = QuantileSketch()
        self.small_counts: dict[float, int] | None = {}

    def _add(self, array: pa.Array) -> None:
        import numpy as np
        import pyarrow as pa

        x = array.cast(pa.float64()).to_numpy(zero_copy_only=False)  # nulls become NaN
        finite = np.isfinite(x)
        valid = int(finite.sum())
        self.missing += len(x) - valid - array.null_count  # NaN and +-inf
        values = x + 0.0 if valid == len(x) else x[finite] + 0.0  # a copy; -0.0 becomes 0.0, so both hash alike
        if not len(values):
            return
        self._moments(values)
        self.sketch.add(values)
        self.distinct.add(mix64(values.view(np.uint64)))
        if self.small_counts is not None:
            self._count_small(values)

    def _moments(self, values: Any) -> None:
        n_b, mean_b = len(values), float(values.mean())
        m2_b = float(((values - mean_b) ** 2).sum())
        total = self.n + n_b
        delta = mean_b - self.mean
        self.mean += delta * n_b / total
        self.m2 += m2_b + delta * delta * self.n * n_b / total
        self.n = total
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))

    def _merge(self, other: NumericAccumulator) -> None:
        if not other.n:
            return
        total = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / total
        self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.n = total
        self.minimum, self.maximum = min(self.minimum, other.minimum), max(self.maximum, other.maximum)
        self.sketch.merge(other.sketch)
        if self.small_counts is None or other.small_counts is None:
            self.small_counts = None
            return
        merged = dict(self.small_counts)
        for value, count in other.small_counts.items():
            merged[value] = merged.get(value, 0) + count
        self.small_counts = merged if len(merged) <= SMALL_COUNTS_MAX else None

    def _count_small(self, values: Any) -> None:
        if len(sorted_unique(values[:_SMALL_COUNTS_PROBE])) > SMALL_COUNTS_MAX:
            self.small_counts = None  # a continuous column, seen from a few values: skip the sort
            return
        unique, counts = sorted_counts(values)
        merged = dict(self.small_counts or {})
        for value, count in zip(unique.tolist(), counts.tolist(), strict=True):
            merged[value] = merged.get(value, 0) + count
            if len(merged) > SMALL_COUNTS_MAX:  # a continuous column: stop counting for good
                self.small_counts = None
                return
        self.small_counts = merged

    def _details(self) -> dict[str, Any]:
        if not self.n:
            return {}
        quantiles, bin_means = self.sketch.summary(self.mean)
        quantiles[0], quantiles[-1] = self.minimum, self.maximum
        raw = self.sketch.weighted()[0].tolist() if self.n <= RAW_VALUES_MAX else None  # exact: n <= capacity
        numeric = NumericSummary(minimum=self.minimum, maximum=self.maximum, mean=self.mean,
                                 std=math.sqrt(self.m2 / self.n), quantiles=quantiles, bin_means=bin_means,
                                 quantiles_exact=self.sketch.exact, rank_error=self.sketch.rank_error,
                                 values=raw, sketch=f"kll_doubles k={self.sketch.k}")
        categories = None
        if self.small_counts is not None:
            top = sorted(((_number_label(v), c) for v, c in self.small_counts.items()), key=lambda p: -p[1])
            categories = CategorySummary(top=top, other=0, complete=True)
        return {"numeric": numeric, "categories": categories}


class CategoricalAccumulator(Accumulator):
    dtype = "categorical"

    def __init__(self, name: str, physical: str) -> None:
        import numpy as np

        super().__init__(name, physical)
        self.items = FrequentItems()
        self.is_text: bool | None = None  # decided on the first batch with values
        self.tokens = np.zeros(TOKEN_BUCKETS, dtype=np.int64)

    def _add(self, array: pa.Array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        counted = pc.value_counts(array)
        values, counts = counted.field("values"), counted.field("counts").to_numpy()
        empty = pc.fill_null(pc.equal(values, ""), False).to_numpy(zero_copy_only=False)
        self.missing += int(counts[empty].sum())  # "" is missing; null was counted already
        kept = ~empty & values.is_valid().to_numpy(zero_copy_only=False)
        if kept.any():
            kept_values = values.filter(pa.array(kept))
            self.items.add(kept_values, counts[kept])
            self.distinct.add(hash_strings(kept_values))
            if self.is_text is None:
                self.is_text = _looks_like_text(kept_values, counts[kept])
            if self.is_text:
                self._count_tokens(kept_values, counts[kept])

    def _merge(self, other: CategoricalAccumulator) -> None:
        self.items.merge(other.items)
        if self.is_text is None or other.is_text is None:
            self.is_text = other.is_text if self.is_text is None else self.is_text
        elif self.is_text != other.is_text:
            self.is_text = False  # partitions judged apart: the words of some were never counted
        self.tokens += other.tokens

    def _count_tokens(self, values: pa.Array, counts: Any) -> None:
        import numpy as np
        import pyarrow.compute as pc

        words = pc.split_pattern_regex(pc.utf8_lower(values), _WORD_SPLIT)
        flat = pc.list_flatten(words)
        weights = counts[pc.list_parent_indices(words).to_numpy()]
        real = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
        buckets = hash_strings(flat.filter(real)) % np.uint64(TOKEN_BUCKETS)
        self.tokens += np.bincount(buckets.astype(np.int64), weights=weights[real],
                                   minlength=TOKEN_BUCKETS).astype(np.int64)

    def _details(self) -> dict[str, Any]:
        top = self.items.top(TOP_K)
        complete = self.items.error == 0 and len(self.items.counts) <= TOP_K
        text = None
        if self.is_text:
            import numpy as np

            used = np.flatnonzero(self.tokens)
            text = TextSummary(token_buckets=TOKEN_BUCKETS, tokens=int(self.tokens.sum()),
                               buckets=list(zip(used.tolist(), self.tokens[used].tolist(), strict=True)))
        return {"categories": CategorySummary(top=top, other=self.count - self.missing - sum(c for _, c in top),
                                              complete=complete, count_error=self.items.error), "text": text}


class BooleanAccumulator(Accumulator):
    dtype = "boolean"

    def __init__(self, name: str, physical: str) -> None:
        super().__init__(name, physical)
        self.true = 0

    def _add(self, array: pa.Array) -> None:
        import pyarrow.compute as pc

        self.true += int(pc.sum(array).as_py() or 0)

    def _merge(self, other: BooleanAccumulator) -> None:
        self.true += other.true

    def result(self) -> ColumnProfile:
        false = self.count - self.missing - self.true
        top = sorted([("true", self.true), ("false", false)], key=lambda p: -p[1])
        top = [(label, count) for label, count in top if count]
        return ColumnProfile(name=self.name, dtype=self.dtype, physical=self.physical, count=self.count,
                             missing=self.missing, distinct=len(top), distinct_exact=True,
                             categories=CategorySummary(top=top, other=0, complete=True))


class DatetimeAccumulator(Accumulator):
    """The window (first and last) and, for drift, the distribution of the instants as seconds
    since 1970 (a numeric summary)."""

    dtype = "datetime"

    def __init__(self, name: str, physical: str) -> None:
        super().__init__(name, physical)
        self.low: Any = None
        self.high: Any = None
        self.seconds = NumericAccumulator(name, "float64")

    def _add(self, array: pa.Array) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        valid = array.drop_null()
        if not len(valid):
            return
        low, high = pc.min(valid).as_py(), pc.max(valid).as_py()
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)
        storage = pa.int64() if not pa.types.is_date32(valid.type) else pa.int32()
        ticks = valid.view(storage).to_numpy(zero_copy_only=False).astype(np.int64)
        self.distinct.add(mix64(ticks.view(np.uint64)))
        self.seconds.add(pa.array(ticks.astype(np.float64) / _ticks_per_second(valid.type)))

    def _merge(self, other: DatetimeAccumulator) -> None:
        for value in (other.low, other.high):
            if value is not None:
                self.low = value if self.low is None else min(self.low, value)
                self.high = value if self.high is None else max(self.high, value)
        self.seconds.merge(other.seconds)

    def _details(self) -> dict[str, Any]:
        numeric = self.seconds._details().get("numeric")
        return {"minimum": _iso(self.low), "maximum": _iso(self.high), "numeric": numeric}


def _ticks_per_second(arrow_type: pa.DataType) -> float:
    import pyarrow as pa

    if pa.types.is_date32(arrow_type):
        return 1 / 86_400
    if pa.types.is_date64(arrow_type):
        return 1_000.0
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[arrow_type.unit]


def accumulator_for(name: str, arrow_type: pa.DataType) -> Accumulator | None:
    """The accumulator for a column of ARROW_TYPE, or None for a type that is not profiled."""
    import pyarrow as pa

    physical = str(arrow_type)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return NumericAccumulator(name, physical)
    if pa.types.is_boolean(arrow_type):
        return BooleanAccumulator(name, physical)
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date32(arrow_type) or pa.types.is_date64(arrow_type):
        return DatetimeAccumulator(name, physical)
    if (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type)
            or (pa.types.is_dictionary(arrow_type) and pa.types.is_string(arrow_type.value_type))):
        return CategoricalAccumulator(name, physical)
    return None


def _looks_like_text(values: pa.Array, counts: Any) -> bool:
    """Most values hold a space, and they average TEXT_MIN_WORDS words or more."""
    import pyarrow.compute as pc

    spaced = pc.match_substring_regex(values, r"\s").to_numpy(zero_copy_only=False)
    words = pc.list_value_length(pc.utf8_split_whitespace(values)).to_numpy(zero_copy_only=False)
    total = counts.sum()
    return bool(total and (counts * spaced).sum() * 2 > total and (counts * words).sum() >= TEXT_MIN_WORDS * total)


def _number_label(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
