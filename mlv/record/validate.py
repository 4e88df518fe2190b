"""Check a record's JSON against mlv/schemas/experiment.schema.json before anything uses it.

A small validator for the keywords that schema uses to say what a value is: `type`, `required`,
`properties`, `additionalProperties`, `items`, `oneOf`, `minimum` and local `$ref`s. Descriptive
keywords (`pattern`, `format`) are not checked here: the values that matter for safety (paths,
md5s) get their own stricter checks when the record is built (mlv/record/record.py).
Why not the `jsonschema` package: importing it costs about 100 ms, which every `mlv log` would
pay, and this schema needs none of its generality.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "experiment.schema.json"

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,), "null": (type(None),),
    "integer": (int,), "number": (int, float),
}


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")


class SchemaViolationError(ValueError):
    """The first place where a document does not match the schema, as `where: what`."""


@functools.cache
def experiment_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text("utf-8"))
    return schema


def check(doc: Any, schema: dict[str, Any] | None = None) -> None:
    """Raise SchemaViolationError unless DOC matches SCHEMA (default: the experiment schema)."""
    root = schema if schema is not None else experiment_schema()
    _check(doc, root, root, "")


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str) -> None:
    if "$ref" in schema:
        _check(value, _resolve(root, schema["$ref"]), root, where)
        return
    if "type" in schema:
        _check_type(value, schema["type"], where)
    if "oneOf" in schema:
        _check_one_of(value, schema["oneOf"], root, where)
    if "minimum" in schema and _is_number(value) and value < schema["minimum"]:
        raise SchemaViolationError(f"{_name(where)}: {value} is less than {schema['minimum']}")
    if isinstance(value, dict):
        _check_object(value, schema, root, where)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(item, schema["items"], root, f"{where}[{index}]")


def _check_type(value: Any, expected: str | list[str], where: str) -> None:
    names = [expected] if isinstance(expected, str) else expected
    for name in names:
        # JSON has no booleans among its numbers: True is not an integer here, as in the spec.
        if isinstance(value, _TYPES[name]) and not (isinstance(value, bool) and name in ("integer", "number")):
            return
    raise SchemaViolationError(f"{_name(where)}: expected {' or '.join(names)}, got {_json_type(value)}")


def _check_one_of(value: Any, options: list[dict[str, Any]], root: dict[str, Any], where: str) -> None:
    matched = 0
    for option in options:
        try:
            _check(value, option, root, where)
        except SchemaViolationError:
            continue
        matched += 1
    if matched != 1:
        raise SchemaViolationError(f"{_name(where)}: {_json_type(value)} does not match exactly one allowed form")


def _check_object(value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], where: str) -> None:
    for key in schema.get("required", []):
        if key not in value:
            raise SchemaViolationError(f"{_name(_join(where, key))}: missing")
    properties: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], root, _join(where, key))
        elif extra is False:
            raise SchemaViolationError(f"{_name(_join(where, key))}: not a field of the record")
        elif isinstance(extra, dict):
            _check(item, extra, root, _join(where, key))


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = root
    for part in ref.removeprefix("#/").split("/") if ref != "#" else []:
        node = node[part]
    resolved: dict[str, Any] = node
    return resolved


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if isinstance(value, _TYPES[name]) and not (isinstance(value, bool) and name in ("integer", "number")):
            return name
    return type(value).__name__


def _join(where: str, key: str) -> str:
    # Keys come from the record: a long or odd one is quoted and cut, so the error stays one short line.
    shown = key if _PLAIN_KEY.fullmatch(key) else repr(key[:40]) + ("..." if len(key) > 40 else "")
    return f"{where}.{shown}" if where else shown


def _name(where: str) -> str:
    return where or "the record"
