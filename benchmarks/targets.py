"""The performance targets of issues 2-5, each checked against a finished run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.context import Case
from benchmarks.measure import Measurement


@dataclass
class Verdict:
    target: str
    measured: str
    met: bool | None  # None: could not be measured


def find(cases: Sequence[Case], op: str, key: str = "") -> Case | None:
    return next((c for c in cases if c.op == op and (not key or c.key == key)), None)


def _get(cases: Sequence[Case], op: str, key: str, tool: str) -> Measurement | None:
    case = find(cases, op, key)
    m = case.measurements.get(tool) if case else None
    return m if m is not None and m.ok else None


def _seconds(limit: float, op: str, key: str = "") -> Callable[[Sequence[Case]], tuple[str, bool | None]]:
    def check(cases: Sequence[Case]) -> tuple[str, bool | None]:
        m = _get(cases, op, key, "mlv")
        if m is None:
            return "not measured", None
        return f"{m.median:.3f} s", m.median <= limit

    return check


def _added(limit: float, op: str, key: str) -> Callable[[Sequence[Case]], tuple[str, bool | None]]:
    """mlv's median minus the floor's: what mlv adds on top of the bare operation."""
    def check(cases: Sequence[Case]) -> tuple[str, bool | None]:
        m, floor = _get(cases, op, key, "mlv"), _get(cases, op, key, "floor")
        if m is None or floor is None:
            return "not measured", None
        added = m.median - floor.median
        return f"{added * 1000:.0f} ms ({m.median:.3f} s - {floor.median:.3f} s)", added <= limit

    return check


def _first_ratio(cases: Sequence[Case]) -> tuple[str, bool | None]:
    m, floor = _get(cases, "first", "1gib", "mlv"), _get(cases, "first", "1gib", "floor")
    if m is None or floor is None:
        return "not measured", None
    ratio = m.median / floor.median
    return f"{ratio:.2f}x ({m.median:.2f} s vs md5sum {floor.median:.2f} s)", ratio <= 1.5


def _monitor_ratio(cases: Sequence[Case]) -> tuple[str, bool | None]:
    m, floor = _get(cases, "monitor", "", "mlv"), _get(cases, "monitor", "", "floor")
    case = find(cases, "monitor")
    if m is None or floor is None or case is None:
        return "not measured", None
    ratio = m.median / floor.median
    return (f"{ratio:.2f}x ({m.median:.2f} s vs pyarrow {floor.median:.2f} s, {case.dataset}; "
            f"peak {m.peak_rss_mb:.0f} MB)"), ratio <= 2 and m.peak_rss_mb < 500


def _rss(cases: Sequence[Case]) -> tuple[str, bool | None]:
    # `mlv monitor` has its own memory target (500 MB): it holds a segment and its profiles.
    peaks = [(m.peak_rss_mb, c) for c in cases for t, m in c.measurements.items()
             if t == "mlv" and (m.samples or m.warmup) and c.op != "monitor"]
    if not peaks:
        return "not measured", None
    peak, case = max(peaks, key=lambda p: p[0])
    return f"{peak:.0f} MB (largest: {TITLES.get(case.op, case.op)}, {case.dataset})", peak < 300


TITLES = {
    "first": "first snapshot",
    "noop": "snapshot, nothing changed",
    "change1": "snapshot after changing one file",
    "noop-watch": "snapshot, nothing changed (watcher on)",
    "change1-watch": "snapshot after changing one file (watcher on)",
    "diff": "diff of two experiments",
    "log": "log over many experiments",
    "checkout": "checkout between two experiments",
    "reproduce": "reproduce (total; floor = the command alone)",
    "hook-commit": "git commit with hooks",
    "hook-checkout": "git checkout with hooks (data unchanged)",
    "startup": "start-up (--help)",
    "monitor": "mlv monitor over a prediction log (floor = a pyarrow read of its segments)",
}

TARGETS: list[tuple[str, Callable[[Sequence[Case]], tuple[str, bool | None]]]] = [
    ("snapshot with nothing changed <= 0.3 s (1 GiB file + 10,000 files)", _seconds(0.3, "noop", "10k")),
    ("first snapshot of the 1 GiB file <= 1.5x md5sum", _first_ratio),
    ("snapshot with nothing changed, watcher on <= 0.3 s (1 GiB file + 100,000 files)",
     _seconds(0.3, "noop-watch", "100k")),
    ("snapshot after changing one file, watcher on <= 0.5 s (1 GiB file + 100,000 files)",
     _seconds(0.5, "change1-watch", "100k")),
    ("log over 1,000 experiments <= 1 s", _seconds(1.0, "log")),
    ("diff of two experiments <= 0.3 s (10,000-file dataset, 10 files differ)", _seconds(0.3, "diff", "10k")),
    ("pre-commit hook adds <= 50 ms (10,000 files, no data changed)", _added(0.05, "hook-commit", "10k")),
    ("post-checkout hook adds <= 50 ms (identical pointer files)", _added(0.05, "hook-checkout", "10k")),
    ("reproduce overhead <= 1 s (1 GiB file + 10,000 files in the cache)", _added(1.0, "reproduce", "10k")),
    ("mlv checkout between experiments whose data differ in one file <= 0.5 s", _seconds(0.5, "checkout", "10k")),
    ("mlv --help <= 0.15 s", _seconds(0.15, "startup")),
    ("peak RSS < 300 MB (every mlv command measured but monitor)", _rss),
    ("mlv monitor over 1,000,000 logged rows <= 2x a pyarrow read of the same segments, peak RSS < 500 MB",
     _monitor_ratio),
]


def evaluate(cases: Sequence[Case]) -> list[Verdict]:
    out = []
    for text, check in TARGETS:
        measured, met = check(cases)
        out.append(Verdict(text, measured, met))
    return out
