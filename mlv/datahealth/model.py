"""The profile of a dataset: small, JSON-serialisable, independent of the data's size.

No numpy here: a stored profile can be loaded and inspected without the `data` extra. The format is
documented in docs/reference/data-profile.md; `FORMAT_VERSION` changes when a key changes meaning.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from mlv.datahealth.errors import DataHealthError
from mlv.finite import nan_to_null

FORMAT_VERSION = 2  # 2: quantiles from a KLL sketch, each sketch's error bound stated
DTYPES = ("numeric", "categorical", "boolean", "datetime")


@dataclass(frozen=True)
class NumericSummary:
    """Moments, 101 quantiles (0%, 1%, ..., 100%) and the 100 means between them.

    `bin_means[i]` is the mean of the values ranked between quantile i and i+1: together they give
    the integral of the quantile function over each percentile, which is what Wasserstein-1 needs.
    `values` holds every value, sorted, when there are at most `RAW_VALUES_MAX` of them.
    """

    minimum: float
    maximum: float
    mean: float
    std: float  # population standard deviation (ddof=0), as Evidently normalises by
    quantiles: list[float]
    bin_means: list[float]
    quantiles_exact: bool
    rank_error: float  # bound on |true rank - estimated rank| / count for any quantile
    values: list[float] | None = None
    sketch: str = ""  # which sketch the quantiles come from, e.g. "kll_doubles k=16384"


@dataclass(frozen=True)
class CategorySummary:
    """The most frequent values with their counts, and the count of all others."""

    top: list[tuple[str, int]]
    other: int
    complete: bool  # every distinct value is in `top` (so an absent value has count 0)
    count_error: int = 0  # counts may be low by at most this (0: exact)


@dataclass(frozen=True)
class TextSummary:
    """The words of a free-text column (lower-cased runs of letters and digits), each hashed into
    one of `token_buckets` buckets: the bucket counts stand for the token distribution, and a
    bucket empty in the reference marks out-of-vocabulary words (a lower bound: a new word that
    shares a bucket with a known one is not seen as new)."""

    token_buckets: int
    tokens: int  # words counted
    buckets: list[tuple[int, int]]  # [bucket, count] for each non-empty bucket, by bucket


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    dtype: str  # one of DTYPES, from the stored type
    physical: str  # the Arrow type the column was read as
    count: int  # rows
    missing: int  # null, NaN, +-inf, and empty strings
    distinct: int  # of the non-missing values
    distinct_exact: bool  # false: a K-minimum-values estimate
    distinct_error: float = 0.0  # relative standard error of `distinct` (0: exact)
    numeric: NumericSummary | None = None
    categories: CategorySummary | None = None  # categorical, boolean, and numeric with few values
    minimum: str | None = None  # datetime columns: ISO 8601
    maximum: str | None = None
    text: TextSummary | None = None  # text columns detected as free text

    @property
    def valid(self) -> int:
        return self.count - self.missing

    @property
    def missing_share(self) -> float:
        return self.missing / self.count if self.count else 0.0


@dataclass(frozen=True)
class Profile:
    rows: int
    columns: list[ColumnProfile]
    source: dict[str, Any] = field(default_factory=dict)  # format and number of files
    skipped: list[dict[str, str]] = field(default_factory=list)  # columns of unsupported types

    def column(self, name: str) -> ColumnProfile | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_json(self) -> dict[str, Any]:
        doc = {"format_version": FORMAT_VERSION, **asdict(self)}
        for column in doc["columns"]:
            if column["categories"] is not None:
                column["categories"]["top"] = [list(pair) for pair in column["categories"]["top"]]
            if column["text"] is not None:
                column["text"]["buckets"] = [list(pair) for pair in column["text"]["buckets"]]
        return nan_to_null(doc)  # type: ignore[no-any-return]

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, doc: Any) -> Profile:
        """The profile in DOC, a parsed JSON document; a DataHealthError (one line) unless every
        field has its type, size and range, and every number the check computes with is finite."""
        from mlv.datahealth.validate import validate_profile

        validate_profile(doc, FORMAT_VERSION)
        try:
            return cls(rows=int(doc["rows"]), columns=[_column(c) for c in doc["columns"]],
                       source=dict(doc.get("source") or {}), skipped=list(doc.get("skipped") or []))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataHealthError(f"malformed data profile: {exc.__class__.__name__}: {exc}") from None


def _column(doc: dict[str, Any]) -> ColumnProfile:
    numeric = doc.get("numeric")
    categories = doc.get("categories")
    text = doc.get("text")
    return ColumnProfile(
        **{k: v for k, v in doc.items() if k not in {"numeric", "categories", "text"}},
        text=TextSummary(token_buckets=int(text["token_buckets"]), tokens=int(text["tokens"]),
                         buckets=[(int(b), int(n)) for b, n in text["buckets"]]) if text else None,
        numeric=NumericSummary(**numeric) if numeric else None,
        categories=CategorySummary(top=[(str(k), int(n)) for k, n in categories["top"]],
                                   other=int(categories["other"]), complete=bool(categories["complete"]),
                                   count_error=int(categories.get("count_error", 0))) if categories else None,
    )
