"""The report's data: one JSON document built from the functions behind the CLI's `--json` output.

- `log`: exactly `mlv log --json` for the same selection, except that each environment's package
  list is moved to `packages` (keyed by lockfile path, as mlv reads them): a thousand experiments
  usually share a handful of lockfiles, and repeating them would make the page ten times larger.
- `tree_data`: the data and outputs each commit's tree pins, and `code`: each commit's code files
  as path -> blob id, deduplicated into `states`; with the record fields these are the five axes
  the page compares in the shape of `mlv diff --json`.
- `models`: `mlv model list --json`, `mlv model show NAME --json` and `mlv model history NAME --json`.
- `health`: per dataset of the newest experiment, `mlv data check --json` of its version against
  the previous version in the listed experiments, from the stored profiles (no data is read).
- `production`: with a prediction log (`--log`, or `monitor.log` in the configuration), `mlv
  monitor` per day of the last week (mlv/report/production.py); null without one.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.adapters import git
from mlv.diff.code import is_code
from mlv.errors import MlvError
from mlv.finite import nan_to_null
from mlv.record import history, listing, record
from mlv.record.history import Experiment, InvalidExperiment

if TYPE_CHECKING:
    from mlv.adapters.dvc import Pointer
    from mlv.datahealth.model import Profile

SCHEMA_VERSION = 1
MAX_MODELS = 200  # models shown with their versions and history; a hostile tag flood is cut here


@dataclass(frozen=True)
class Selection:
    """Which experiments: REV's (or a range `A..B`), or every branch's."""

    rev: str = "HEAD"
    all_branches: bool = False
    log: str | None = None  # the prediction log for the Production section (None: monitor.log, if set)
    against: str | None = None  # the data-health reference (a commit or NAME@vX); None: the previous version

    def describe(self) -> str:
        return "every branch" if self.all_branches else self.rev


def gather(root: Path, selection: Selection) -> dict[str, Any]:
    """The whole document embedded in the page (see the module docstring)."""
    experiments = list_selected(root, selection)
    listing.annotate(root, experiments)
    valid = [e for e in experiments if isinstance(e, Experiment)]
    log, packages = _log_and_packages(experiments)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "title": root.name,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "selection": selection.describe(),
        "log": log,
        "packages": packages,
        "tree_data": {e.commit: _pinned(e) for e in valid},
        "code": _code_states(root, valid),
        "models": _models(root),
    }
    doc["health"], doc["health_notes"] = _health(root, valid, selection.against)
    doc["production"] = _production(root, selection.log)
    safe: dict[str, Any] = nan_to_null(doc)
    return safe


def _production(root: Path, log: str | None) -> dict[str, Any] | None:
    """The Production section's data, when a prediction log is given or configured."""
    from mlv.project import config

    if log is None and config.exists(root):
        configured = (config.load(root).monitor or {}).get("log")
        log = configured if isinstance(configured, str) and configured else None
        if log is not None and "://" not in log and not Path(log).is_absolute():
            log = str(root / log)  # a folder in the configuration is relative to the repository root
    if log is None:
        return None
    from mlv.report.production import production

    return production(root, log)


def list_selected(root: Path, selection: Selection) -> list[Experiment | InvalidExperiment]:
    """What `mlv log --json` lists for the selection; `A..B` is B's experiments not reachable from A."""
    if selection.all_branches:
        return history.list_experiments(root, with_packages=True, all_branches=True)
    if "..." in selection.rev:
        raise MlvError(f"--rev {selection.rev!r}: a symmetric range (A...B) is not supported",
                       hint="Give a revision (main) or a range A..B.")
    if ".." not in selection.rev:
        return history.list_experiments(root, selection.rev, with_packages=True)
    start, _, end = selection.rev.partition("..")
    excluded = set(git.log_shas(root, git.resolve_commit(root, start or "HEAD"), record.GIT_GREP, None))
    found = history.list_experiments(root, end or "HEAD", with_packages=True)
    return [e for e in found if e.commit not in excluded]


def _log_and_packages(experiments: list[Experiment | InvalidExperiment]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    log: list[dict[str, Any]] = []
    packages: dict[str, Any] = {}
    for exp in experiments:
        entry = exp.to_json()
        env = entry.get("environment")
        if isinstance(env, dict) and "packages" in env:
            packages.setdefault(env["lockfile"], env.pop("packages"))
        log.append(entry)
    return log, packages


def _pinned(exp: Experiment) -> list[dict[str, Any]]:
    """The data and outputs as the commit's tree pins them (the truth `mlv diff` compares)."""
    return [{"path": p.path, "kind": kind, "md5": p.md5, "size": p.size, "nfiles": p.nfiles}
            for kind, items in (("data", exp.data), ("output", exp.outputs)) for p in items]


def _code_states(root: Path, experiments: list[Experiment]) -> dict[str, Any]:
    """Each experiment's code files (what `mlv diff` counts as code) as path -> blob id, stored once
    per distinct state: most experiments change params or data, not code."""
    listings = git.tree_listings(root, [e.commit for e in experiments])
    states: list[dict[str, str]] = []
    index: dict[tuple[tuple[str, str], ...], int] = {}
    by_commit: dict[str, int] = {}
    for exp in experiments:
        data_paths = {p.path for p in (*exp.data, *exp.outputs)}
        recorded = {*exp.record.params, *exp.record.metrics}
        code = tuple(sorted((path, blob) for path, blob in listings[exp.commit].items()
                            if is_code(path, data_paths, recorded)))
        if code not in index:
            index[code] = len(states)
            states.append(dict(code))
        by_commit[exp.commit] = index[code]
    return {"states": states, "by_commit": by_commit}


def _models(root: Path) -> dict[str, Any]:
    from mlv.registry import queries

    rows = queries.list_models(root)[:MAX_MODELS]
    shown: dict[str, Any] = {}
    events: dict[str, Any] = {}
    for row in rows:
        name = row["model"]
        events[name] = queries.model_history(root, name)
        if row["latest"] is not None:
            with contextlib.suppress(MlvError):  # all versions deregistered: its history still shows
                shown[name] = queries.show(root, name)
    return {"list": rows, "show": shown, "history": events}


def _health(root: Path, experiments: list[Experiment], against: str | None = None
            ) -> tuple[list[dict[str, Any]], list[str]]:
    """`mlv data check --json` of each dataset of the newest experiment against its previous version
    in the listed experiments, or against its version at AGAINST."""
    if not experiments:
        return [], []
    latest = experiments[0]
    checks, notes = [], []
    chosen = _against(root, against) if against is not None else None
    for pointer in latest.data:
        older: tuple[str, Pointer] | None
        if chosen is not None:
            old = next((p for p in chosen[1] if p.path == pointer.path), None)
            older = (chosen[0], old) if old is not None else None
        else:
            older = next(((e.commit, p) for e in experiments[1:] for p in e.data
                          if p.path == pointer.path and p.md5 != pointer.md5), None)
        if older is None:
            notes.append(f"{pointer.path}: " + (f"not data of {against}" if against is not None else
                                                "one version in these experiments, nothing to check it against"))
            continue
        try:
            found = _check(root, latest, pointer, *older)
        except (MlvError, ImportError) as exc:
            notes.append(f"{pointer.path}: not checked ({getattr(exc, 'message', None) or exc})")
            continue
        if found is None:
            notes.append(f"{pointer.path}: not checked, no stored profile of both versions (.mlv/profiles/)")
        else:
            checks.append(found)
    return checks, notes


def _against(root: Path, text: str) -> tuple[str, list[Pointer]]:
    """The commit TEXT names (a revision or NAME@vX / NAME#STAGE) and the data its record pins."""
    from mlv.datahealth.history import resolve

    revision = resolve(root, text)
    return revision.commit, list(revision.data)


def _check(root: Path, latest: Experiment, pointer: Pointer, reference_commit: str,
           old: Pointer) -> dict[str, Any] | None:
    from mlv.datahealth.check import check
    from mlv.datahealth.store import stored_profile
    from mlv.datahealth.thresholds import thresholds_from_config
    from mlv.project import config

    current = stored_profile(root, pointer.md5, [latest.commit])
    before = stored_profile(root, old.md5, [reference_commit])
    if current is None or before is None:
        return None
    limits = thresholds_from_config(config.load(root).data_check if config.exists(root) else None)
    result = check(current, before, limits).to_json()
    return {"path": pointer.path,
            "current": {"commit": latest.commit, "md5": pointer.md5},
            "reference": {"commit": reference_commit, "md5": old.md5},
            "check": {**result, "current": f"{pointer.path} at {latest.commit[:10]}",
                      "reference": f"{pointer.path} at {reference_commit[:10]}", "reference_commit": reference_commit},
            "missing": {c.name: {"reference": _missing_share(before, c.name),
                                 "current": _missing_share(current, c.name)} for c in current.columns},
            "distributions": _distributions(before, current, result)}


DISTRIBUTION_QUANTILES = range(0, 101, 5)  # 21 points of each numeric column's quantile function
DISTRIBUTION_VALUES = 8  # categories shown per column


def _distributions(reference: Profile, current: Profile, result: dict[str, Any]) -> dict[str, Any]:
    """Per column, what the page draws: both quantile functions (numeric, datetime), both sides'
    shares of the most frequent values (categorical), or only what the column is (text, identifier)."""
    kinds = {c["column"]: c["kind"] for c in result["columns"]}
    kinds.update({s["column"]: "identifier" for s in result["skipped"] if s["reason"].startswith("identifier")})
    shown: dict[str, Any] = {}
    for ref in reference.columns:
        cur = current.column(ref.name)
        kind = kinds.get(ref.name)
        if cur is None or kind is None:
            continue
        entry: dict[str, Any] = {"kind": kind}
        if kind in {"numeric", "datetime"} and ref.numeric is not None and cur.numeric is not None:
            entry["reference"] = [ref.numeric.quantiles[i] for i in DISTRIBUTION_QUANTILES]
            entry["current"] = [cur.numeric.quantiles[i] for i in DISTRIBUTION_QUANTILES]
        elif kind == "categorical" and ref.categories is not None and cur.categories is not None:
            counts = dict(cur.categories.top)
            entry["values"] = [[value, count / max(ref.valid, 1), counts.get(value, 0) / max(cur.valid, 1)]
                               for value, count in ref.categories.top[:DISTRIBUTION_VALUES]]
        shown[ref.name] = entry
    return shown


def _missing_share(profile: Profile, name: str) -> float | None:
    """The share of COLUMN's values that are missing (the profile's own count), None without it."""
    column = profile.column(name)
    if column is None:
        return None
    return column.missing / column.count if column.count else 0.0
