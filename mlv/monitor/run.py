"""`mlv monitor`: one pass over the log's segments in a window, a report per served version.

Per version: data health (the logged inputs against the training data's stored profile, with the
tests and thresholds of `mlv data check`), prediction drift (against the package's reference
predictions), performance on labelled rows (against the recorded metric) and system health
(throughput, latency, errors, drops). The `monitor:` rules decide healthy or degraded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.gates.evaluate import Facts, RuleResult, evaluate, failed
from mlv.gates.rules import GatePolicy
from mlv.monitor.baseline import Baseline
from mlv.monitor.errors import MonitorError
from mlv.monitor.quality import Quality, known_metric
from mlv.monitor.rules import MonitorPolicy
from mlv.monitor.segments import INPUT_PREFIX, Listing, Segment
from mlv.monitor.system import SystemStats
from mlv.monitor.window import Window

if TYPE_CHECKING:
    import pyarrow as pa

    from mlv.datahealth.check import CheckResult
    from mlv.datahealth.thresholds import Thresholds
    from mlv.monitor.logstore import LogStore
    from mlv.monitor.stream import StreamProfile

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class MonitorOptions:
    log: str
    window: Window
    target: str | None = None  # NAME#STAGE, NAME@vX.Y.Z or NAME: which served version(s)
    package: Path | None = None  # the served version's package: reference predictions


@dataclass
class VersionReport:
    model: str
    version: str
    system: SystemStats = field(default_factory=SystemStats)
    quality: Quality = field(default_factory=Quality)
    commit: str | None = None
    data_path: str | None = None
    data: CheckResult | None = None
    predictions: CheckResult | None = None
    notes: list[str] = field(default_factory=list)  # what was not checked, and why
    rules: list[RuleResult] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model}@{self.version}"

    @property
    def healthy(self) -> bool:
        return not failed(self.rules)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "version": self.version, "commit": self.commit, "healthy": self.healthy,
                "system": self.system.to_json(), "performance": self.quality.to_json(),
                "data_health": None if self.data is None else {**self.data.to_json(), "data_path": self.data_path},
                "prediction_drift": None if self.predictions is None else self.predictions.to_json(),
                "notes": self.notes, "rules": [r.to_json() for r in self.rules],
                "timeline": self.system.timeline_json()}


@dataclass
class MonitorReport:
    log: str
    window: Window
    listing: Listing
    versions: list[VersionReport]
    labels_skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(v.healthy for v in self.versions)

    @property
    def failures(self) -> list[str]:
        return [f"{v.name}: {r.message}" for v in self.versions for r in failed(v.rules)]

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "status": "healthy" if self.healthy else "degraded",
                "log": self.log, "window": self.window.to_json(),
                "segments": {"read": len(self.listing.segments), "skipped": self.listing.skipped,
                             "lost": self.listing.lost_segments, "gaps": self.listing.gaps,
                             "unfinished": self.listing.unfinished},
                "labels_skipped": self.labels_skipped, "failures": self.failures,
                "versions": [v.to_json() for v in self.versions]}


class _Scan:
    """One served version's accumulators during the pass."""

    def __init__(self, report: VersionReport) -> None:
        self.report = report
        self.profile: StreamProfile | None = None
        self.features: list[str] = []
        self.last_segment: str | None = None

    def add(self, segment: Segment, rows: pa.Table, labels: pa.Table | None, listing: Listing,
            counts: bool = True) -> None:
        profiled = self._profiled(rows)
        if profiled is None:
            listing.skipped.append({"segment": segment.name, "reason": "its input columns differ from earlier "
                                    f"segments of {self.report.name}"})
            return
        if counts and self.last_segment != segment.path:
            self.report.system.add_segment(segment)
            self.last_segment = segment.path
        self.report.system.add_rows(rows.column("ts"), rows.column("latency_s"))
        if self.profile is not None:
            self.profile.add(profiled)
        if labels is not None:
            _join_labels(self.report.quality, rows, labels)

    def _profiled(self, rows: pa.Table) -> pa.Table | None:
        """ROWS' inputs (named without the prefix) and prediction, in this version's first schema."""
        import pyarrow as pa

        from mlv.monitor.stream import StreamProfile

        names = [n for n in rows.column_names if n.startswith(INPUT_PREFIX)] + ["prediction"]
        table = rows.select(names).rename_columns([n.removeprefix(INPUT_PREFIX) for n in names])
        if self.profile is None:
            self.features = [n.removeprefix(INPUT_PREFIX) for n in names[:-1]]
            self.profile = StreamProfile(table.schema)
            return table
        try:
            return table.select(self.profile.schema.names).cast(self.profile.schema)
        except (KeyError, ValueError, pa.ArrowNotImplementedError):  # ArrowInvalid is a ValueError
            return None


class _Counts:
    """Segments without rows (a writer had only drops or errors to report) belong to the version
    their writer served: the one of its segments with rows, before or after them in the window."""

    def __init__(self) -> None:
        self.owners: dict[str, tuple[str, str]] = {}
        self.pending: dict[str, list[Segment]] = {}

    def carried(self, segment: Segment, scans: dict[tuple[str, str], _Scan]) -> None:
        owner = self.owners.get(segment.writer)
        if owner is None:
            self.pending.setdefault(segment.writer, []).append(segment)
        elif owner in scans:  # else a version this report does not cover
            scans[owner].report.system.add_segment(segment)

    def served(self, writer: str, owner: tuple[str, str], scans: dict[tuple[str, str], _Scan]) -> None:
        self.owners[writer] = owner
        for segment in self.pending.pop(writer, []):
            if owner in scans:
                scans[owner].report.system.add_segment(segment)

    def finish(self, scans: dict[tuple[str, str], _Scan]) -> int:
        """Give what is left to the one version there is; the count of segments left unattributed."""
        left = [segment for segments in self.pending.values() for segment in segments]
        if len(scans) == 1:
            (scan,) = scans.values()
            for segment in left:
                scan.report.system.add_segment(segment)
            return 0
        return len(left)


def _join_labels(quality: Quality, rows: pa.Table, labels: pa.Table) -> None:
    import pyarrow.compute as pc

    ids = labels.column("request_id").combine_chunks()
    where = pc.index_in(rows.column("request_id"), value_set=ids)
    matched = pc.is_valid(where)
    if not pc.any(matched).as_py():
        return
    predictions = rows.column("prediction").filter(matched).combine_chunks()
    found = labels.column("label").combine_chunks().take(where.filter(matched))
    quality.add(predictions, found)


def monitor(root: Path | None, options: MonitorOptions, policy: MonitorPolicy, thresholds: Thresholds,
            progress: Callable[[int, int], None] | None = None) -> MonitorReport:
    """The report of OPTIONS' window; PROGRESS, if given, is called with (segments read, segments)."""
    from mlv.monitor.labels import load_labels
    from mlv.monitor.logstore import open_log
    from mlv.monitor.segments import list_segments, read_segments

    store = open_log(options.log, root)
    wanted = resolve_target(root, options.target)
    listing = list_segments(store, options.window)
    labels, labels_skipped = load_labels(store)
    scans: dict[tuple[str, str], _Scan] = {}
    counts = _Counts()
    total = len(listing.segments)
    for done, (segment, table) in enumerate(read_segments(store, listing, None, options.window), 1):
        if progress is not None:
            progress(done, total)
        groups = _by_version(table)
        if not groups:
            if not segment.rows:  # it only carries its writer's counts (drops, errors)
                counts.carried(segment, scans)
            continue
        # A segment's request, error and drop counts go to the version that served most of its rows
        # (a segment holds two versions only across a --follow swap).
        owner = max(groups, key=lambda g: g[1].num_rows)[0]
        for (model, version), rows in groups:
            if wanted is not None and (model != wanted[0] or (wanted[1] is not None and version != wanted[1])):
                continue
            scan = scans.get((model, version))
            if scan is None:
                scan = scans[(model, version)] = _Scan(VersionReport(model, version))
            scan.add(segment, rows, labels, listing, counts=(model, version) == owner)
        counts.served(segment.writer, owner, scans)
    if not scans:
        raise MonitorError(_nothing_read(store, options, listing), hint=_nothing_hint(listing))
    unattributed = counts.finish(scans)
    reports = [_judge(root, scan, options, policy, thresholds, listing, store) for _, scan in sorted(scans.items())]
    if unattributed:
        for report in reports:
            report.notes.append(f"{unattributed} segment(s) without rows carry counts (errors, drops) of a writer "
                                "whose version is not known in this window; they are counted nowhere")
    return MonitorReport(store.url, options.window, listing, reports, labels_skipped)


def resolve_target(root: Path | None, target: str | None) -> tuple[str, str | None] | None:
    """(model, version or None for all) that TARGET names; None: every model of the log."""
    if target is None:
        return None
    from mlv.errors import MlvError
    from mlv.registry import names, queries, state

    if "@" not in target and "#" not in target:  # a bare NAME: every version of that model
        try:
            return names.check_name(target), None
        except MlvError as exc:
            raise MonitorError(exc.message, hint=exc.hint) from None
    ref = names.parse_reference(target, bare_means_latest=False)
    if ref is None:
        raise MonitorError(f"{target!r} is not a registry reference", hint="Write NAME#STAGE, NAME@vX.Y.Z or NAME.")
    if ref.stage is None and ref.version is None:
        return ref.model, None
    if root is None:
        raise MonitorError(f"{target} names a registry version: run mlv monitor inside the project repository")
    try:
        return ref.model, queries.resolve(state.load(root), target).version.version
    except MlvError as exc:
        raise MonitorError(exc.message, hint=exc.hint) from None


def _by_version(table: pa.Table) -> list[tuple[tuple[str, str], pa.Table]]:
    import pyarrow.compute as pc

    if not table.num_rows:
        return []
    models, versions = pc.unique(table.column("model")), pc.unique(table.column("version"))
    if len(models) == 1 and len(versions) == 1:  # the usual segment: one writer served one version
        return [((str(models[0]), str(versions[0])), table)]
    pairs = table.select(["model", "version"]).group_by(["model", "version"], use_threads=False).aggregate([])
    groups = []
    for model, version in zip(pairs.column(0).to_pylist(), pairs.column(1).to_pylist(), strict=True):
        keep = pc.and_(pc.equal(table.column("model"), model), pc.equal(table.column("version"), version))
        groups.append(((str(model), str(version)), table.filter(keep)))
    return groups


def _nothing_read(store: LogStore, options: MonitorOptions, listing: Listing) -> str:
    what = f" of {options.target}" if options.target else ""
    skipped = f" ({len(listing.skipped)} segment(s) skipped as unreadable)" if listing.skipped else ""
    return f"no logged predictions{what} in {store.url} for {options.window.describe()}{skipped}"


def _nothing_hint(listing: Listing) -> str:
    if listing.skipped:
        first = listing.skipped[0]
        return f"First skipped: {first['segment']}: {first['reason']}."
    return "Check --log and the window (--window, --since/--until); is the server logging there?"


def _judge(root: Path | None, scan: _Scan, options: MonitorOptions, policy: MonitorPolicy,
           thresholds: Thresholds, listing: Listing, store: LogStore) -> VersionReport:
    report = scan.report
    current = scan.profile.result() if scan.profile is not None else None
    baseline = None
    if root is None:
        report.notes.append("data health and the recorded metrics not checked: not in a project repository")
    else:
        from mlv.monitor.baseline import served_version

        baseline = served_version(root, report.model, report.version)
        report.commit = baseline.commit
    if current is not None and report.system.rows < policy.min_rows:
        report.notes.append(f"drift not tested: {report.system.rows} rows < min_rows {policy.min_rows} "
                            "(so few rows differ from any reference by chance)")
    elif current is not None:
        _check_data(root, report, baseline, current, scan.features, policy, thresholds)
        _check_predictions(report, current, options, policy, thresholds)
    report.rules = _rules(report, baseline, policy, listing)
    return report


def _check_data(root: Path | None, report: VersionReport, baseline: Baseline | None, current: Any,
                features: list[str], policy: MonitorPolicy, thresholds: Thresholds) -> None:
    from dataclasses import replace

    from mlv.datahealth.check import check

    if root is None or baseline is None or not policy.data_health:
        if not policy.data_health:
            report.notes.append("data health not checked: monitor.data_health is false")
        return
    from mlv.monitor.baseline import with_training_profile

    baseline = with_training_profile(root, baseline, features)
    if baseline.training is None:
        report.notes.append(f"data health not checked: {baseline.note}")
        return
    inputs = replace(current, columns=[c for c in current.columns if c.name in features])
    result = check(inputs, baseline.training, thresholds)
    # Production traffic is not the size of a training set: a row count change means nothing here.
    report.data = replace(result, issues=[i for i in result.issues if i.rule != "row_count"])
    report.data_path = baseline.data_path


def _check_predictions(report: VersionReport, current: Any, options: MonitorOptions, policy: MonitorPolicy,
                       thresholds: Thresholds) -> None:
    from dataclasses import replace

    from mlv.datahealth.check import check

    if not policy.prediction_drift:
        report.notes.append("prediction drift not checked: monitor.prediction_drift is false")
        return
    package = options.package or (Path(policy.package) if policy.package else None)
    if package is None:
        report.notes.append("prediction drift not checked: no package (--package DIR) with reference predictions")
        return
    from mlv.monitor.baseline import reference_predictions

    reference = reference_predictions(package, report.model, report.version)
    produced = replace(current, columns=[c for c in current.columns if c.name == "prediction"])
    result = check(produced, reference, thresholds)
    report.predictions = replace(result, issues=[i for i in result.issues if i.rule != "row_count"])


def _rules(report: VersionReport, baseline: Baseline | None, policy: MonitorPolicy,
           listing: Listing) -> list[RuleResult]:
    measures: dict[str, Any] = {**report.system.measures(), "lost_segments": float(listing.lost_segments),
                                "skipped_segments": float(len(listing.skipped)),
                                "unfinished_writers": float(len(listing.unfinished))}
    results = [RuleResult("min", report.system.rows >= policy.min_rows,
                          f"rows {report.system.rows} {'>=' if report.system.rows >= policy.min_rows else '<'} "
                          f"min_rows {policy.min_rows}", metric="rows", value=report.system.rows,
                          threshold=policy.min_rows)]
    kept = []
    for rule in policy.rules:
        metric = known_metric(rule.metric) if rule.metric not in measures else None
        if metric is None:
            kept.append(rule)
            continue
        value = report.quality.value(metric)
        if report.quality.rows < max(policy.min_labels, 1) or value is None:
            results.append(RuleResult("min_labels", True, f"{rule.metric}: not checked ({report.quality.rows} "
                                      f"labelled rows; needs {max(policy.min_labels, 1)})", metric=rule.metric,
                                      skipped=True))
            continue
        measures[rule.metric] = value
        kept.append(rule)
    base = None if baseline is None else baseline.metrics
    label = None if baseline is None else f"recorded {report.name}"
    results += evaluate(GatePolicy(metrics=tuple(kept)), Facts(metrics=measures, base_metrics=base, base_label=label))
    if report.data is not None:
        results.append(_check_rule("data_health", report.data, f"inputs vs {report.data_path} of {report.name}"))
    if report.predictions is not None:
        results.append(_check_rule("prediction_drift", report.predictions, "predictions vs the reference predictions"))
    return results


def _check_rule(rule: str, result: CheckResult, what: str) -> RuleResult:
    if result.ok:
        return RuleResult(rule, True, f"{rule}: pass ({what})", value="pass", threshold="pass")
    reasons = [f"drift in {', '.join(result.drifted_columns)} ({result.drift_share:.0%} of columns)"] \
        if result.dataset_drift else []
    if result.large_drift_columns and not result.dataset_drift:
        reasons.append(f"large drift in {', '.join(result.large_drift_columns)}")
    reasons += [i.message for i in result.issues if i.severity == "fail"]
    return RuleResult(rule, False, f"{rule}: fail ({what}): {'; '.join(reasons)}", value="fail", threshold="pass")
