"""`check(current, reference, thresholds) -> CheckResult`: schema, health and drift, per column.

Which test decides drift (Evidently's defaults, except that n is the smaller side's count of valid
values: a small current batch against a large reference gets a p-value test too, as an effect
size measured on a few rows is mostly noise):

| column | n <= small_sample | n > small_sample |
| --- | --- | --- |
| numeric | two-sample K-S, p < p_value | Wasserstein-1 / max(reference std, 0.001) >= wasserstein |
| categorical | chi-squared, p < p_value | Jensen-Shannon distance >= jensen_shannon |

Numeric columns with at most `categorical_max_distinct` values are categorical. p-values are
adjusted across columns (Benjamini-Hochberg); large samples are decided on an effect size, so a
million rows drawn from one distribution are not flagged for differences too small to matter.

The verdict: the check fails (exit 1) on dataset drift (at least `drift_share` of the tested
columns drifted), on a failed health rule, or on one drifted column whose distance reaches the
large-drift threshold (`large_wasserstein` for numeric columns, `large_jensen_shannon` for
categorical ones; the distance is computed whatever test decided). "healthy" means nothing drifted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from mlv.datahealth import stats
from mlv.datahealth.model import ColumnProfile, Profile
from mlv.datahealth.thresholds import Thresholds

SCHEMA_VERSION = 1
_NEW_CATEGORIES_SHOWN = 5


@dataclass(frozen=True)
class Issue:
    """A schema or health finding. `severity` "fail" makes the check fail; "warn" is reported."""

    rule: str  # column_removed, column_added, dtype_changed, missing_increase, missing_new,
    #            row_count, new_categories
    severity: str
    column: str | None
    message: str


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    kind: str  # numeric, categorical, text or datetime: how the column was tested
    method: str  # ks, ks_quantiles, wasserstein, chi_squared, jensen_shannon, psi, text_tokens
    score: float  # what the threshold applies to (a p-value test: its statistic)
    threshold: float
    effect_size: float
    effect_size_name: str
    drifted: bool
    n_reference: int
    n_current: int
    p_value: float | None = None
    p_adjusted: float | None = None
    # Wasserstein-1 / std (numeric) or Jensen-Shannon distance (categorical), whatever the test:
    # the scale the large-drift rule applies to, so a small sample's p-value test is judged alike.
    distance: float = 0.0
    large: bool = False  # drifted, and `distance` reaches the large-drift threshold


@dataclass(frozen=True)
class CheckResult:
    rows_reference: int
    rows_current: int
    columns: list[ColumnDrift]
    issues: list[Issue]
    skipped: list[dict[str, str]]
    thresholds: Thresholds = field(default_factory=Thresholds)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.drift_share >= self.thresholds.drift_share

    @property
    def large_drift_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.large]

    @property
    def health_failed(self) -> bool:
        return any(i.severity == "fail" for i in self.issues)

    @property
    def ok(self) -> bool:
        return not self.dataset_drift and not self.large_drift_columns and not self.health_failed

    @property
    def healthy(self) -> bool:
        """Nothing drifted and nothing failed: the only state the word "healthy" may describe."""
        return self.ok and not self.drifted_columns

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "ok": self.ok,
            "dataset_drift": self.dataset_drift,
            "health_failed": self.health_failed,
            "drift_share": self.drift_share,
            "drifted_columns": self.drifted_columns,
            "large_drift_columns": self.large_drift_columns,
            "healthy": self.healthy,
            "rows": {"reference": self.rows_reference, "current": self.rows_current},
            "issues": [asdict(i) for i in self.issues],
            "columns": [asdict(c) for c in self.columns],
            "skipped": self.skipped,
            "thresholds": self.thresholds.to_json(),
        }


def check(current: Profile, reference: Profile, thresholds: Thresholds | None = None) -> CheckResult:
    """Compare CURRENT to REFERENCE. Pure: profiles in, findings out."""
    limits = thresholds or Thresholds()
    issues = [*_schema_issues(current, reference), *_row_issues(current, reference, limits)]
    drifts: list[ColumnDrift] = []
    skipped: list[dict[str, str]] = []
    for ref in reference.columns:
        cur = current.column(ref.name)
        if cur is None or cur.dtype != ref.dtype:
            continue  # reported as a schema issue
        issues += _health_issues(cur, ref, limits)
        drift, reason = _drift(cur, ref, limits)
        if drift is not None:
            drifts.append(drift)
        else:
            skipped.append({"column": ref.name, "reason": reason})
    return CheckResult(rows_reference=reference.rows, rows_current=current.rows,
                       columns=_adjusted(drifts, limits), issues=issues, skipped=skipped, thresholds=limits)


def _schema_issues(current: Profile, reference: Profile) -> list[Issue]:
    ref = {c.name: c for c in reference.columns}
    cur = {c.name: c for c in current.columns}
    issues = [Issue("column_removed", "fail", name, f"column {name} is missing") for name in ref if name not in cur]
    issues += [Issue("column_added", "warn", name, f"column {name} is new") for name in cur if name not in ref]
    issues += [Issue("dtype_changed", "fail", name, f"column {name} changed from {ref[name].dtype} to "
                     f"{cur[name].dtype}") for name in ref if name in cur and cur[name].dtype != ref[name].dtype]
    return issues


def _row_issues(current: Profile, reference: Profile, limits: Thresholds) -> list[Issue]:
    if not reference.rows:
        return []
    change = (current.rows - reference.rows) / reference.rows
    if abs(change) <= limits.row_count_change:
        return []
    return [Issue("row_count", "warn", None, f"row count changed by {change:+.1%} "
                  f"({reference.rows:,} -> {current.rows:,})")]


def _health_issues(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> list[Issue]:
    issues = []
    grown = cur.missing_share - ref.missing_share
    if ref.missing == 0 and cur.missing:
        issues.append(Issue("missing_new", "fail", cur.name, f"column {cur.name} has {cur.missing:,} missing "
                            f"values ({cur.missing_share:.1%}); the reference had none"))
    elif grown > limits.missing_increase:
        issues.append(Issue("missing_increase", "fail", cur.name, f"column {cur.name}: missing share "
                            f"{ref.missing_share:.1%} -> {cur.missing_share:.1%}"))
    issues += _window_issues(cur, ref, limits)
    new = _new_categories(cur, ref)
    if new:
        more = f" and {len(new) - _NEW_CATEGORIES_SHOWN} more" if len(new) > _NEW_CATEGORIES_SHOWN else ""
        shown = ", ".join(repr(v) for v in new[:_NEW_CATEGORIES_SHOWN])
        issues.append(Issue("new_categories", "warn", cur.name, f"column {cur.name} has new values: {shown}{more}"))
    return issues


def _window_issues(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> list[Issue]:
    """Dates outside the reference's window: a warning with the shares before and after it, when
    they add up to `out_of_window` (a fresh sample always reaches a little past the old extremes)."""
    if ref.dtype != "datetime" or ref.numeric is None or cur.numeric is None:
        return []
    before, after = stats.share_outside(ref.numeric, cur.numeric)
    if before + after < max(limits.out_of_window, 1e-12):
        return []
    sides = ((before, f"before {ref.minimum}"), (after, f"after {ref.maximum}"))
    parts = [f"{share:.1%} {side}" for share, side in sides if share > 0]
    return [Issue("out_of_window", "warn", cur.name, f"column {cur.name} has dates outside the reference's window: "
                  f"{', '.join(parts)}")]


def _new_categories(cur: ColumnProfile, ref: ColumnProfile) -> list[str]:
    """Values of CUR absent from REF; only knowable when REF listed all of its values."""
    if cur.dtype != "categorical" or not ref.categories or not cur.categories or not ref.categories.complete:
        return []
    known = {v for v, _ in ref.categories.top}
    return [v for v, _ in cur.categories.top if v not in known]


def _is_categorical(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> bool:
    if ref.dtype in {"categorical", "boolean"}:
        return True
    few = ref.distinct_exact and ref.distinct <= limits.categorical_max_distinct
    return few and ref.categories is not None and cur.categories is not None


def _drift(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> tuple[ColumnDrift | None, str]:
    if not cur.valid or not ref.valid:
        return None, "no valid values on one side"
    if ref.dtype == "datetime" or ref.text is not None or (ref.dtype == "categorical" and _is_identifier(ref, limits)):
        return _kind_drift(cur, ref, limits)
    if _is_categorical(cur, ref, limits):
        return _categorical_drift(cur, ref, limits), ""
    return _numeric_drift(cur, ref, limits), ""


def _kind_drift(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> tuple[ColumnDrift | None, str]:
    """Dates (their distribution in time), free text (its words) and identifiers (not tested)."""
    if ref.dtype == "datetime":
        if ref.numeric is None or cur.numeric is None:
            return None, "datetime columns profiled without a distribution"
        return _numeric_drift(cur, ref, limits, kind="datetime"), ""
    if ref.text is not None and cur.text is not None:
        return _text_drift(cur, ref, limits), ""
    return None, "identifier: a distinct value in almost every row"


def _is_identifier(ref: ColumnProfile, limits: Thresholds) -> bool:
    return ref.valid >= 20 and ref.distinct >= limits.identifier_share * ref.valid


def _text_drift(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> ColumnDrift:
    """Free text: the share of current words out of the reference's vocabulary decides; the
    Jensen-Shannon distance between the hashed-word distributions is the effect size."""
    if ref.text is None or cur.text is None:
        raise ValueError(f"column {ref.name}: text profile without words")
    oov, distance = stats.text_shift(ref.text, cur.text)
    return _drifted(cur, ref, "text", "text_tokens", oov, limits.text_oov, distance, "jensen_shannon",
                    distance=(oov, limits.large_text_oov))


def _numeric_drift(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds, kind: str = "numeric"
                   ) -> ColumnDrift:
    a, b = ref.numeric, cur.numeric
    if a is None or b is None:  # both have valid values, so both have a summary
        raise ValueError(f"column {ref.name}: numeric profile without a summary")
    distance = stats.wasserstein(a, b) / max(a.std, 0.001)
    large = limits.large_wasserstein
    if limits.method == "psi":
        psi = stats.psi_numeric(a, b)
        return _drifted(cur, ref, kind, "psi", psi, limits.psi, psi, "psi", distance=(distance, large))
    if min(ref.valid, cur.valid) <= limits.small_sample and (a.values is not None or b.values is not None):
        if a.values is not None and b.values is not None:
            method, (d, p) = "ks", stats.ks_exact(a.values, b.values)
        elif a.values is not None:
            method, (d, p) = "ks_quantiles", stats.ks_from_quantiles(a.values, b, cur.valid)
        else:  # a small current batch against a large reference
            method, (d, p) = "ks_quantiles", stats.ks_from_quantiles(b.values or [], a, ref.valid)
        return _drifted(cur, ref, kind, method, d, limits.p_value, d, "ks_statistic", p_value=p,
                        distance=(distance, large))
    return _drifted(cur, ref, kind, "wasserstein", distance, limits.wasserstein, distance,
                    "wasserstein_over_std", distance=(distance, large))


def _categorical_drift(cur: ColumnProfile, ref: ColumnProfile, limits: Thresholds) -> ColumnDrift:
    if ref.categories is None or cur.categories is None:  # _is_categorical checked both
        raise ValueError(f"column {ref.name}: categorical profile without counts")
    _, ref_counts, cur_counts = stats.category_counts(ref.categories, cur.categories, ref.valid, cur.valid)
    distance = stats.jensen_shannon(ref_counts, cur_counts)
    large = (distance, limits.large_jensen_shannon)
    if limits.method == "psi":
        psi = stats.psi_counts(ref_counts, cur_counts)
        return _drifted(cur, ref, "categorical", "psi", psi, limits.psi, psi, "psi", distance=large)
    if min(ref.valid, cur.valid) <= limits.small_sample:
        chi2, p, cramers_v = stats.chi_squared(ref_counts, cur_counts)
        return _drifted(cur, ref, "categorical", "chi_squared", chi2, limits.p_value, cramers_v, "cramers_v",
                        p_value=p, distance=large)
    return _drifted(cur, ref, "categorical", "jensen_shannon", distance, limits.jensen_shannon, distance,
                    "jensen_shannon", distance=large)


def _drifted(cur: ColumnProfile, ref: ColumnProfile, kind: str, method: str, score: float, threshold: float,
             effect: float, effect_name: str, p_value: float | None = None,
             distance: tuple[float, float] = (0.0, 1.0)) -> ColumnDrift:
    """The finding for one column: a p-value below THRESHOLD, or else a SCORE at or above it.
    DISTANCE is (distance, large-drift threshold). A score that is not a number counts as drift:
    a check that cannot tell must not say "no drift"."""
    drifted = not p_value >= threshold if p_value is not None else not score < threshold  # NaN: drifted
    value, large = distance
    return ColumnDrift(column=ref.name, kind=kind, method=method, score=score, threshold=threshold,
                       effect_size=effect, effect_size_name=effect_name, drifted=drifted,
                       n_reference=ref.valid, n_current=cur.valid, p_value=p_value, distance=value,
                       large=drifted and not value < large)


def _adjusted(drifts: list[ColumnDrift], limits: Thresholds) -> list[ColumnDrift]:
    """Benjamini-Hochberg across the columns that p-values decide: with 20 columns and no drift,
    raw p < 0.05 would flag one column in three runs out of five."""
    tested = [i for i, d in enumerate(drifts) if d.p_value is not None]
    raw = [drifts[i].p_value or 0.0 for i in tested]
    adjusted = stats.benjamini_hochberg(raw) if limits.fdr else raw
    result = list(drifts)
    for i, p in zip(tested, adjusted, strict=True):
        drifted = not p >= limits.p_value
        large = limits.large_jensen_shannon if drifts[i].kind == "categorical" else limits.large_wasserstein
        result[i] = replace(drifts[i], p_adjusted=p, drifted=drifted, large=drifted and not drifts[i].distance < large)
    return result
