"""What a package holds for serving and monitoring, and loading a package to serve it.

`mlv model package` adds two files when the artifact loads as a model with a `predict` method:

```text
input-schema.json               {"format": 1, "features": [{"name", "type", "nullable"}]}
reference-predictions.parquet   one column `prediction`: the model on the reference rows
```

Where they come from (docs/reference/serve.md):
- the feature **names** are the model's own `feature_names_in_` (scikit-learn fitted on a table);
  without them, the first `n_features_in_` columns of the experiment's recorded dataset (the
  target is conventionally the last column); the **types** and **nullable** come from that dataset's
  columns (nullable when the recorded data has a missing value in that column);
- the **reference rows** are the recorded dataset's first rows (at most REFERENCE_ROWS), or the
  table given with `--reference` (held-out rows, for example).

Loading the artifact runs the code a pickle carries (docs/security.md): packaging and serving do it
only for a version the user names, and serving only after the package verifies (`loaded.py`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.errors import MlvError

if TYPE_CHECKING:
    import pyarrow as pa

SCHEMA_FILE = "input-schema.json"
REFERENCE_FILE = "reference-predictions.parquet"
SCHEMA_FORMAT = 1
TYPES = ("float64", "int64", "string", "bool")
REFERENCE_ROWS = 10_000
MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")
_MAX_SCHEMA_BYTES = 1 << 20
_MAX_FEATURES = 10_000
_TABULAR = (".csv", ".parquet", ".pq")


class PackageError(MlvError):
    """A package cannot be served: it fails verification, or lacks what serving needs."""


@dataclass(frozen=True)
class Feature:
    name: str
    type: str  # one of TYPES
    nullable: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "nullable": self.nullable}


@dataclass(frozen=True)
class InputSchema:
    features: tuple[Feature, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> dict[str, Any]:
        return {"format": SCHEMA_FORMAT, "features": [f.to_json() for f in self.features]}


def parse_schema(data: bytes, where: str) -> InputSchema:
    """An input schema from untrusted bytes, checked field by field."""
    if len(data) > _MAX_SCHEMA_BYTES:
        raise PackageError(f"{where} is larger than {_MAX_SCHEMA_BYTES >> 20} MiB: not an input schema")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise PackageError(f"{where} is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != SCHEMA_FORMAT or not isinstance(doc.get("features"), list):
        raise PackageError(f"{where} is not an input schema of format {SCHEMA_FORMAT}")
    features: list[Feature] = []
    for item in doc["features"][:_MAX_FEATURES + 1]:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str) and item.get("type") in TYPES
                and isinstance(item.get("nullable"), bool)) or not item["name"]:
            raise PackageError(f"{where} has a feature that is not {{name, type, nullable}}: {str(item)[:80]}")
        features.append(Feature(item["name"], item["type"], item["nullable"]))
    if not features or len(features) > _MAX_FEATURES or len({f.name for f in features}) != len(features):
        raise PackageError(f"{where} must list between 1 and {_MAX_FEATURES} features, each name once")
    return InputSchema(tuple(features))


# -- at package time -----------------------------------------------------------------------------


def model_file(artifact: Path) -> Path | None:
    """The model file of an artifact: the file itself, or the one model file in the folder."""
    if artifact.is_file():
        return artifact
    found = sorted(p for p in artifact.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES)
    return found[0] if len(found) == 1 else None


def load_model(path: Path) -> Any:
    """Unpickle PATH (a pickle is code: only for a version the user named)."""
    try:
        import joblib

        return joblib.load(path)
    except ImportError:
        import pickle

        with path.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - the artifact of the version the user named


def write_serving_files(root: Path, record: dict[str, Any] | None, folder: Path, artifact: Path,
                        reference: Path | None) -> list[str]:
    """Write input-schema.json and reference-predictions.parquet into FOLDER when the artifact is a
    model mlv can serve; the notes say what was left out and why."""
    path = model_file(artifact)
    if path is None:
        return ["not servable: the artifact is not one model file (.joblib, .pkl, .pickle)"]
    try:
        predictor = load_model(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not servable", said once
        return [f"not servable: {path.name} does not load ({exc.__class__.__name__}: {str(exc)[:120]})"]
    if not callable(getattr(predictor, "predict", None)):
        return [f"not servable: {path.name} holds a {type(predictor).__name__}, which has no predict()"]
    try:
        import pyarrow  # noqa: F401 - the dataset and the reference file need it
    except ImportError:
        return ["not servable: reading the dataset needs pyarrow: pip install 'mlv-vcs[serve]'"]
    table = _reference_table(root, record, reference)
    if table is None:
        return ["not servable: no tabular dataset is recorded for this version; give one with --reference"]
    schema = infer_schema(predictor, table)
    (folder / SCHEMA_FILE).write_text(json.dumps(schema.to_json(), indent=2) + "\n", "utf-8")
    _write_reference(predictor, schema, table, folder / REFERENCE_FILE)
    return []


def _reference_table(root: Path, record: dict[str, Any] | None, reference: Path | None) -> pa.Table | None:
    if reference is not None:
        return _read_table(reference, reference.name)
    from mlv.adapters import dvc

    cache = dvc.cache_dir(root)
    tabular = _tabular_objects(cache, (record or {}).get("data") or [])
    if len(tabular) != 1 or not dvc.has_object(cache, tabular[0][1]):
        return None
    return _read_table(dvc.object_path(cache, tabular[0][1]), tabular[0][0])


def _tabular_objects(cache: Path, data: list[Any]) -> list[tuple[str, str]]:
    """The recorded data's CSV and Parquet files as (path, md5), looking inside recorded folders."""
    from mlv.adapters import dvc

    found = []
    for item in data:
        if not (isinstance(item, dict) and isinstance(item.get("path"), str) and dvc.is_object_hash(item.get("md5"))):
            continue
        if not item["md5"].endswith(".dir"):
            found.append((item["path"], item["md5"]))
            continue
        for entry in dvc.load_manifest(cache, item["md5"]) or []:
            found.append((f"{item['path']}/{entry.relpath}", entry.md5))
    return [(path, md5) for path, md5 in found if path.endswith(_TABULAR)]


def _read_table(path: Path, name: str) -> pa.Table:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if name.endswith((".parquet", ".pq")):
            file = pq.ParquetFile(path)
            return file.read_row_group(0).slice(0, REFERENCE_ROWS) if file.num_row_groups else file.read()
        with pacsv.open_csv(path) as reader:
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows >= REFERENCE_ROWS:
                    break
        import pyarrow as pa

        return pa.Table.from_batches(batches, reader.schema).slice(0, REFERENCE_ROWS)
    except (OSError, ValueError) as exc:
        raise PackageError(f"{name}: cannot read the reference rows ({str(exc).splitlines()[0][:160]})") from None


def _arrow_type_name(arrow_type: pa.DataType) -> str:
    import pyarrow.types as pat

    if pat.is_boolean(arrow_type):
        return "bool"
    if pat.is_integer(arrow_type):
        return "int64"
    if pat.is_floating(arrow_type) or pat.is_decimal(arrow_type):
        return "float64"
    return "string"


def infer_schema(predictor: Any, table: pa.Table) -> InputSchema:
    names = getattr(predictor, "feature_names_in_", None)
    if names is not None:
        wanted = [str(n) for n in names]
    else:
        count = getattr(predictor, "n_features_in_", None)
        columns = table.column_names
        wanted = columns[:int(count)] if isinstance(count, int) and 0 < count <= len(columns) else columns[:-1]
    missing = [n for n in wanted if n not in table.column_names]
    if missing or not wanted:
        raise PackageError(f"the model's features {missing or wanted} are not columns of the reference rows",
                           hint="Give a table with those columns: --reference PATH.")
    return InputSchema(tuple(Feature(name, _arrow_type_name(table.schema.field(name).type),
                                     table.column(name).null_count > 0 or _has_nan(table.column(name)))
                             for name in wanted))


def _has_nan(column: Any) -> bool:
    import pyarrow.compute as pc
    import pyarrow.types as pat

    return bool(pat.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py())


def _write_reference(predictor: Any, schema: InputSchema, table: pa.Table, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    matrix = features_matrix(predictor, schema, {n: table.column(n).to_pylist() for n in schema.names})
    predictions = [prediction_value(p) for p in predictor.predict(matrix)]
    kind = pa.string() if any(isinstance(p, str) for p in predictions) else pa.float64()
    pq.write_table(pa.table({"prediction": pa.array(predictions, kind)}), path)


# -- shared by package time and the server -------------------------------------------------------


def features_matrix(predictor: Any, schema: InputSchema, columns: dict[str, list[Any]]) -> Any:
    """What PREDICTOR.predict takes for COLUMNS: a pandas table when the model was fitted on one
    (it checks the names), else a numpy matrix: float64 when every feature is a number."""
    import numpy as np

    if getattr(predictor, "feature_names_in_", None) is not None:
        try:
            import pandas as pd

            return pd.DataFrame({n: columns[n] for n in schema.names})
        except ImportError:
            pass
    numeric = all(f.type in ("float64", "int64", "bool") for f in schema.features)
    rows = list(zip(*(columns[n] for n in schema.names), strict=True))
    if numeric:
        return np.array([[math.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
    return np.array(rows, dtype=object)


def prediction_value(value: Any) -> float | str:
    """One prediction as the log stores it: a float, or a string label."""
    if isinstance(value, str):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
