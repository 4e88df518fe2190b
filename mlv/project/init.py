"""`mlv init`: make a git repository an mlv project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.errors import GitError
from mlv.project import config


@dataclass
class InitResult:
    root: Path
    config: config.ProjectConfig
    created_config: bool
    initialised_dvc: bool


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
    if config.exists(root):
        cfg = config.load(root)  # validates an existing configuration; never rewrites it
    else:
        cfg = config.detect_defaults(root)
        path = root / config.CONFIG_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cfg.to_yaml(), "utf-8")
        created = True
    return InitResult(root, cfg, created, initialised_dvc)
