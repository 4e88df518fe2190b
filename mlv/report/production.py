"""The report's Production section: the prediction log read day by day with `mlv monitor`.

Each of the last DAYS UTC days is one monitor window (one pass over that day's segments), which
gives drift per window; the per-minute timelines of the days are summed into hours for the
latency and throughput charts. A day without predictions is left out; a day the monitor cannot
read becomes a note, never a failed report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlv.errors import MlvError

DAYS = 7


def production(root: Path, log: str, days: int = DAYS, now: datetime | None = None) -> dict[str, Any]:
    from mlv.datahealth.thresholds import thresholds_from_config
    from mlv.monitor.rules import parse_monitor
    from mlv.monitor.run import MonitorOptions, monitor
    from mlv.monitor.window import Window
    from mlv.project import config

    loaded = config.load(root) if config.exists(root) else None
    policy = parse_monitor(loaded.monitor if loaded else None)
    thresholds = thresholds_from_config(loaded.data_check if loaded else None)
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    windows: list[dict[str, Any]] = []
    hourly: dict[str, dict[str, float]] = {}
    notes: list[str] = []
    for back in range(days - 1, -1, -1):
        start = today - timedelta(days=back)
        try:
            report = monitor(root, MonitorOptions(log, Window(start, start + timedelta(days=1))), policy, thresholds)
        except MlvError as exc:
            if "no logged predictions" not in exc.message:
                notes.append(f"{start.date()}: {exc.one_line()}")
            continue
        for version in report.versions:
            windows.append(_window_row(start, version))
            _add_hours(hourly, version.system.timeline_json())
        if report.listing.skipped or report.listing.lost_segments:
            notes.append(f"{start.date()}: {len(report.listing.skipped)} segment(s) skipped, "
                         f"{report.listing.lost_segments} possibly lost")
    hours = [{"hour": hour, "rows": int(v["rows"]), "latency_mean_ms": v["latency"] / v["rows"]}
             for hour, v in sorted(hourly.items()) if v["rows"]]
    return {"log": log, "days": days, "windows": windows, "hourly": hours, "notes": notes}


def _window_row(start: datetime, version: Any) -> dict[str, Any]:
    measures = version.system.measures()
    return {"day": start.date().isoformat(), "model": version.model, "version": version.version,
            "healthy": version.healthy, "rows": version.system.rows,
            **{k: measures.get(k) for k in ("throughput_rps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                                             "error_rate", "drop_rate")},
            "data_drift_share": None if version.data is None else version.data.drift_share,
            "data_ok": None if version.data is None else version.data.ok,
            "prediction_drift": None if version.predictions is None else not version.predictions.ok,
            "performance": version.quality.to_json(),
            "failures": [r.message for r in version.rules if not r.passed]}


def _add_hours(hourly: dict[str, dict[str, float]], minutes: list[dict[str, Any]]) -> None:
    for item in minutes:
        hour = str(item["minute"])[:13] + ":00Z"
        entry = hourly.setdefault(hour, {"rows": 0.0, "latency": 0.0})
        entry["rows"] += item["rows"]
        entry["latency"] += item["latency_mean_ms"] * item["rows"]
