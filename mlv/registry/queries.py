"""The registry's reads: list, show, history, and registry names as revisions. Each starts from one
`git for-each-ref` over the tags; only `show` reads more (the experiment commit and its lockfile)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.errors import MlvError
from mlv.record.record import flatten
from mlv.registry import metadata, names, state
from mlv.registry.names import RegistryError


def _version_json(version: state.Version) -> dict[str, Any]:
    return {"version": version.version, "commit": version.commit, "tag": version.tag, "time": version.time,
            "registered": version.registered, "stages": version.active_stages,
            "has_metadata": version.meta is not None,
            "metrics": flatten(metadata.dict_field(version.meta, "metrics"), single_root=True),
            "artifact": metadata.dict_field(version.meta, "artifact") or None}


def list_models(root: Path) -> list[dict[str, Any]]:
    """Every model: latest version, the version in each stage, the latest version's key metrics."""
    rows = []
    for name, model in sorted(state.load(root).items()):
        latest = model.latest()
        rows.append({
            "model": name, "deprecated": model.deprecated,
            "latest": latest.version if latest else None,
            "stages": {stage: v.version for stage, v in model.stages().items()},
            "metrics": flatten(metadata.dict_field(latest.meta if latest else None, "metrics"), single_root=True),
            "has_metadata": bool(latest and latest.meta is not None),
            "versions": len([v for v in model.versions.values() if names.VERSION_RE.match(v.version)]),
        })
    return rows


@dataclass
class Resolved:
    model: state.Model
    version: state.Version


def resolve(models: dict[str, state.Model], text: str) -> Resolved:
    """`NAME`, `NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE` to a version, or a RegistryError."""
    ref = names.parse_reference(text)
    if ref is None:
        raise RegistryError(f"{text!r} is not a registry reference",
                            hint="Write NAME, NAME@v1.2.3, NAME@latest or NAME#STAGE.")
    model = models.get(ref.model)
    if model is None:
        raise RegistryError(f"unknown model {ref.model!r}", hint="`mlv model list` lists the models.")
    if ref.stage is not None:
        found = model.stages().get(ref.stage)
        if found is None:
            raise RegistryError(f"{ref.model} has no version in stage {ref.stage}",
                                hint=f"`mlv model show {ref.model}` lists its stages.")
        return Resolved(model, found)
    if ref.version == "latest":
        latest = model.latest()
        if latest is None:
            raise RegistryError(f"{ref.model} has no registered version")
        return Resolved(model, latest)
    found = model.versions.get(ref.version or "")
    if found is None:
        raise RegistryError(f"{ref.model} has no version {ref.version}",
                            hint=f"`mlv model show {ref.model}` lists its versions.")
    return Resolved(model, found)


def resolve_registry_rev(root: Path, text: str) -> str | None:
    """The commit a registry reference names (`NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE`), or None
    when TEXT is not one or names no model, so callers fall back to git's own revisions.

    Raises RegistryError when TEXT names a model of the registry but a version or stage it lacks.
    A bare NAME is not taken (it is more likely a branch).
    """
    ref = names.parse_reference(text, bare_means_latest=False)
    if ref is None:
        return None
    models = state.load(root)
    if ref.model not in models:
        return None
    return resolve(models, text).version.commit


def show(root: Path, text: str) -> dict[str, Any]:
    """One version with its lineage (experiment, data, params, metrics, lockfile, verdicts)."""
    from mlv.record import history  # here, not above: `list` and `history` need neither
    from mlv.registry import lineage

    found = resolve(state.load(root), text)
    model, version = found.model, found.version
    doc: dict[str, Any] = {"model": model.name, "deprecated": model.deprecated, **_version_json(version),
                           "message": version.message, "metadata": version.meta,
                           "versions": [_version_json(v) for v in sorted(
                               model.versions.values(), key=lambda v: names.semver_key(v.version), reverse=True)],
                           "stages_now": {s: v.version for s, v in model.stages().items()}}
    try:
        exp = history.show_experiment(root, version.commit)
    except MlvError as exc:
        doc["experiment"] = None
        doc["experiment_error"] = exc.message
    else:
        env = exp.record.environment
        doc["experiment"] = {
            "commit": exp.commit, "message": exp.message, "command": exp.record.command,
            "created": exp.record.created, "data": [p.to_json() for p in exp.record.data],
            "outputs": [p.to_json() for p in exp.record.outputs],
            "params": exp.record.params, "metrics": exp.record.metrics,
            "lockfile": {"path": env.lockfile, "sha256": env.lockfile_sha256, "packages": len(exp.packages or {})},
        }
    doc["reproduce_verdicts"] = lineage.reproduce_verdicts(root, version.commit)
    return doc


def model_history(root: Path, name: str) -> list[dict[str, Any]]:
    """Every event of model NAME, oldest first."""
    names.check_name(name)
    models = state.load(root)
    if name not in models:
        raise RegistryError(f"unknown model {name!r}", hint="`mlv model list` lists the models.")
    return [e.to_json() for e in models[name].events]
