"""Pipeline results that `dvc.lock` certifies: kept in the record whether or not this run wrote them.

`dvc repro` with nothing to do rewrites nothing, yet its metrics, plots and outputs are the
results of exactly this code, these params and this data: `dvc.lock` pins their hashes next to
the hashes of the inputs they came from. A result whose `dvc.lock` hash matches the work tree is
therefore recorded, with where that certificate comes from (the stage's name in `dvc.lock`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlv.adapters import dvc
from mlv.data import track
from mlv.data.statecache import StateCache
from mlv.pipeline import dvcfiles


def locked_hashes(root: Path) -> dict[str, tuple[str, str]]:
    """Path -> (md5, stage) of every output `dvc.lock` pins, `cache: false` ones included."""
    data = dvcfiles.read_lock(root)
    if data is None:
        return {}
    return {out.path: (out.md5, stage.name) for stage in dvcfiles.parse_lock(data).values() for out in stage.outs}


def certified(root: Path, paths: Sequence[str], state: StateCache) -> dict[str, str]:
    """Path -> stage for each of PATHS whose content in the work tree is what `dvc.lock` pins."""
    locked = locked_hashes(root)
    wanted = [p for p in dict.fromkeys(paths) if p in locked and (root / p).exists()]
    if not wanted:
        return {}
    now = track.track_paths(root, wanted, state, store=False)
    return {p.path: locked[p.path][1] for p in now if p.md5 == locked[p.path][0]}


def plots(root: Path, pipeline: dvcfiles.Pipeline, state: StateCache,
          from_lock: dict[str, str]) -> list[dvc.Pointer]:
    """The plots files `dvc.yaml` declares that exist, as the work tree holds them; those that
    `dvc.lock` certifies (FROM_LOCK) carry their stage."""
    present = [p for p in pipeline.plots if (root / p).exists()]
    if not present:
        return []
    found = track.track_paths(root, present, state, store=False)
    return [dvc.Pointer(p.path, p.md5, p.size, p.nfiles, stage=from_lock.get(p.path)) for p in found]
