"""Distances and tests between two column profiles. numpy and scipy are imported lazily.

scipy is a runtime dependency of the `data` extra for the p-value distributions only: the exact
two-sample K-S distribution (scipy's `ks_2samp` computes it by path counting, which is easy to get
subtly wrong) and the chi-squared distribution. Every distance is computed here from the profiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlv.datahealth.model import CategorySummary, NumericSummary, TextSummary

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

PSI_FLOOR = 1e-4  # a bin empty on one side counts as this share, as Evidently does


def ks_exact(reference: Sequence[float], current: Sequence[float]) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and p-value from every value: scipy's own numbers."""
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def ks_from_quantiles(values: Sequence[float], other: NumericSummary, n_other: int) -> tuple[float, float]:
    """K-S between every value of one side and the 101 quantiles of the other (whose CDF is taken
    as linear between quantiles), with the exact one-sided-size p-value of scipy's `kstwo`.
    The statistic is off by at most the other side's rank error plus the largest CDF error of
    linear interpolation inside a percentile (at most 0.01)."""
    import numpy as np
    from scipy.stats import kstwo

    sample = np.asarray(values, dtype=float)
    points = np.union1d(sample, other.quantiles)
    below = np.searchsorted(sample, points, side="left") / len(sample)
    upto = np.searchsorted(sample, points, side="right") / len(sample)
    other_cdf = _cdf(other.quantiles, points)
    statistic = float(max(np.abs(upto - other_cdf).max(), np.abs(below - other_cdf).max()))
    # The p-value is taken at the statistic less its error bound, so the sketch's error never
    # raises a false alarm: a drift is flagged only if even the smallest possible D is unlikely.
    bound = other.rank_error + (0.0 if other.values is not None else 0.01)
    big, small = max(len(sample), n_other), min(len(sample), n_other)
    return statistic, float(kstwo.sf(max(statistic - bound, 0.0), round(big * small / (big + small))))


def _cdf(quantiles: Sequence[float], points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The CDF at POINTS of a distribution known by its 101 quantiles, linear in between."""
    import numpy as np

    q = np.asarray(quantiles, dtype=float)
    levels = np.linspace(0.0, 1.0, len(q))
    unique, last = np.unique(q[::-1], return_index=True)  # a repeated value: its highest level
    return np.interp(points, unique, levels[::-1][last], left=0.0, right=1.0)


def wasserstein(reference: NumericSummary, current: NumericSummary) -> float:
    """Wasserstein-1 distance: the mean over the 100 percentiles of the difference between the two
    bin means, i.e. the integral of |F^-1 - G^-1| with each quantile function averaged over each
    percentile. Exact when the quantile functions do not cross inside a percentile; never above
    the true distance between the profiled samples."""
    return sum(abs(a - b) for a, b in zip(reference.bin_means, current.bin_means, strict=True)) / 100


def psi_numeric(reference: NumericSummary, current: NumericSummary) -> float:
    """Population stability index over ten bins cut at the reference's deciles."""
    import numpy as np

    edges = np.unique(np.asarray(reference.quantiles[10:100:10], dtype=float))
    shares = [np.diff(np.concatenate(([0.0], _cdf(side.quantiles, edges), [1.0]))) for side in (reference, current)]
    return _psi(shares[0], shares[1])


def psi_counts(reference: Sequence[int], current: Sequence[int]) -> float:
    import numpy as np

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    return _psi(ref / ref.sum(), cur / cur.sum())


def _psi(reference: npt.NDArray[np.float64], current: npt.NDArray[np.float64]) -> float:
    import numpy as np

    ref, cur = np.clip(reference, PSI_FLOOR, None), np.clip(current, PSI_FLOOR, None)
    return float(((cur - ref) * np.log(cur / ref)).sum())


def jensen_shannon(reference: Sequence[int], current: Sequence[int]) -> float:
    """Jensen-Shannon distance with the natural logarithm (scipy's and Evidently's default base),
    so it lies in [0, sqrt(ln 2) = 0.833]; base 2 would give [0, 1]."""
    import numpy as np

    p = np.asarray(reference, dtype=float) / sum(reference)
    q = np.asarray(current, dtype=float) / sum(current)
    m = (p + q) / 2
    divergence = (_kl(p, m) + _kl(q, m)) / 2
    return math.sqrt(max(divergence, 0.0))


def _kl(p: npt.NDArray[np.float64], m: npt.NDArray[np.float64]) -> float:
    import numpy as np

    mask = p > 0
    return float((p[mask] * np.log(p[mask] / m[mask])).sum())


def chi_squared(reference: Sequence[int], current: Sequence[int]) -> tuple[float, float, float]:
    """Pearson's chi-squared test of homogeneity on a 2 x k table (no continuity correction; for
    two categories this is the two-proportion Z-test Evidently uses, squared). Returns the
    statistic, the p-value and Cramer's V as the effect size."""
    from scipy.stats import chi2_contingency

    pairs = [(r, c) for r, c in zip(reference, current, strict=True) if r or c]
    total = sum(r + c for r, c in pairs)
    if len(pairs) < 2 or not total:
        return 0.0, 1.0, 0.0
    result = chi2_contingency([[r for r, _ in pairs], [c for _, c in pairs]], correction=False)
    statistic = float(result.statistic)
    return statistic, float(result.pvalue), math.sqrt(statistic / total)


def category_counts(reference: CategorySummary, current: CategorySummary, n_reference: int, n_current: int
                    ) -> tuple[list[str], list[int], list[int]]:
    """Aligned counts for the two sides. A value gets its own bucket when its count is known on
    both sides (listed, or absent from a complete list, so 0); everything else shares "other"."""
    ref, cur = dict(reference.top), dict(current.top)
    labels = [v for v in dict.fromkeys([*ref, *cur])
              if (v in ref or reference.complete) and (v in cur or current.complete)]
    ref_counts = [ref.get(v, 0) for v in labels]
    cur_counts = [cur.get(v, 0) for v in labels]
    ref_other, cur_other = n_reference - sum(ref_counts), n_current - sum(cur_counts)
    if ref_other or cur_other:
        labels.append("(other)")
        ref_counts.append(ref_other)
        cur_counts.append(cur_other)
    return labels, ref_counts, cur_counts


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate), in the input's order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        adjusted[i] = running
    return adjusted


def text_shift(reference: TextSummary, current: TextSummary) -> tuple[float, float]:
    """The share of CURRENT's words in buckets REFERENCE never filled (out of vocabulary; a lower
    bound, as a new word may share a bucket with a known one), and the Jensen-Shannon distance
    between the two hashed-word distributions."""
    if reference.token_buckets != current.token_buckets:
        raise ValueError("text profiles hashed into different numbers of buckets")
    known = dict(reference.buckets)
    now = dict(current.buckets)
    if not reference.tokens or not current.tokens:
        return 0.0, 0.0
    unknown = sum(count for bucket, count in now.items() if bucket not in known)
    oov = unknown / current.tokens
    buckets = sorted(set(known) | set(now))
    return oov, jensen_shannon([known.get(b, 0) for b in buckets], [now.get(b, 0) for b in buckets])


def share_outside(reference: NumericSummary, current: NumericSummary) -> tuple[float, float]:
    """The shares of CURRENT's values below REFERENCE's minimum and above its maximum, read from
    CURRENT's quantiles (linear in between; exact at 0 and 1)."""
    import numpy as np

    below, above = _cdf(current.quantiles, np.asarray([reference.minimum, reference.maximum]))
    return float(below) if current.minimum < reference.minimum else 0.0, \
        float(1.0 - above) if current.maximum > reference.maximum else 0.0
