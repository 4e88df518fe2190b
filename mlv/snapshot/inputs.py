"""Inputs pinned as the command read them: a command that rewrites its own `data:` is caught.

Before a run, the configured data are hashed into the DVC cache (through the stat cache: an
unchanged file costs one stat), so their content is kept whatever the command does. After the
run they are hashed again; an input the run changed is recorded at its pre-run content and
flagged `modified_by_run`, since that is what the command trained on, and `mlv reproduce` then
restores that content. With `snapshot: {inputs_modified: refuse}` such a run makes no commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlv.adapters import dvc
from mlv.data import statecache, track
from mlv.errors import MlvError
from mlv.project import config


@dataclass(frozen=True)
class Modified:
    """An input the run changed: as the command read it, and as the run left it."""

    before: dvc.Pointer
    after: dvc.Pointer

    def describe(self) -> str:
        return f"{self.before.path} ({_size(self.before)} before the run, {_size(self.after)} after)"


class InputModifiedError(MlvError):
    """The command changed its own input and the configuration refuses such a run."""


def pin_before_run(root: Path, cfg: config.ProjectConfig, progress: track.ProgressSink | None) -> list[dvc.Pointer]:
    """The configured data as they are now, their content stored in the cache."""
    if not cfg.data:
        return []
    state = statecache.of_work_tree(root)
    pinned = track.track_paths(root, cfg.data, state, progress)
    state.save()
    return pinned


def modified_by_run(before: list[dvc.Pointer], after: list[dvc.Pointer]) -> list[Modified]:
    """The inputs of BEFORE whose content differs in AFTER (the pointers hashed after the run)."""
    now = {p.path: p for p in after}
    return [Modified(p, now[p.path]) for p in before if p.path in now and now[p.path].md5 != p.md5]


def settle(cfg: config.ProjectConfig, pointers: list[dvc.Pointer], modified: list[Modified],
           warnings: list[str]) -> list[dvc.Pointer]:
    """POINTERS with each modified input pinned at its pre-run content (a note in WARNINGS), or an
    InputModifiedError when the configuration says `inputs_modified: refuse`."""
    if not modified:
        return pointers
    described = "; ".join(m.describe() for m in modified)
    if cfg.inputs_modified == "refuse":
        raise InputModifiedError(
            f"the command changed its input {described}; no experiment commit was made",
            hint=f"Write results outside `data:`, or set `snapshot: {{inputs_modified: record}}` in "
                 f"{config.CONFIG_FILE}; what the command read is in the DVC cache as "
                 f"{', '.join(m.before.md5 for m in modified)}.")
    warnings.append(f"the command changed its input {described}; the record pins it as the command read it "
                    "(modified_by_run), and the work tree keeps what the run left")
    before = {m.before.path: m.before for m in modified}
    return [before.get(p.path, p) for p in pointers]


def _size(pointer: dvc.Pointer) -> str:
    size = float(pointer.size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            amount = f"{size:.0f}" if unit == "B" else f"{size:.1f}"
            break
        size /= 1024
    files = f", {pointer.nfiles} file{'s' if pointer.nfiles != 1 else ''}" if pointer.nfiles is not None else ""
    return f"{amount} {unit}{files}"
