"""The record sections of `mlv diff`: environment, params, metrics and command.

These come from the experiment record, so a commit without one (a plain DVC repository) makes
each of them "not available" with the reason, rather than a guess.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from mlv.diff.sides import Side
from mlv.finite import is_finite_number
from mlv.record.record import flatten

NO_RECORD = "no experiment record"
# Metric names whose good direction is well known; used only to colour a change better or worse.
# Any other metric (a count, say) is shown with its direction alone.
_LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|mape|perplexity|latency|duration|cost", re.IGNORECASE)
_HIGHER_IS_BETTER = re.compile(r"acc|r2|f1|auc|precision|recall|score|iou|map|bleu|rouge|ndcg",
                               re.IGNORECASE)


def better_direction(key: str) -> str | None:
    """'up', 'down' or None (unknown) for a metric name's last dotted part."""
    name = key.rsplit(".", 1)[-1]
    if _LOWER_IS_BETTER.search(name):
        return "down"
    if _HIGHER_IS_BETTER.search(name):
        return "up"
    return None


def _unavailable_reason(old: Side, new: Side) -> str | None:
    missing = [s.label for s in (old, new) if not (s.has_record or s.from_tree)]
    return f"{NO_RECORD} in {' and '.join(missing)}" if missing else None


@dataclass
class Change:
    key: str
    status: str  # added, removed, modified
    old: Any
    new: Any
    abs_change: float | None = None  # metrics only, when both values are numbers
    rel_change: float | None = None  # (new - old) / |old|; None when old is 0
    direction: str | None = None  # "up" or "down" (metrics only)


@dataclass
class ValuesSection:
    """Params or metrics: every key whose value differs."""

    available: bool = True
    reason: str | None = None
    entries: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.entries)

    def to_json(self) -> dict[str, Any]:
        return {"available": self.available, "reason": self.reason,
                "changed": self.changed if self.available else None,
                "entries": [asdict(e) for e in self.entries]}


def _flat_pair(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both sides flattened to dotted keys; the file name is left out when both use the same one."""
    single = len(old) == 1 and old.keys() == new.keys()
    return flatten(old, single_root=single), flatten(new, single_root=single)


def compare_values(old: Side, new: Side, kind: str) -> ValuesSection:
    reason = _unavailable_reason(old, new)
    if reason:
        return ValuesSection(available=False, reason=reason)
    before, after = _flat_pair(getattr(old, kind), getattr(new, kind))
    entries = []
    for key in sorted(before.keys() | after.keys()):
        if key not in after:
            entries.append(Change(key, "removed", before[key], None))
        elif key not in before:
            entries.append(Change(key, "added", None, after[key]))
        elif before[key] != after[key]:
            change = Change(key, "modified", before[key], after[key])
            if kind == "metrics" and is_finite_number(before[key]) and is_finite_number(after[key]):
                delta = after[key] - before[key]
                change.abs_change = delta
                change.rel_change = delta / abs(before[key]) if before[key] else None
                change.direction = "up" if delta > 0 else "down"
            entries.append(change)
    return ValuesSection(entries=entries)


@dataclass
class CommandSection:
    available: bool = True
    reason: str | None = None
    old: str | None = None
    new: str | None = None

    @property
    def changed(self) -> bool:
        return self.available and self.old != self.new

    def to_json(self) -> dict[str, Any]:
        return {"available": self.available, "reason": self.reason,
                "changed": self.changed if self.available else None, "old": self.old, "new": self.new}


def compare_command(old: Side, new: Side) -> CommandSection:
    reason = _unavailable_reason(old, new)
    if reason:
        return CommandSection(available=False, reason=reason)
    return CommandSection(old=old.command, new=new.command)


@dataclass
class PackageChange:
    name: str
    old: str | None
    new: str | None


@dataclass
class EnvSection:
    available: bool = True
    reason: str | None = None
    python: PackageChange | None = None  # name "python"; set only when the version differs
    platform: PackageChange | None = None
    packages_known: bool = True  # False when a side's lockfile could not be read
    added: list[PackageChange] = field(default_factory=list)
    removed: list[PackageChange] = field(default_factory=list)
    upgraded: list[PackageChange] = field(default_factory=list)
    downgraded: list[PackageChange] = field(default_factory=list)
    changed_other: list[PackageChange] = field(default_factory=list)  # versions that do not order

    @property
    def changed(self) -> bool:
        """True when something differs, or when the package lists cannot be compared (worth saying)."""
        return self.available and (not self.packages_known or any(
            [self.python, self.platform, self.added, self.removed, self.upgraded, self.downgraded,
             self.changed_other]))

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["changed"] = self.changed if self.available else None
        return doc


def compare_environment(old: Side, new: Side) -> EnvSection:
    reason = _unavailable_reason(old, new) or old.env_error or new.env_error
    if reason or old.env is None or new.env is None:
        return EnvSection(available=False, reason=reason or NO_RECORD)
    section = EnvSection()
    if old.env.python != new.env.python:
        section.python = PackageChange("python", old.env.python, new.env.python)
    if old.env.platform != new.env.platform:
        section.platform = PackageChange("platform", old.env.platform, new.env.platform)
    if old.env.packages is None or new.env.packages is None:
        section.packages_known = False
        return section
    before, after = old.env.package_versions(), new.env.package_versions()
    for name in sorted(before.keys() | after.keys()):
        change = PackageChange(name, before.get(name), after.get(name))
        if change.old is None:
            section.added.append(change)
        elif change.new is None:
            section.removed.append(change)
        elif change.old != change.new:
            _bucket(section, change).append(change)
    return section


def _bucket(section: EnvSection, change: PackageChange) -> list[PackageChange]:
    from packaging.version import InvalidVersion, Version

    try:
        before, after = Version(change.old or ""), Version(change.new or "")
    except InvalidVersion:
        return section.changed_other
    if before == after:  # "1.0" and "1.0.0": spelled differently, the same release
        return section.changed_other
    return section.upgraded if after > before else section.downgraded
