"""The registry's state, computed from its tags alone (read with ONE `git for-each-ref`).

Semantics are GTO's, so `gto show` and `mlv model list` agree:
- a version is registered by `NAME@vX.Y.Z`; after `NAME@vX.Y.Z!` it stays in the history but leaves
  every stage and is never "latest";
- a stage holds, per version, the last of its assign/unassign events; the stage's version is the
  one with the most recent assignment still in force (so demoting the current version brings back
  the previous one if it was never demoted itself: GTO's rule);
- a model is deprecated when its most recent event is `NAME@deprecated`.
History is ordered by tag time (one-second resolution), then by the nanosecond stamp mlv writes in
its block, then counter: events made within one second keep the order they were made in.

Which version holds a stage is decided by what a clock cannot forge: GTO's counter (`NAME#STAGE#N`),
then topology (a descendant commit wins over its ancestor), then time. A tag dated more than
FUTURE_SKEW_S ahead of this machine's clock is flagged (`future_dated`) and never holds a stage.
"""

from __future__ import annotations

import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.registry import metadata, names

FUTURE_SKEW_S = 5 * 60


@dataclass(eq=False)
class Event:
    model: str
    action: str  # register, deregister, assign, unassign, deprecate, create
    tag: str
    commit: str
    time: int  # unix seconds (the tagger date)
    tagger: str
    tagger_email: str
    raw: str  # the whole tag message (capped); parsed only when asked, see `meta`
    truncated: bool
    version: str | None = None  # for stage events: the version registered on the commit
    stage: str | None = None
    counter: int | None = None
    seq: int = 0  # position in the model's ordered history
    rank: int = 0  # position in the order events are applied in: counter first, then time
    future_dated: bool = False  # dated beyond FUTURE_SKEW_S ahead of the clock: never holds a stage

    @cached_property
    def _parsed(self) -> tuple[str, dict[str, Any] | None]:
        human, meta = metadata.parse(self.raw)
        return human, None if self.truncated else meta

    @property
    def message(self) -> str:
        """The human part of the tag message."""
        return self._parsed[0]

    @property
    def meta(self) -> dict[str, Any] | None:
        """The mlv block; None means "no mlv metadata". Parsed lazily: a listing of thousands of
        tags reads the blocks of only the few versions it shows."""
        return self._parsed[1]

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "model": self.model, "event": self.action, "version": self.version,
                "stage": self.stage, "tag": self.tag, "commit": self.commit, "tagger": self.tagger,
                "tagger_email": self.tagger_email, "message": self.message,
                "forced": bool((self.meta or {}).get("forced")), "has_metadata": self.meta is not None,
                "future_dated": self.future_dated}


@dataclass
class Version:
    version: str
    commit: str
    event: Event | None  # the registration (None for a version GTO names by its commit)
    registered: bool = True  # False once deregistered
    stage_events: dict[str, Event] = field(default_factory=dict)  # stage -> its last event

    @property
    def tag(self) -> str:
        return self.event.tag if self.event else ""

    @property
    def time(self) -> int:
        return self.event.time if self.event else 0

    @property
    def meta(self) -> dict[str, Any] | None:
        return self.event.meta if self.event else None

    @property
    def message(self) -> str:
        return self.event.message if self.event else ""

    @property
    def deregistered(self) -> bool:
        """Registered once, then deregistered (a version GTO names by its commit never was)."""
        return not self.registered and names.VERSION_RE.match(self.version) is not None

    @property
    def active_stages(self) -> list[str]:
        return sorted(s for s, e in self.stage_events.items() if e.action == names.ASSIGN)


@dataclass
class Model:
    name: str
    versions: dict[str, Version] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)  # oldest first
    max_counter: int = 0
    # (ancestor, descendant) -> True when the first commit is in the second's history; None: unknown
    is_ancestor: Callable[[str, str], bool] | None = field(default=None, repr=False)

    @property
    def deprecated(self) -> bool:
        current = [e for e in self.events if not e.future_dated]  # a forged clock cannot pin it either
        return bool(current) and current[-1].action == names.DEPRECATE

    def latest(self) -> Version | None:
        """The highest registered (not deregistered) SemVer version."""
        live = [v for v in self.versions.values() if v.registered and names.VERSION_RE.match(v.version)]
        return max(live, key=lambda v: names.semver_key(v.version)) if live else None

    def highest_ever(self) -> str | None:
        """The highest version ever registered: bumping starts from it, so no number is reused."""
        known = [v for v in self.versions if names.VERSION_RE.match(v)]
        return max(known, key=names.semver_key) if known else None

    def stages(self) -> dict[str, Version]:
        """stage -> the version in it now: the assignment still in force with the highest counter,
        then the descendant commit, then the latest; a future-dated tag never holds a stage."""
        best: dict[str, tuple[Event, Version]] = {}
        for version in self.versions.values():
            if version.deregistered:
                continue  # as in GTO: a deregistered version leaves every stage
            for stage, event in version.stage_events.items():
                if event.action != names.ASSIGN or event.future_dated:
                    continue
                if stage not in best or self._wins(event, best[stage][0]):
                    best[stage] = (event, version)
        return {stage: best[stage][1] for stage in sorted(best)}

    def _wins(self, event: Event, other: Event) -> bool:
        if (event.counter or 0) != (other.counter or 0):
            return (event.counter or 0) > (other.counter or 0)
        if event.commit != other.commit and self.is_ancestor is not None:
            if self.is_ancestor(other.commit, event.commit):
                return True
            if self.is_ancestor(event.commit, other.commit):
                return False
        return event.rank > other.rank

    def version_at(self, commit: str) -> Version | None:
        for version in self.versions.values():
            if version.commit == commit and version.registered:
                return version
        return None


def load(root: Path) -> dict[str, Model]:
    """Every model in the registry, from one `git for-each-ref refs/tags`."""
    models = build(git.for_each_ref(root, ["refs/tags/"]))
    for model in models.values():
        model.is_ancestor = lambda a, b: git.is_ancestor(root, a, b)
    return models


def build(refs: list[git.RefEntry], now: float | None = None) -> dict[str, Model]:
    horizon = (clock.time() if now is None else now) + FUTURE_SKEW_S
    events: list[tuple[Event, names.TagName]] = []
    for ref in refs:
        parsed = names.parse_tag(ref.name)
        if parsed is None or ref.object_type != "tag":  # GTO ignores lightweight tags too
            continue
        events.append((Event(model=parsed.model, action=parsed.action, tag=ref.name, commit=ref.target,
                             time=ref.date, tagger=ref.tagger, tagger_email=ref.tagger_email, raw=ref.contents,
                             truncated=ref.truncated, version=parsed.version, stage=parsed.stage,
                             counter=parsed.counter, future_dated=ref.date > horizon),
                       parsed))
    events.sort(key=_order)
    models: dict[str, Model] = {}
    for event, parsed in events:
        model = models.setdefault(event.model, Model(event.model))
        model.max_counter = max(model.max_counter, parsed.counter or 0)
        event.seq = len(model.events)
        model.events.append(event)
    for model in models.values():
        # Registrations first (a stage tag names a version by its commit), then by counter: a
        # clock set forward cannot reorder what GTO's counter says.
        for rank, event in enumerate(sorted(model.events, key=_applied)):
            event.rank = rank
            _apply(model, event)
    return models


def _order(pair: tuple[Event, names.TagName]) -> tuple[int, int, int, str]:
    event = pair[0]
    return (event.time, metadata.written_ns(event.raw), event.counter or 0, event.tag)


def _applied(event: Event) -> tuple[bool, bool, int, int]:
    return (event.future_dated, event.action in (names.ASSIGN, names.UNASSIGN), event.counter or 0, event.seq)


def _apply(model: Model, event: Event) -> None:
    if event.action == names.REGISTER and event.version:
        if event.version not in model.versions:
            model.versions[event.version] = Version(event.version, event.commit, event)
        else:
            model.versions[event.version].registered = True
    elif event.action == names.DEREGISTER and event.version:
        if event.version in model.versions:
            model.versions[event.version].registered = False
    elif event.action in (names.ASSIGN, names.UNASSIGN) and event.stage:
        version = model.version_at(event.commit) or _commit_version(model, event)
        event.version = version.version
        version.stage_events[event.stage] = event


def _commit_version(model: Model, event: Event) -> Version:
    """A stage tag on a commit with no registered version: GTO names that version by the commit."""
    for version in model.versions.values():
        if version.commit == event.commit:
            return version
    version = Version(event.commit, event.commit, None, registered=False)
    model.versions[event.commit] = version
    return version
