"""`mlv monitor export`: the labelled production rows of a window as a training dataset.

The dataset has the served version's input columns and the label, named as the training data
names its target (the one column of the training data that is not an input), so the training
command reads it as it reads its own data. Beside it goes `<file>.mlv-lineage.json` (see
mlv/record/lineage.py): the log, the window, the versions whose predictions the rows are, the row
count and a hash of the segment list, so `mlv snapshot` records that the next model learned from
what production saw, and from which model's predictions.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.monitor.errors import MonitorError
from mlv.monitor.segments import INPUT_PREFIX

if TYPE_CHECKING:
    import pyarrow as pa

    from mlv.monitor.logstore import LogStore
    from mlv.monitor.window import Window

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class Exported:
    path: Path
    rows: int
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)  # "NAME@vX" -> {model, version, rows, commit}
    label_column: str = "label"
    sidecar: Path | None = None
    segments: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "rows": self.rows, "label_column": self.label_column,
                "versions": list(self.versions.values()), "lineage": str(self.sidecar) if self.sidecar else None,
                "segments": self.segments, "skipped": self.skipped}


def export(root: Path | None, store: LogStore, window: Window, target: tuple[str, str | None] | None, out: Path,
           label_column: str | None = None) -> Exported:
    import pyarrow as pa

    from mlv.monitor.labels import load_labels
    from mlv.monitor.segments import list_segments, read_segments

    kind = FORMATS.get(out.suffix.lower())
    if kind is None:
        raise MonitorError(f"{out} must end in .csv or .parquet", hint="The suffix picks the format.")
    _check_target(out)
    labels, _ = load_labels(store)
    if labels is None:
        raise MonitorError(f"the log at {store.url} has no labels", hint="Add them first: mlv monitor labels FILE.")
    listing = list_segments(store, window)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    writer = _Writer(tmp, kind)
    result = Exported(out, 0)
    segment_names = []
    try:
        for segment, table in read_segments(store, listing, None, window):
            rows = _labelled(_selected(table, target), labels)
            if rows is None:
                continue
            if result.rows == 0:
                result.label_column = label_column or _target_column(root, rows, labels)
            try:
                writer.write(_dataset(rows, result.label_column))
            except (KeyError, ValueError, pa.ArrowNotImplementedError):  # ArrowInvalid is a ValueError
                listing.skipped.append({"segment": segment.name, "reason": "its input columns differ from the "
                                        "first exported segment's"})
                continue
            segment_names.append(segment.name)
            _count(result, rows)
        writer.close()
        if not result.rows:
            raise MonitorError(f"no labelled production rows in {store.url} for {window.describe()}",
                               hint="Add labels (mlv monitor labels) or widen the window.")
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, out)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    result.segments, result.skipped = len(segment_names), listing.skipped
    result.sidecar = _write_lineage(root, store, window, result, segment_names)
    return result


def _check_target(out: Path) -> None:
    """Overwrite only an earlier export (it has a lineage sidecar): never a user's own file."""
    from mlv.record.lineage import sidecar_path

    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise MonitorError(f"{out} is not a regular file", hint="Export to a new path.")
    if out.exists() and not sidecar_path(out).is_file():
        raise MonitorError(f"{out} exists and is not an earlier export (no {sidecar_path(out).name} beside it)",
                           hint="Export to a new path, or remove that file first.")


def _selected(table: pa.Table, target: tuple[str, str | None] | None) -> pa.Table:
    import pyarrow.compute as pc

    if target is None:
        return table
    keep = pc.equal(table.column("model"), target[0])
    if target[1] is not None:
        keep = pc.and_(keep, pc.equal(table.column("version"), target[1]))
    return table.filter(keep)


def _labelled(rows: pa.Table, labels: pa.Table) -> pa.Table | None:
    import pyarrow.compute as pc

    if not rows.num_rows:
        return None
    where = pc.index_in(rows.column("request_id"), value_set=labels.column("request_id").combine_chunks())
    matched = pc.is_valid(where)
    if not pc.any(matched).as_py():
        return None
    kept = rows.filter(matched)
    return kept.append_column("label", labels.column("label").combine_chunks().take(where.filter(matched)))


def _dataset(rows: pa.Table, label_column: str) -> pa.Table:
    names = [n for n in rows.column_names if n.startswith(INPUT_PREFIX)]
    table = rows.select([*names, "label"])
    return table.rename_columns([n.removeprefix(INPUT_PREFIX) for n in names] + [label_column])


def _count(result: Exported, rows: pa.Table) -> None:
    counts = rows.select(["model", "version"]).group_by(["model", "version"], use_threads=False).aggregate(
        [("model", "count")])
    for model, version, n in zip(counts.column("model").to_pylist(), counts.column("version").to_pylist(),
                                 counts.column("model_count").to_pylist(), strict=True):
        entry = result.versions.setdefault(f"{model}@{version}", {"model": model, "version": version, "rows": 0})
        entry["rows"] += int(n)
    result.rows += rows.num_rows


def _target_column(root: Path | None, rows: pa.Table, labels: pa.Table) -> str:
    """The training data's name for the label: its one column that is not an input; else "label"."""
    if root is None:
        return "label"
    from mlv.errors import MlvError
    from mlv.monitor.baseline import served_version, training_columns

    model, version = str(rows.column("model")[0]), str(rows.column("version")[0])
    features = [n.removeprefix(INPUT_PREFIX) for n in rows.column_names if n.startswith(INPUT_PREFIX)]
    try:
        columns = training_columns(root, served_version(root, model, version), features)
    except MlvError:
        return "label"
    rest = [c for c in columns if c not in features]
    return rest[0] if len(rest) == 1 else "label"


class _Writer:
    """Batches appended to a CSV or Parquet file, in bounded memory."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._writer: Any = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.kind == "csv":
                import pyarrow.csv as pacsv

                self._writer = pacsv.CSVWriter(str(self.path), table.schema)
            else:
                import pyarrow.parquet as pq

                self._writer = pq.ParquetWriter(str(self.path), table.schema)
            self.schema = table.schema
        self._writer.write_table(table.cast(self.schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _write_lineage(root: Path | None, store: LogStore, window: Window, result: Exported,
                   segment_names: list[str]) -> Path:
    from mlv.record.lineage import sidecar_doc, sidecar_path

    if root is not None:
        from mlv.monitor.baseline import served_version

        for entry in result.versions.values():
            try:
                entry["commit"] = served_version(root, entry["model"], entry["version"]).commit
            except MonitorError:
                entry["commit"] = None
    digest = hashlib.sha256("\n".join(sorted(segment_names)).encode()).hexdigest()
    source = {"kind": "prediction-log", "log": store.url, "window": window.to_json(),
              "models": list(result.versions.values()), "rows": result.rows, "segments": len(segment_names),
              "segments_sha256": digest, "exported": datetime.now(UTC).isoformat(timespec="seconds")}
    sidecar = sidecar_path(result.path)
    tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(sidecar_doc(_md5(result.path), source), indent=1) + "\n", "utf-8")
    os.replace(tmp, sidecar)
    return sidecar


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
