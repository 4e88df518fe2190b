"""The registry's writes: each makes exactly one annotated tag, or none and raises.

Every check runs before the tag is made, and `git tag` itself refuses an existing name, so a
failed or racing command never leaves a half-made event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv._version import __version__
from mlv.adapters import git
from mlv.errors import EXIT_USER_ERROR, MlvError
from mlv.faults import crash_point
from mlv.gates import Facts, RuleResult, evaluate, failed
from mlv.record import history
from mlv.record.record import flatten
from mlv.registry import lineage, metadata, names, settings, state, trust
from mlv.registry.names import RegistryError

EXIT_GATE_REFUSED = 4


class GateRefusedError(MlvError):
    """A promotion gate failed; `failures` holds one line per failed rule."""

    exit_code = EXIT_GATE_REFUSED

    def __init__(self, message: str, failures: list[RuleResult]) -> None:
        super().__init__(message, hint="Fix the candidate, or pass --force --reason TEXT (recorded in the tag).")
        self.failures = failures


@dataclass
class Written:
    """What a write did: the tag made, and what it points at."""

    tag: str
    model: str
    commit: str
    version: str | None = None
    stage: str | None = None
    gates: list[RuleResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "model": self.model, "commit": self.commit, "version": self.version,
                "stage": self.stage, "gates": [g.to_json() for g in self.gates], "notes": self.notes}


def _tag(root: Path, name: str, commit: str, message: str) -> None:
    if not git.check_tag_name(root, name):
        raise RegistryError(f"git refuses the tag name {name!r}", hint="Pick a name git accepts as a tag.")
    try:
        # Signed with git's own signing when the user has a key: a policy can then tell our tags
        # from anyone's (docs/how-to/register-and-promote.md).
        git.create_annotated_tag(root, name, commit, message, sign=git.signing_key(root) is not None)
    except MlvError as exc:
        raise RegistryError(exc.message, hint=exc.hint or "`mlv model history NAME` shows what exists.",
                            exit_code=EXIT_USER_ERROR) from None


def _model(models: dict[str, state.Model], name: str) -> state.Model:
    names.check_name(name)
    if name not in models:
        raise RegistryError(f"unknown model {name!r}", hint="`mlv model list` lists the models.")
    return models[name]


def _version(model: state.Model, version: str) -> state.Version:
    names.check_version(version)
    found = model.versions.get(version)
    if found is None or not found.registered:
        state_word = "deregistered" if found else "not registered"
        raise RegistryError(f"{model.name} {version} is {state_word}",
                            hint=f"`mlv model show {model.name}` lists its versions.")
    return found


def register(root: Path, name: str, rev: str | None = None, version: str | None = None,
             bump: str | None = None, path: str | None = None, message: str | None = None) -> Written:
    names.check_name(name)
    if version is not None and bump is not None:
        raise RegistryError("--version and --bump cannot be combined", hint="Give one of them.")
    if version is not None:
        names.check_version(version)
    model = state.load(root).get(name) or state.Model(name)
    exp = lineage.experiment(root, rev) if rev else lineage.latest_experiment(root)
    chosen = version or names.bump(model.highest_ever(), bump or "patch")
    if chosen in model.versions:
        raise RegistryError(f"{name} {chosen} exists already", hint="Pick another --version, or use --bump.")
    taken = model.version_at(exp.commit)
    if taken is not None and (finished := _finish_interrupted(root, name, taken, path, version)) is not None:
        return finished
    if taken is not None:
        raise RegistryError(f"commit {exp.commit[:10]} is registered already as {name} {taken.version}",
                            hint=f"Deregister it first: `mlv model deregister {name} {taken.version}`.")
    conf = settings.model_settings(root, name)
    artifact = lineage.artifact_entry(root, exp, path or conf.path)
    verdicts = lineage.reproduce_verdicts(root, exp.commit)
    doc = {"event": "register", "model": name, "version": chosen, **lineage.facts(exp, artifact, verdicts),
           "mlv_version": __version__}
    shown = ", ".join(f"{k}={_short(v)}" for k, v in list(flatten(exp.record.metrics, single_root=True).items())[:4])
    summary = message or f"Register {name} {chosen} from experiment {exp.commit[:10]}"
    summary += f" ({shown})" if shown and not message else ""
    tag = names.register_tag(name, chosen)
    _tag(root, tag, exp.commit, metadata.render(summary, doc))
    crash_point("register-after-tag")
    written = Written(tag, name, exp.commit, version=chosen)
    written.notes += _declare_for_dvc(root, name, artifact["path"])
    if _path_to_remember(conf.path, artifact["path"], path):
        try:
            settings.remember_path(root, name, artifact["path"])
            written.notes.append(f"remembered path {artifact['path']} for {name} in .mlv/config.yaml")
        except (OSError, MlvError) as exc:
            written.notes.append(f"could not remember the path in .mlv/config.yaml: {exc}")
    return written


def _path_to_remember(remembered: str | None, artifact: str, given: str | None) -> bool:
    """Whether a registration writes its artifact path into the config: the first path a model
    gets, or one given with --path."""
    return remembered != artifact and (given is not None or remembered is None)


def _finish_interrupted(root: Path, name: str, taken: state.Version, path: str | None,
                        version: str | None) -> Written | None:
    """The same registration run again after it was killed between its tag and its config write:
    the path is remembered now and the version is reported. None when nothing was left undone."""
    artifact = ((taken.meta or {}).get("artifact") or {}).get("path")
    if not isinstance(artifact, str) or version not in (None, taken.version) or path not in (None, artifact):
        return None
    if not _path_to_remember(settings.model_settings(root, name).path, artifact, path):
        return None
    settings.remember_path(root, name, artifact)
    return Written(taken.tag, name, taken.commit, version=taken.version,
                   notes=[f"{name} {taken.version} was registered already (an earlier run was interrupted); "
                          f"remembered path {artifact} for {name} in .mlv/config.yaml"])


def _declare_for_dvc(root: Path, name: str, path: str) -> list[str]:
    """Declare the model in dvc.yaml `artifacts:` so DVC's `dvc artifacts get` finds it; a note."""
    from mlv.registry import artifacts

    try:
        if not artifacts.declare(root, name, path):
            return []
    except (OSError, MlvError, ValueError) as exc:
        return [f"could not declare {name} in dvc.yaml `artifacts:` ({exc}); `dvc artifacts get` needs it"]
    return [f"declared {name} (path {path}) in dvc.yaml `artifacts:` for `dvc artifacts get`; the next "
            "snapshot commits it, and versions of later commits are found by DVC"]


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def metrics_of(root: Path, version: state.Version) -> dict[str, Any]:
    """A version's flat metrics, from its experiment commit's record: never from its tag's text."""
    try:
        raw = history.show_experiment(root, version.commit).record.metrics
    except MlvError:
        raw = {}
    return flatten(raw, single_root=True)


def promote(root: Path, name: str, version: str, stage: str, message: str | None = None,
            force: bool = False, reason: str | None = None) -> Written:
    names.check_name(stage, "stage")
    if force and not (reason or "").strip():
        raise RegistryError("--force needs --reason TEXT", hint="Say why the gates are overridden; it is recorded.")
    model = _model(state.load(root), name)
    target = _version(model, version)
    trust.require(root, model, target, f"promote to {stage}")
    conf = settings.model_settings(root, name)
    if conf.stages is not None and stage not in conf.stages:
        raise RegistryError(f"stage {stage!r} is not allowed for {name} (stages: {', '.join(conf.stages)})",
                            hint="Add it to models.NAME.stages in .mlv/config.yaml, or pick one of those.")
    current = model.stages().get(stage)
    if current is not None and current.version == version:
        raise RegistryError(f"{name} {version} is in stage {stage} already")
    results: list[RuleResult] = []
    policy = conf.gates.get(stage)
    if policy is not None and not policy.empty:
        facts = Facts(
            metrics=metrics_of(root, target),
            base_metrics=metrics_of(root, current) if current is not None else None,
            base_label=f"{stage} {current.version}" if current is not None else None,
            reproduced_verdict=lineage.checked_verdict(root, target.commit) if policy.reproduced else None,
            current_stages=trust.trusted_stages(root, target),
            branches=tuple(git.branches_containing(root, target.commit)) if policy.branches is not None else (),
        )
        results = evaluate(policy, facts)
        bad = failed(results)
        if bad and not force:
            raise GateRefusedError(f"promotion of {name} {version} to {stage} refused by {len(bad)} gate rule(s)", bad)
    doc: dict[str, Any] = {"event": "assign", "model": name, "version": version, "stage": stage,
                           "previous": current.version if current is not None else None,
                           "gates": [r.to_json() for r in results], "mlv_version": __version__}
    forced = force and bool(failed(results))
    if force:
        doc.update(forced=forced, reason=reason)
    summary = message or f"Promote {name} {version} to {stage}" + (f" (FORCED: {reason})" if forced else "")
    tag = names.assign_tag(name, stage, model.max_counter + 1)
    _tag(root, tag, target.commit, metadata.render(summary, doc))
    return Written(tag, name, target.commit, version=version, stage=stage, gates=results)


def demote(root: Path, name: str, stage: str, message: str | None = None) -> Written:
    names.check_name(stage, "stage")
    model = _model(state.load(root), name)
    current = model.stages().get(stage)
    if current is None:
        raise RegistryError(f"{name} has no version in stage {stage}",
                            hint=f"`mlv model show {name}` lists its stages.")
    doc = {"event": "unassign", "model": name, "version": current.version, "stage": stage, "mlv_version": __version__}
    tag = names.unassign_tag(name, stage, model.max_counter + 1)
    _tag(root, tag, current.commit, metadata.render(message or f"Demote {name} {current.version} from {stage}", doc))
    return Written(tag, name, current.commit, version=current.version, stage=stage)


def deregister(root: Path, name: str, version: str, message: str | None = None) -> Written:
    model = _model(state.load(root), name)
    target = _version(model, version)
    doc = {"event": "deregister", "model": name, "version": version, "mlv_version": __version__}
    tag = names.deregister_tag(name, version)
    _tag(root, tag, target.commit, metadata.render(message or f"Deregister {name} {version}", doc))
    return Written(tag, name, target.commit, version=version)


def deprecate(root: Path, name: str, message: str | None = None) -> Written:
    model = _model(state.load(root), name)
    if model.deprecated:
        raise RegistryError(f"model {name} is deprecated already")
    commit = model.events[-1].commit  # GTO tags the commit of the model's latest event
    doc = {"event": "deprecate", "model": name, "mlv_version": __version__}
    tag = names.deprecate_tag(name)
    _tag(root, tag, commit, metadata.render(message or f"Deprecate {name}", doc))
    return Written(tag, name, commit)
