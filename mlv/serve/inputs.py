"""A request body, checked against the package's input schema and turned into columns.

Three body shapes are accepted, so clients of `mlflow models serve` switch unchanged:

```text
{"rows": [{"x1": 0.5, ...}, ...]}
{"dataframe_records": [{"x1": 0.5, ...}, ...]}
{"dataframe_split": {"columns": ["x1", ...], "data": [[0.5, ...], ...]}}
```

Every problem is a `BadInput` whose message names the field (`rows[3].x2: ...`): the server turns it
into a 4xx with a one-line JSON error. Nothing here raises anything else for any JSON value.
"""

from __future__ import annotations

import json
import math
from typing import Any

from mlv.registry.servable import InputSchema

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
MAX_ROWS = 10_000


class BadInput(Exception):  # noqa: N818 - reads naturally: `raise BadInput(400, ...)`
    """A request the server refuses; STATUS is the 4xx it answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadInput(400, f"the body is not JSON: {str(exc)[:120]}") from None


def columns_of(doc: Any, schema: InputSchema) -> dict[str, list[Any]]:
    """The rows of DOC as one list per feature, each value checked against the schema."""
    if not isinstance(doc, dict):
        raise BadInput(400, 'the body must be a JSON object: {"rows": [{...}, ...]}')
    if "rows" in doc:
        return _records(doc["rows"], "rows", schema)
    if "dataframe_records" in doc:
        return _records(doc["dataframe_records"], "dataframe_records", schema)
    if "dataframe_split" in doc:
        return _split(doc["dataframe_split"], schema)
    raise BadInput(400, 'the body has no "rows" (or MLflow\'s "dataframe_records"/"dataframe_split")')


def _records(rows: Any, key: str, schema: InputSchema) -> dict[str, list[Any]]:
    _check_count(rows, key)
    names = schema.names
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadInput(400, f"{key}[{i}] must be an object of feature: value")
        if len(row) != len(names) or any(name not in row for name in names):
            _row_keys(row, names, f"{key}[{i}]", schema)
        for feature in schema.features:
            columns[feature.name].append(_value(row.get(feature.name), feature.type, feature.nullable,
                                                f"{key}[{i}].{feature.name}"))
    return columns


def _row_keys(row: dict[str, Any], names: list[str], where: str, schema: InputSchema) -> None:
    """Refuse a row whose keys are not the features (a missing one unless nullable; an unknown one)."""
    unknown = [k for k in row if k not in names]
    if unknown:
        raise BadInput(422, f"{where}.{str(unknown[0])[:80]}: not a feature of this model "
                            f"(features: {', '.join(names)})")
    for feature in schema.features:
        if feature.name not in row and not feature.nullable:
            raise BadInput(422, f"{where}.{feature.name}: missing (the model needs it)")


def _split(split: Any, schema: InputSchema) -> dict[str, list[Any]]:
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
        raise BadInput(400, 'dataframe_split must be {"columns": [...], "data": [[...], ...]}')
    given = split["columns"]
    names = schema.names
    for name in given:
        if not isinstance(name, str) or name not in names:
            raise BadInput(422, f"dataframe_split.columns: {str(name)[:80]!r} is not a feature of this model")
    if len(set(given)) != len(given):
        raise BadInput(422, "dataframe_split.columns: a column is named twice")
    data = split.get("data")
    _check_count(data, "dataframe_split.data")
    assert isinstance(data, list)  # noqa: S101 - checked just above
    where = {name: given.index(name) for name in names if name in given}
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for feature in schema.features:
        if feature.name not in where and not feature.nullable:
            raise BadInput(422, f"dataframe_split.columns.{feature.name}: missing (the model needs it)")
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(given):
            raise BadInput(400, f"dataframe_split.data[{i}] must be a list of {len(given)} values")
        for feature in schema.features:
            at = where.get(feature.name)
            columns[feature.name].append(_value(None if at is None else row[at], feature.type, feature.nullable,
                                                f"dataframe_split.data[{i}].{feature.name}"))
    return columns


def _check_count(rows: Any, key: str) -> None:
    if not isinstance(rows, list):
        raise BadInput(400, f"{key} must be a list")
    if not rows:
        raise BadInput(422, f"{key} is empty: send at least one row")
    if len(rows) > MAX_ROWS:
        raise BadInput(413, f"{key} has {len(rows)} rows; at most {MAX_ROWS} a request")


def _value(value: Any, kind: str, nullable: bool, where: str) -> Any:  # noqa: PLR0911 - one return per accepted form
    """VALUE checked as a KIND; None stands for a missing value (NaN counts as missing)."""
    if kind == "float64":
        if type(value) is float:
            if math.isfinite(value):
                return value
            if math.isnan(value):
                return _missing(nullable, where, "NaN")
            raise BadInput(422, f"{where}: {value} is not a finite number")
        if type(value) is int:
            if INT64_MIN <= value <= INT64_MAX:
                return float(value)
            raise BadInput(422, f"{where}: {str(value)[:40]} is out of range")
    elif kind == "int64":
        if type(value) is int:
            if INT64_MIN <= value <= INT64_MAX:
                return value
            raise BadInput(422, f"{where}: {str(value)[:40]} is out of the int64 range")
        if type(value) is float and math.isnan(value):
            return _missing(nullable, where, "NaN")
    elif (kind == "string" and type(value) is str) or (kind == "bool" and type(value) is bool):
        return value
    if value is None:
        return _missing(nullable, where, "null")
    raise BadInput(422, f"{where}: expected {_WORDS[kind]}, got {_json_kind(value)}")


def _missing(nullable: bool, where: str, what: str) -> None:
    if not nullable:
        raise BadInput(422, f"{where}: {what} where the model needs a value (the feature is not nullable)")


_WORDS = {"float64": "a number", "int64": "an integer", "string": "a string", "bool": "true or false"}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {str(value)[:40]}"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
