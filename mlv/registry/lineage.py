"""What a model version comes from: its experiment commit's record, the artifact inside it, and the
saved `mlv reproduce --save` verdicts about that commit. Reads experiments only through
`mlv.record.history` and `Record` fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.errors import MlvError, NotAnExperimentError
from mlv.record import history
from mlv.record.history import Experiment
from mlv.registry.names import RegistryError


def latest_experiment(root: Path) -> Experiment:
    found = history.list_experiments(root, "HEAD", 1)
    if not found:
        raise RegistryError("there is no experiment commit on this branch to register",
                            hint="Create one with `mlv snapshot`, or name one: `mlv model register NAME REV`.")
    return history.show_experiment(root, found[0].commit)


def experiment(root: Path, rev: str) -> Experiment:
    try:
        return history.show_experiment(root, rev)
    except NotAnExperimentError as exc:
        raise RegistryError(f"{rev} is not an experiment commit ({exc.message})",
                            hint="Register an experiment commit; `mlv log` lists them.") from None


def artifact_entry(root: Path, exp: Experiment, path: str | None) -> dict[str, Any]:
    """The artifact {path, md5, size, nfiles}: an output of EXP, or a file inside an output folder.

    PATH None means the experiment's only output.
    """
    from mlv.adapters import dvc  # imports yaml: only for a file inside an output folder

    outputs = exp.record.outputs
    if path is None:
        if len(outputs) != 1:
            listed = ", ".join(o.path for o in outputs) or "none"
            raise RegistryError(f"experiment {exp.commit[:10]} has {len(outputs)} outputs ({listed}); "
                                f"say which is the model", hint="Pass --path PATH.")
        return outputs[0].to_json()
    path = path.strip("/")
    for out in outputs:
        if out.path == path:
            return out.to_json()
    for out in outputs:
        if path.startswith(out.path + "/") and out.is_dir:
            listing = dvc.load_manifest_map(dvc.cache_dir(root), out.md5) or {}
            md5 = listing.get(path[len(out.path) + 1:])
            if md5:
                return {"path": path, "md5": md5, "size": None, "nfiles": None}
    listed = ", ".join(o.path for o in outputs) or "none"
    raise RegistryError(f"{path!r} is not an output of experiment {exp.commit[:10]} (outputs: {listed})",
                        hint="Pass --path with one of its outputs.")


def reproduce_verdicts(root: Path, commit: str) -> list[dict[str, Any]]:
    """Saved verdicts about COMMIT, newest first: [{verdict, saved_commit, time, branch, checked,
    problem}]; `checked` is True only when the verdict's evidence checks out (mlv.verdict.evidence).

    `mlv reproduce --save` commits each re-run on branch mlv/reproduced/<sha10>[-N]; one
    for-each-ref lists those branches, and each tip's record says which commit it reproduces.
    """
    from mlv.registry import trust
    from mlv.verdict import evidence

    prefix = f"refs/heads/mlv/reproduced/{commit[:10]}"
    refs = git.for_each_ref(root, [prefix, f"{prefix}-*"], max_contents=0)
    original = trust.experiment_of(root, commit) if refs else None
    policy = trust.allowed_signers(root) if refs else None
    found = []
    for ref in refs:
        try:
            saved = history.show_experiment(root, ref.target)
        except MlvError:
            continue
        rec = saved.record
        if isinstance(rec.reproduces, dict) and rec.reproduces.get("commit") == commit:
            why = evidence.problem(root, original, saved, policy) if original else "the experiment has no record"
            found.append({"verdict": rec.reproduces.get("verdict"), "saved_commit": ref.target,
                          "time": ref.date, "branch": ref.name, "checked": why is None, "problem": why})
    return sorted(found, key=lambda v: v["time"], reverse=True)


def checked_verdict(root: Path, commit: str) -> str | None:
    """The newest saved verdict about COMMIT whose evidence checks out: what `reproduced: true` counts."""
    return next((v["verdict"] for v in reproduce_verdicts(root, commit) if v["checked"]), None)


def facts(exp: Experiment, artifact: dict[str, Any], verdicts: list[dict[str, Any]]) -> dict[str, Any]:
    """The lineage block written into a registration tag."""
    env = exp.record.environment
    doc: dict[str, Any] = {
        "experiment": {"commit": exp.commit, "message": exp.message.splitlines()[0] if exp.message else "",
                       "command": exp.record.command, "created": exp.record.created},
        "artifact": artifact,
        "metrics": exp.record.metrics,
        "params": exp.record.params,
        "data": [p.to_json() for p in exp.record.data],
        "lockfile": {"path": env.lockfile, "sha256": env.lockfile_sha256,
                     "packages": len(exp.packages or {})},
    }
    if verdicts:
        latest = verdicts[0]
        doc["reproduce"] = {"verdict": latest["verdict"], "saved_commit": latest["saved_commit"]}
    return doc
