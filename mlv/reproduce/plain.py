"""A commit without an mlv record (made with DVC alone), as `mlv reproduce` can re-run it.

Nothing in such a commit claims a run, but a DVC pipeline's commit says a good deal: `dvc.yaml`
declares the command (`dvc repro`), `dvc.lock` pins every stage output DVC computed, and the
tree holds the metrics files. That is what a re-run is compared with. What is not known, the
environment the pipeline ran in and its exit code, stays unknown: the verdict says so
(`verdict.NO_RECORD`), and is never `reproduced`.
"""

from __future__ import annotations

from pathlib import Path

from mlv.adapters import git
from mlv.env.environment import Environment
from mlv.errors import MlvError
from mlv.record import treecheck
from mlv.record.history import Experiment
from mlv.record.record import Record

UNKNOWN = "unknown"


def read_plain_experiment(root: Path, sha: str) -> Experiment | None:
    """Commit SHA (without a record) as an experiment whose record holds only what its tree
    says; None when it is neither an mlv nor a DVC project's commit. Raises when it has no
    `dvc.yaml`, so nothing says which command made it."""
    from mlv.pipeline import dvcfiles

    plain = treecheck.read_plain_commit(root, sha, with_pointers=True, dvc_projects=True)
    if plain is None:
        return None
    if git.read_blob(root, sha, dvcfiles.PIPELINE_FILE) is None:
        raise MlvError(f"commit {sha[:10]} has no mlv record and no dvc.yaml, so there is no command to re-run",
                       hint=f"Check it out (`mlv checkout {sha[:10]}`), record a run with "
                            "`mlv snapshot --run COMMAND`, then reproduce that experiment.")
    # Stage outputs are what the pipeline computes; `.dvc` files pin its inputs, lent as they are.
    outputs = [p for p in plain.pointers if p.stage is not None]
    data = [p for p in plain.pointers if p.stage is None]
    lockfile = plain.lockfiles[0] if len(plain.lockfiles) == 1 else ""
    env = plain.environment or Environment(UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN, UNKNOWN,
                                           packages=None, lockfile=lockfile)
    record = Record(created="", command=treecheck.PIPELINE_COMMAND, run_by_mlv=False, exit_code=None,
                    started=None, duration_s=None, params=plain.params, metrics=plain.metrics,
                    data=data, outputs=outputs, environment=env, mlv_version="")
    message = git.commit_messages(root, [sha])[sha].strip()
    return Experiment(sha, message, record, tree=treecheck.TreeFacts(data, outputs, plain.lockfiles))


def stale_inputs(committed_lock: bytes | None, rerun_lock: bytes | None,
                 data_paths: list[str]) -> list[tuple[str, str]]:
    """(kind, path) for each pipeline input whose hash in the commit's `dvc.lock` differs from the
    re-run's: the committed outputs were then made from other data (kind "data": DATA_PATHS, the
    paths `.dvc` files track) or other code (kind "code": any other input, params included).
    Stage outputs passed from one stage to the next are left out: a difference there is the
    re-run's own doing. [] when either lock is missing or cannot be read."""
    from mlv.errors import DvcError
    from mlv.pipeline import dvcfiles

    if committed_lock is None or rerun_lock is None:
        return []
    try:
        before, after = dvcfiles.parse_lock(committed_lock), dvcfiles.parse_lock(rerun_lock)
    except DvcError:
        return []
    produced = {out.path for stage in after.values() for out in stage.outs}
    found: dict[str, str] = {}
    for name, stage in before.items():
        rerun = after.get(name)
        if rerun is None:
            continue
        now = {dep.path: dep.md5 for dep in rerun.deps}
        for dep in stage.deps:
            if dep.path not in produced and dep.path in now and now[dep.path] != dep.md5:
                is_data = any(dep.path == p or dep.path.startswith(f"{p}/") for p in data_paths)
                found.setdefault(dep.path, "data" if is_data else "code")
        for params_file, values in stage.params.items():
            if rerun.params.get(params_file, values) != values:
                found.setdefault(params_file, "code")
    return sorted((kind, path) for path, kind in found.items())
