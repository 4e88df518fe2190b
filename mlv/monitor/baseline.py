"""What a served version is judged against, all read from its lineage: the registry version's
experiment record (metrics, data), the stored profile of its training data, and the reference
predictions of its package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.errors import MlvError
from mlv.monitor.errors import MonitorError

if TYPE_CHECKING:
    from mlv.datahealth.model import Profile

REFERENCE_PREDICTIONS = "reference-predictions.parquet"
PACKAGE_INFO = "mlv-package.json"


@dataclass
class Baseline:
    model: str
    version: str
    commit: str
    metrics: dict[str, Any]  # flat, from the experiment record
    data_path: str | None = None
    training: Profile | None = None  # of the training data, its input features only
    note: str = ""  # why there is no training profile


def served_version(root: Path, model: str, version: str) -> Baseline:
    """The lineage of MODEL@VERSION, which must be registered (the log's claim is checked)."""
    from mlv.record import history
    from mlv.record.record import flatten
    from mlv.registry import queries, state

    try:
        found = queries.resolve(state.load(root), f"{model}@{version}")
        record = history.show_experiment(root, found.version.commit).record
    except MlvError as exc:
        raise MonitorError(f"the log holds predictions of {model}@{version}, but {exc.message.rstrip('.')}",
                           hint="Monitor in the project whose registry holds the served model.") from None
    return Baseline(model, version, found.version.commit, flatten(record.metrics, single_root=True))


def with_training_profile(root: Path, baseline: Baseline, features: list[str]) -> Baseline:
    """BASELINE with the stored profile of the training data path holding FEATURES (the one that
    holds most of them), restricted to those columns. No tabular data: a note says so."""
    from mlv.datahealth import history

    revision = history.resolve(root, f"{baseline.model}@{baseline.version}")
    best: tuple[int, str, Profile] | None = None
    for pointer in revision.data:
        try:
            side = history.profile_at(root, revision, pointer.path)
        except MlvError:
            continue  # not tabular
        overlap = sum(1 for f in features if side.profile.column(f) is not None)
        if overlap and (best is None or overlap > best[0]):
            best = (overlap, pointer.path, side.profile)
    if best is None:
        return replace(baseline, note="no tabular training data with the logged input columns")
    profile = best[2]
    columns = [c for c in profile.columns if c.name in features]
    return replace(baseline, data_path=best[1], training=replace(profile, columns=columns))


def training_columns(root: Path, baseline: Baseline, features: list[str]) -> list[str]:
    """Every column of the training data path that holds FEATURES (the inputs and the target)."""
    from mlv.datahealth import history

    revision = history.resolve(root, f"{baseline.model}@{baseline.version}")
    for pointer in revision.data:
        try:
            profile = history.profile_at(root, revision, pointer.path).profile
        except MlvError:
            continue
        if all(profile.column(f) is not None for f in features):
            return [c.name for c in profile.columns]
    return []


def reference_predictions(package: Path, model: str, version: str) -> Profile:
    """The profile of the package's reference predictions; the package must verify and be of
    MODEL@VERSION (its own files say which)."""
    from mlv.registry.package import verify

    problems = verify(package)
    if problems:
        raise MonitorError(f"the package {package} does not verify: {problems[0]}",
                           hint="Package the served version again with `mlv model package`.")
    try:
        info = json.loads((package / PACKAGE_INFO).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise MonitorError(f"{package / PACKAGE_INFO} cannot be read: {exc}") from None
    if not isinstance(info, dict) or (info.get("model"), info.get("version")) != (model, version):
        shown = f"{info.get('model')}@{info.get('version')}" if isinstance(info, dict) else "unknown"
        raise MonitorError(f"the package {package} is {shown}, not {model}@{version}",
                           hint="Pass the package of the version that served the predictions.")
    path = package / REFERENCE_PREDICTIONS
    if not path.is_file():
        raise MonitorError(f"the package {package} has no {REFERENCE_PREDICTIONS}",
                           hint="Package it again with an mlv that records reference predictions.")
    import pyarrow.parquet as pq

    from mlv.datahealth.profiler import profile_table

    try:
        table = pq.read_table(path, columns=["prediction"])
    except Exception as exc:  # noqa: BLE001 - a damaged file of any kind: one line
        raise MonitorError(f"{path} cannot be read: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    return profile_table(table)
