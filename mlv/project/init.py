"""`mlv init`: make a git repository an mlv project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.errors import GitError
from mlv.pipeline import dvcfiles
from mlv.project import config, dvcproject


@dataclass
class InitResult:
    root: Path
    config: config.ProjectConfig
    created_config: bool
    initialised_dvc: bool
    # What the pipeline's stages write (dvc.yaml outs, metrics, plots): recorded from dvc.lock by
    # every snapshot, so they are never `outputs:` in the configuration.
    pipeline_outputs: list[dvcfiles.DeclaredOut] = field(default_factory=list)


def init_project(cwd: Path, run_git_init: bool = False) -> InitResult:
    """Write `.mlv/config.yaml` (detected defaults) and `dvc init` if needed; safe to repeat."""
    git.require_git()
    try:
        root = git.find_root(cwd)
    except GitError:
        if not run_git_init:
            raise
        git.init(cwd)
        root = git.find_root(cwd)
    initialised_dvc = False
    if not dvc.is_dvc_repo(root):
        dvc.init_dvc(root)
        initialised_dvc = True
    created = False
    pipeline = dvcfiles.read_pipeline(root)
    if config.exists(root):
        cfg = config.load(root)  # validates an existing configuration; never rewrites it
        dvcproject.refuse_taken_paths(root, cfg.data, cfg.outputs, pipeline)
    else:
        cfg = config.detect_defaults(root) if pipeline is None else pipeline_defaults(root, pipeline)
        path = root / config.CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cfg.to_yaml(), "utf-8")
        created = True
    return InitResult(root, cfg, created, initialised_dvc, pipeline.outs if pipeline is not None else [])


def pipeline_defaults(root: Path, pipeline: dvcfiles.Pipeline) -> config.ProjectConfig:
    """The configuration of a DVC pipeline project, from `dvc.yaml` rather than file-name guesses.

    `dvc repro` is the command. Data are the stage inputs that `.dvc` files already track (mlv
    then keeps those files up to date in place). Stage outputs are left out of `outputs`: DVC owns
    them through `dvc.lock`, and every snapshot records them from there by itself.
    """
    tracked = dvcproject.pointer_tracked_paths(root)
    data = sorted(path for path in tracked
                  if pipeline.owner(path) is None and any(_overlap(path, dep) for dep in pipeline.deps))
    return config.ProjectConfig(
        data=data, outputs=[],
        params=[p for p in pipeline.params if (root / p).is_file()],
        metrics=list(pipeline.metrics), command="dvc repro")


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(f"{b}/") or b.startswith(f"{a}/")
