"""System health of one served version: throughput, latency quantiles, error rate, log drops.

Latency goes into a log-spaced histogram (buckets 1 % wide from 1 microsecond to about 3 hours):
memory is fixed whatever the number of rows, and each quantile is within 1 % of the exact one.
Requests, errors and drops come from the segments' metadata: errors are never logged as rows, and
dropped rows by definition are not in the log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from mlv.monitor.segments import Segment

_GROWTH = 1.01
_LOWEST_S = 1e-6
_BUCKETS = 1600  # 1e-6 * 1.01**1600 is about 8,700 s
TIMELINE_STEP_S = 60  # rows and latency per minute, for the report's charts
_DENSE_MINUTES = 7 * 24 * 60


@dataclass
class SystemStats:
    rows: int = 0  # logged rows in the window
    requests: int = 0  # requests served (logged or not), from the segments' metadata
    errors: dict[str, int] = field(default_factory=dict)  # HTTP status -> count
    dropped: int = 0
    sample_rate: float = 1.0  # the lowest in force: rows stand for rows / rate predictions
    first_ts: float | None = None  # seconds since the epoch
    last_ts: float | None = None
    histogram: np.ndarray | None = None
    # minute (epoch seconds // 60) -> [rows, latency sum]
    timeline: dict[int, list[float]] = field(default_factory=dict)

    def add_segment(self, segment: Segment) -> None:
        """The segment's metadata: counted once per segment, whatever the window cuts from its rows."""
        self.requests += segment.requests
        self.dropped += segment.dropped
        self.sample_rate = min(self.sample_rate, segment.sample_rate)
        for status, count in segment.errors.items():
            self.errors[status] = self.errors.get(status, 0) + count

    def add_rows(self, ts: pa.ChunkedArray, latency: pa.ChunkedArray) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(ts):
            return
        self.rows += len(ts)
        seconds = pc.cast(ts, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False) / 1e6
        lat = latency.to_numpy(zero_copy_only=False).astype("float64", copy=False)
        valid = np.isfinite(lat) & (lat >= 0)
        lat, seconds = lat[valid], seconds[valid]
        if not len(lat):
            return
        first, last = float(seconds.min()), float(seconds.max())
        self.first_ts = first if self.first_ts is None else min(self.first_ts, first)
        self.last_ts = last if self.last_ts is None else max(self.last_ts, last)
        index = np.clip(np.log(np.maximum(lat, _LOWEST_S) / _LOWEST_S) / math.log(_GROWTH), 0, _BUCKETS - 1)
        counts = np.bincount(index.astype("int64"), minlength=_BUCKETS)
        self.histogram = counts if self.histogram is None else self.histogram + counts
        self._add_timeline(seconds, lat)

    def _add_timeline(self, seconds: np.ndarray, lat: np.ndarray) -> None:
        import numpy as np

        minutes = (seconds // TIMELINE_STEP_S).astype("int64")
        first = int(minutes.min())
        if int(minutes.max()) - first <= _DENSE_MINUTES:  # a segment spans minutes: small dense bins
            keys, index = None, minutes - first
        else:  # a segment whose rows lie far apart: only the minutes that occur
            keys, index = np.unique(minutes, return_inverse=True)
        rows = np.bincount(index)
        sums = np.bincount(index, weights=lat)
        for slot in np.flatnonzero(rows).tolist():
            entry = self.timeline.setdefault(first + slot if keys is None else int(keys[slot]), [0, 0.0])
            entry[0] += int(rows[slot])
            entry[1] += float(sums[slot])

    def latency_quantile(self, q: float) -> float | None:
        """The Q-quantile of latency in seconds (the upper edge of its 1 % bucket); None: no rows."""
        import numpy as np

        if self.histogram is None or not self.histogram.sum():
            return None
        cumulative = np.cumsum(self.histogram)
        bucket = int(np.searchsorted(cumulative, q * cumulative[-1], side="left"))
        return float(_LOWEST_S * _GROWTH ** (bucket + 1))

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def total_requests(self) -> int:
        """Requests answered: the writers' count when they report one, else logged rows plus errors."""
        return self.requests or (self.rows + self.error_count)

    def measures(self) -> dict[str, float]:
        """The numbers the `monitor:` rules can name, under the names they use."""
        found: dict[str, float] = {"rows": float(self.rows), "requests": float(self.total_requests),
                                   "dropped": float(self.dropped)}
        total = self.total_requests
        found["error_rate"] = self.error_count / total if total else 0.0
        logged = self.rows + self.dropped
        found["drop_rate"] = self.dropped / logged if logged else 0.0
        if self.first_ts is not None and self.last_ts is not None:
            span = max(self.last_ts - self.first_ts, 1.0)
            found["throughput_rps"] = total / span
        for name, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99)):
            value = self.latency_quantile(q)
            if value is not None:
                found[name] = value * 1000
        return found

    def to_json(self) -> dict[str, Any]:
        return {**self.measures(), "errors": dict(sorted(self.errors.items())), "sample_rate": self.sample_rate,
                "first": _iso(self.first_ts), "last": _iso(self.last_ts)}

    def timeline_json(self) -> list[dict[str, Any]]:
        return [{"minute": _iso(float(key * TIMELINE_STEP_S)), "rows": int(n), "latency_mean_ms": total / n * 1000}
                for key, (n, total) in sorted(self.timeline.items()) if n]


def _iso(seconds: float | None) -> str | None:
    from datetime import UTC, datetime

    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
