"""The registry's reads: list, show, history, and registry names as revisions. Each starts from one
`git for-each-ref` over the tags; only `show` reads more (the experiment commit and its lockfile)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.errors import MlvError
from mlv.record.record import flatten
from mlv.registry import metadata, names, state, trust
from mlv.registry.names import RegistryError

if TYPE_CHECKING:
    from mlv.record.history import Experiment


def _version_json(version: state.Version) -> dict[str, Any]:
    return {"version": version.version, "commit": version.commit, "tag": version.tag, "time": version.time,
            "registered": version.registered, "stages": version.active_stages,
            "has_metadata": version.meta is not None,
            "metrics": flatten(metadata.dict_field(version.meta, "metrics"), single_root=True),
            "artifact": metadata.dict_field(version.meta, "artifact") or None}


def list_models(root: Path) -> list[dict[str, Any]]:
    """Every model: latest version, the version in each stage, the latest version's key metrics
    (from its record), and the standing of each version shown (`invalid`, `untrusted`)."""
    policy = trust.allowed_signers(root)
    models = sorted(state.load(root).items())
    shown = [v for _, m in models for v in [m.latest(), *m.stages().values()] if v is not None]
    records = trust.experiments_of(root, [v.commit for v in shown])
    rows = []
    for name, model in models:
        latest = model.latest()
        stages = model.stages()
        exp = records.get(latest.commit) if latest else None
        standings = {}
        if latest is not None:
            standings[latest.version] = trust.standing(root, latest, exp, policy=policy).to_json()
        for stage, version in stages.items():
            found = trust.standing(root, version, records.get(version.commit), trust.stage_event(version, stage),
                                   policy)
            if found.status != trust.VALID or version.version not in standings:
                standings[version.version] = found.to_json()
        rows.append({
            "model": name, "deprecated": model.deprecated,
            "latest": latest.version if latest else None,
            "stages": {stage: v.version for stage, v in stages.items()},
            "metrics": flatten(exp.record.metrics, single_root=True) if exp else {},
            "has_metadata": bool(latest and latest.meta is not None),
            "versions": len([v for v in model.versions.values() if names.VERSION_RE.match(v.version)]),
            "standing": standings,
        })
    return rows


@dataclass
class Resolved:
    model: state.Model
    version: state.Version
    stage: str | None = None  # set when the reference named a stage (NAME#STAGE)


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
        return Resolved(model, found, ref.stage)
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


def resolve_trusted(root: Path, text: str, what: str) -> tuple[Resolved, Experiment | None]:
    """TEXT resolved, and checked before the caller acts on it (WHAT it does, for the message):
    its tags against its record, and against the signing policy. UntrustedVersionError else."""
    found = resolve(state.load(root), text)
    exp = trust.require(root, found.model, found.version, what, trust.stage_event(found.version, found.stage))
    return found, exp


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
    exp: Experiment | None = None
    try:
        exp = history.show_experiment(root, version.commit)
    except MlvError as exc:
        doc["experiment"] = None
        doc["experiment_error"] = exc.message
    else:
        env = exp.record.environment
        doc["metrics"] = flatten(exp.record.metrics, single_root=True)  # the record's, never the tag's
        doc["experiment"] = {
            "commit": exp.commit, "message": exp.message, "command": exp.record.command,
            "created": exp.record.created, "data": [p.to_json() for p in exp.record.data],
            "outputs": [p.to_json() for p in exp.record.outputs],
            "params": exp.record.params, "metrics": exp.record.metrics,
            "lockfile": {"path": env.lockfile, "sha256": env.lockfile_sha256, "packages": len(exp.packages or {})},
        }
    doc["standing"] = trust.standing(root, version, exp, trust.stage_event(version, found.stage),
                                     trust.allowed_signers(root)).to_json()
    doc["reproduce_verdicts"] = lineage.reproduce_verdicts(root, version.commit)
    return doc


def model_history(root: Path, name: str) -> list[dict[str, Any]]:
    """Every event of model NAME, oldest first."""
    names.check_name(name)
    models = state.load(root)
    if name not in models:
        raise RegistryError(f"unknown model {name!r}", hint="`mlv model list` lists the models.")
    model = models[name]
    policy = trust.allowed_signers(root)
    registered = [v for v in model.versions.values() if v.event is not None]
    records = trust.experiments_of(root, [v.commit for v in registered])
    standings = {v.version: trust.standing(root, v, records.get(v.commit)) for v in registered}
    rows = []
    for event in model.events:
        row = event.to_json()
        found = standings.get(event.version or "") if event.action == names.REGISTER else None
        if found is None or found.status == trust.VALID:
            found = _signature_standing(root, event, policy) or found
        row["standing"] = (found or trust.Standing(trust.VALID)).to_json()
        rows.append(row)
    return rows


def _signature_standing(root: Path, event: state.Event, policy: Path | None) -> trust.Standing | None:
    """UNTRUSTED when a POLICY is set and EVENT's tag is not signed by an allowed signer."""
    from mlv.adapters import git

    if policy is None:
        return None
    ok, why = git.verify_signature(root, "tag", event.tag, policy)
    if ok:
        return None
    return trust.Standing(trust.UNTRUSTED, (f"tag {event.tag} is not signed by an allowed signer: {why}",))
