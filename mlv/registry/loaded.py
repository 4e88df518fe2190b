"""`load_package`: a package verified, then its model loaded, for `mlv serve` and `mlv monitor`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv.registry import package
from mlv.registry.servable import (
    REFERENCE_FILE,
    SCHEMA_FILE,
    InputSchema,
    PackageError,
    load_model,
    model_file,
    parse_schema,
)


@dataclass
class LoadedModel:
    """A verified package, loaded: what `mlv serve` predicts with and `mlv monitor` compares to."""

    folder: Path
    model: str  # the registry name
    version: str  # vX.Y.Z
    commit: str
    schema: InputSchema
    predictor: Any  # the unpickled model: has .predict
    record: dict[str, Any] | None  # the experiment record (metrics, data md5s), when packaged
    info: dict[str, Any] = field(default_factory=dict)  # mlv-package.json

    @property
    def reference_predictions(self) -> Path | None:
        path = self.folder / REFERENCE_FILE
        return path if path.is_file() else None


def check_package(folder: Path) -> tuple[dict[str, Any], InputSchema, Path]:
    """The package in FOLDER verified (refused with its problems when it does not), with what serving
    needs: its mlv-package.json, its input schema and its model file. Nothing is unpickled."""
    if not folder.is_dir():
        raise PackageError(f"{folder} is not a folder", hint="Give a folder made by `mlv model package`.")
    problems = package.verify(folder)
    if problems:
        raise PackageError(f"{folder} does not verify: " + "; ".join(problems[:5])
                           + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                           hint="Package the version again with `mlv model package`; never serve a changed package.")
    info = _json(folder / package.INFO)
    schema_path = folder / SCHEMA_FILE
    if not schema_path.is_file():
        raise PackageError(f"{folder} has no {SCHEMA_FILE}: it was packaged without a servable model",
                           hint="Package it again with this mlv (`mlv model package --reference PATH` names the rows).")
    schema = parse_schema(schema_path.read_bytes(), str(schema_path))
    artifact = info.get("artifact")
    rel = artifact.get("path") if isinstance(artifact, dict) else None
    path = model_file(folder / rel) if isinstance(rel, str) and rel else None
    if path is None:
        raise PackageError(f"{folder}: {package.INFO} names no model file")
    return info, schema, path


def load_package(folder: Path) -> LoadedModel:
    """The package in FOLDER, verified first (`check_package`), then its model loaded."""
    info, schema, path = check_package(folder)
    try:
        record: dict[str, Any] | None = _json(folder / "record.json")
    except PackageError:
        record = None  # packaged from a commit without a record (`null`)
    return LoadedModel(folder, str(info.get("model", "")), str(info.get("version", "")), str(info.get("commit", "")),
                       schema, load_model(path), record, info)


def _json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PackageError(f"{path} is not readable JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise PackageError(f"{path} is not a JSON object")
    return doc
