"""The time span `mlv monitor` looks at: `--window 24h` (the last 24 hours) or `--since/--until`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mlv.monitor.errors import MonitorError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^([0-9]{1,7})([smhdw])$")


@dataclass(frozen=True)
class Window:
    """Rows whose `ts` is in [since, until); None: unbounded on that side."""

    since: datetime | None
    until: datetime | None

    def dates(self) -> tuple[date | None, date | None]:
        """The UTC dates a segment partition must fall in (inclusive) to hold rows of the window."""
        last = None if self.until is None else (self.until - timedelta(microseconds=1)).date()
        return (None if self.since is None else self.since.date()), last

    def to_json(self) -> dict[str, str | None]:
        return {"since": _iso(self.since), "until": _iso(self.until)}

    def describe(self) -> str:
        if self.since is None and self.until is None:
            return "the whole log"
        return f"{_iso(self.since) or 'the start'} .. {_iso(self.until) or 'now'}"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `24h`, `7d`, `2w` as a timedelta; a MonitorError for anything else."""
    found = _DURATION.match(text.strip())
    if not found or int(found.group(1)) == 0:
        raise MonitorError(f"window {text!r} is not a duration", hint="Write a number and a unit: 30m, 24h, 7d, 2w.")
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


def parse_moment(text: str, option: str) -> datetime:
    """An ISO 8601 date or date-time (UTC when no offset is given), or a MonitorError naming OPTION."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MonitorError(f"{option} {text!r} is not an ISO 8601 date or time",
                           hint="For example: 2026-12-07 or 2026-12-07T13:00:00Z.") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def make_window(window: str | None, since: str | None, until: str | None, now: datetime | None = None) -> Window:
    """The Window the options name: --window and --since/--until exclude each other."""
    if window is not None and (since is not None or until is not None):
        raise MonitorError("--window cannot be combined with --since or --until", hint="Pick one way to say when.")
    if window is not None:
        end = now or datetime.now(UTC)
        return Window(end - parse_duration(window), end)
    start = parse_moment(since, "--since") if since is not None else None
    stop = parse_moment(until, "--until") if until is not None else None
    if start is not None and stop is not None and start >= stop:
        raise MonitorError(f"--since {since} is not before --until {until}")
    return Window(start, stop)
