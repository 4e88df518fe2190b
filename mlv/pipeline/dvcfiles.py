"""Read a DVC pipeline: `dvc.yaml` (the stages a user declares) and `dvc.lock` (what they produced).

Both files are parsed directly with PyYAML, never through DVC (importing DVC costs ~0.4 s, and a
no-op snapshot of a pipeline repository must stay fast), and with the same limits as pointer
files: a size cap and no YAML anchors or aliases, since both come from other people's commits.

Only the pipeline at the repository root is read (`dvc.yaml` beside `.dvc/`), as `dvc repro`
with no target does; a stage's paths are resolved against its `wdir`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv.adapters import dvc, paths
from mlv.errors import DvcError

PIPELINE_FILE = "dvc.yaml"
LOCK_FILE = "dvc.lock"
DEFAULT_PARAMS_FILE = "params.yaml"
# A dvc.lock lists every dependency of every stage; thousands of entries are a few hundred KiB.
MAX_PIPELINE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class DeclaredOut:
    """An output a stage declares in `dvc.yaml` (under `outs`, `metrics` or `plots`)."""

    path: str
    stage: str
    cached: bool  # False for `cache: false`: git keeps it, not the DVC cache
    kind: str = "outs"  # the dvc.yaml key that declares it: outs, metrics or plots


@dataclass
class Stage:
    name: str
    deps: list[str] = field(default_factory=list)
    outs: list[DeclaredOut] = field(default_factory=list)
    params_files: list[str] = field(default_factory=list)


@dataclass
class Pipeline:
    """What `dvc.yaml` declares."""

    stages: dict[str, Stage] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)  # every metrics file, stage-level and top-level
    params: list[str] = field(default_factory=list)  # every params file a stage (or the top level) names
    plots: list[str] = field(default_factory=list)

    @property
    def outs(self) -> list[DeclaredOut]:
        return [out for stage in self.stages.values() for out in stage.outs]

    @property
    def uncached(self) -> set[str]:
        return {out.path for out in self.outs if not out.cached}

    @property
    def deps(self) -> list[str]:
        return [dep for stage in self.stages.values() for dep in stage.deps]

    def owner(self, path: str) -> DeclaredOut | None:
        """The stage output that is PATH, lies inside it, or contains it; None when no stage owns it."""
        for out in self.outs:
            if _overlap(out.path, path):
                return out
        return None


@dataclass(frozen=True)
class LockedDep:
    path: str
    md5: str | None


@dataclass
class LockedStage:
    """One stage as `dvc.lock` pins it."""

    name: str
    deps: list[LockedDep] = field(default_factory=list)
    outs: list[dvc.Pointer] = field(default_factory=list)  # those with a hash
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # params file -> key -> value


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(f"{b}/") or b.startswith(f"{a}/")


# -- parsing ---------------------------------------------------------------------------------------


def _load(data: bytes, name: str) -> dict[str, Any]:
    try:
        doc = dvc.load_untrusted_yaml(data, limit=MAX_PIPELINE_BYTES)
    except ValueError as exc:
        raise DvcError(f"{name} cannot be read ({exc})",
                       hint=f"Fix {name} (`dvc repro --dry` shows what DVC makes of it).") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise DvcError(f"{name} is not a mapping of DVC settings", hint=f"Fix {name}.")
    return doc


def _path(value: object, wdir: str, name: str) -> str:
    """VALUE (a path as written in NAME) relative to the repository root, checked like a pointer's."""
    if not isinstance(value, str):
        raise DvcError(f"{name}: {str(value)[:80]!r} is not a path", hint=f"Fix {name}.")
    joined = posixpath.normpath(posixpath.join(wdir, value)) if wdir != "." else posixpath.normpath(value)
    problem = "is an absolute path" if value.startswith("/") else paths.repo_path_problem(joined)
    if problem:
        raise DvcError(f"{name}: path {value[:200]!r} {problem}; refusing to use it", hint=f"Fix {name}.")
    return joined


def _entries(value: object) -> list[tuple[object, dict[str, Any]]]:
    """A dvc.yaml list of `path` or `{path: {options}}` items, as (path, options) pairs."""
    if not isinstance(value, list):
        return []
    found: list[tuple[object, dict[str, Any]]] = []
    for item in value:
        if isinstance(item, dict):
            found += [(key, opts if isinstance(opts, dict) else {}) for key, opts in item.items()]
        else:
            found.append((item, {}))
    return found


def parse_pipeline(data: bytes, name: str = PIPELINE_FILE) -> Pipeline:
    """The stages, outputs, params and metrics files `dvc.yaml` declares."""
    doc = _load(data, name)
    pipeline = Pipeline()
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise DvcError(f"{name}: `stages` is not a mapping of stage names", hint=f"Fix {name}.")
    for stage_name, body in stages.items():
        if not isinstance(body, dict):
            continue
        pipeline.stages[str(stage_name)] = _stage(str(stage_name), body, name)
    for stage in pipeline.stages.values():
        pipeline.metrics += [o.path for o in stage.outs if o.kind == "metrics" and o.path not in pipeline.metrics]
        pipeline.plots += [o.path for o in stage.outs if o.kind == "plots" and o.path not in pipeline.plots]
        pipeline.params += [f for f in stage.params_files if f not in pipeline.params]
    for item, _ in _entries(doc.get("metrics")):
        path = _path(item, ".", name)
        if path not in pipeline.metrics:
            pipeline.metrics.append(path)
    for item, _ in _entries(doc.get("params")):
        path = _path(item, ".", name)
        if path not in pipeline.params:
            pipeline.params.append(path)
    # A top-level plot may be a named definition ({name: {y: {file: field}}}), not a file.
    for item, opts in _entries(doc.get("plots")):
        plot = posixpath.normpath(item) if isinstance(item, str) and not isinstance(opts.get("y"), dict) else ""
        if plot and paths.repo_path_problem(plot) is None and plot not in pipeline.plots:
            pipeline.plots.append(plot)
    return pipeline


def _stage(stage_name: str, body: dict[str, Any], name: str) -> Stage:
    wdir = body.get("wdir") or "."
    if not isinstance(wdir, str):
        raise DvcError(f"{name}: stage {stage_name!r} has a `wdir` that is not a path", hint=f"Fix {name}.")
    stage = Stage(stage_name)
    stage.deps = [_path(item, wdir, name) for item, _ in _entries(body.get("deps"))]
    for key in ("outs", "metrics", "plots"):
        for item, opts in _entries(body.get(key)):
            cached = opts.get("cache", True) is not False
            stage.outs.append(DeclaredOut(_path(item, wdir, name), stage_name, cached, key))
    params = body.get("params")
    for item, _ in _entries(params):
        # A bare key lives in params.yaml; `{file: [keys]}` names its file.
        is_file = isinstance(params, list) and any(isinstance(p, dict) and item in p for p in params)
        path = _path(item, wdir, name) if is_file else _path(DEFAULT_PARAMS_FILE, wdir, name)
        if path not in stage.params_files:
            stage.params_files.append(path)
    return stage


def parse_lock(data: bytes, name: str = LOCK_FILE) -> dict[str, LockedStage]:
    """Every stage `dvc.lock` pins: its deps, params and outputs (outputs without a hash left out)."""
    doc = _load(data, name)
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise DvcError(f"{name}: `stages` is not a mapping of stage names", hint=f"Fix {name}.")
    found: dict[str, LockedStage] = {}
    for stage_name, body in stages.items():
        if not isinstance(body, dict):
            continue
        locked = LockedStage(str(stage_name))
        for item in body.get("deps") or []:
            if isinstance(item, dict):
                md5 = item.get("md5")
                locked.deps.append(LockedDep(_path(item.get("path"), ".", name), md5 if isinstance(md5, str) else None))
        for item in body.get("outs") or []:
            if isinstance(item, dict) and item.get("md5") is not None:
                locked.outs.append(_locked_out(item, locked.name, name))
        params = body.get("params") or {}
        if isinstance(params, dict):
            locked.params = {_path(f, ".", name): v for f, v in params.items() if isinstance(v, dict)}
        found[locked.name] = locked
    return found


def _locked_out(item: dict[str, Any], stage: str, name: str) -> dvc.Pointer:
    path = _path(item.get("path"), ".", name)  # dvc.lock paths are relative to dvc.yaml's folder
    md5, size, nfiles = item.get("md5"), item.get("size", 0), item.get("nfiles")
    if not dvc.is_object_hash(md5) or not isinstance(size, int) or not isinstance(nfiles, (int, type(None))):
        raise DvcError(f"{name}: output {path!r} of stage {stage!r} has a malformed md5, size or nfiles; "
                       "refusing to use it", hint=f"Run `dvc repro` or `dvc commit` to rewrite {name}.")
    return dvc.Pointer(path=path, md5=str(md5), size=size, nfiles=nfiles, stage=stage)


def stage_outputs(pipeline_data: bytes | None, lock_data: bytes | None) -> list[dvc.Pointer]:
    """Every output `dvc.lock` pins that lives in the DVC cache (not `cache: false`), with its stage.

    A `cache: false` output is committed to git, so it is none of DVC's data; without `dvc.yaml`
    every pinned output counts.
    """
    pipeline = parse_pipeline(pipeline_data) if pipeline_data is not None and lock_data is not None else None
    return pinned_outputs(pipeline, lock_data)


def pinned_outputs(pipeline: Pipeline | None, lock_data: bytes | None) -> list[dvc.Pointer]:
    """`stage_outputs` with `dvc.yaml` already parsed (a snapshot reads it once)."""
    if lock_data is None:
        return []
    uncached = pipeline.uncached if pipeline is not None else set()
    return [out for stage in parse_lock(lock_data).values() for out in stage.outs if out.path not in uncached]


# -- where the files are ------------------------------------------------------------------------------


def _read(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_PIPELINE_BYTES + 1)  # over the cap is refused by the parser
    except (FileNotFoundError, NotADirectoryError):
        return None


def read_lock(root: Path) -> bytes | None:
    """The work tree's `dvc.lock` (unparsed), None when there is none."""
    return _read(root / LOCK_FILE)


def read_pipeline(root: Path) -> Pipeline | None:
    """The work tree's `dvc.yaml`, None when there is none."""
    data = _read(root / PIPELINE_FILE)
    return None if data is None else parse_pipeline(data)


def worktree_stage_outputs(root: Path, pipeline: Pipeline | None = None) -> list[dvc.Pointer]:
    """The cached stage outputs the work tree's `dvc.lock` pins (PIPELINE: its dvc.yaml, if read)."""
    if pipeline is not None:
        return pinned_outputs(pipeline, _read(root / LOCK_FILE))
    return stage_outputs(_read(root / PIPELINE_FILE), _read(root / LOCK_FILE))


def stage_outputs_at(root: Path, rev: str) -> list[dvc.Pointer]:
    """The cached stage outputs `dvc.lock` pins in commit REV (none when it has no `dvc.lock`)."""
    from mlv.adapters import git

    blobs = git.read_blobs(root, [f"{rev}:{PIPELINE_FILE}", f"{rev}:{LOCK_FILE}"])
    return stage_outputs(blobs.get(f"{rev}:{PIPELINE_FILE}"), blobs.get(f"{rev}:{LOCK_FILE}"))
