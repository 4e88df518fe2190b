"""An mlv project that is also a DVC project: what DVC already owns, and stage outputs to record.

DVC owns two kinds of paths, and mlv must never take either over: paths a `.dvc` file tracks
(mlv updates that file in place when it tracks exactly that path, and nothing else), and the
outputs of `dvc.yaml` stages, which `dvc.lock` pins. Taking one over (wrapping `data/` into one
`data.dvc` over `data/data.xml.dvc`, or a `model.pkl.dvc` for stage `train`'s model) breaks
`dvc repro` ("output paths overlap"), so such a configuration is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.data import track
from mlv.data.statecache import StateCache
from mlv.errors import ConfigError, MlvError
from mlv.pipeline import dvcfiles

CONFIG_FILE = ".mlv/config.yaml"


def pointer_tracked_paths(root: Path) -> dict[str, str]:
    """Path -> the `.dvc` file that tracks it, for every pointer file in the work tree that git
    knows of or would add (committed, staged or untracked, not ignored)."""
    found = {}
    for name in git.pointer_files_known(root):
        # `.dvc/` is DVC's folder; a pointer file is `PATH.dvc` beside the path it tracks.
        if name.endswith(".dvc") and name != ".dvc" and not name.endswith("/.dvc") and (root / name).is_file():
            found[name[: -len(".dvc")]] = name
    return found


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(f"{b}/") or b.startswith(f"{a}/")


def refuse_taken_paths(root: Path, data: Sequence[str], outputs: Sequence[str],
                       pipeline: dvcfiles.Pipeline | None) -> None:
    """A ConfigError naming the first configured path DVC owns: a stage's output, or one that
    contains (or lies inside) a path another `.dvc` file tracks."""
    tracked = pointer_tracked_paths(root) if data or outputs else {}
    for key, paths in (("data", data), ("outputs", outputs)):
        for path in paths:
            owner = pipeline.owner(path) if pipeline is not None else None
            if owner is not None:
                what = "is" if owner.path == path else ("lies inside" if path.startswith(f"{owner.path}/")
                                                          else "contains")
                raise ConfigError(
                    f"{CONFIG_FILE}: `{key}` entry {path!r} {what} output {owner.path!r} of DVC stage "
                    f"{owner.stage!r} (dvc.yaml); mlv records stage outputs from dvc.lock by itself",
                    hint=f"Remove {path!r} from `{key}`; `dvc repro` would refuse a second owner.")
            for other, pointer_file in tracked.items():
                if other != path and _overlap(other, path):
                    where = "lies inside" if path.startswith(f"{other}/") else "contains"
                    raise ConfigError(
                        f"{CONFIG_FILE}: `{key}` entry {path!r} {where} {other!r}, which {pointer_file} "
                        "tracks; mlv never takes over a path another .dvc file tracks",
                        hint=f"List {other!r} itself in `{key}` instead of {path!r}.")


def recorded_stage_outputs(root: Path, pipeline: dvcfiles.Pipeline, state: StateCache,
                           progress: track.ProgressSink | None = None, store: bool = True) -> list[dvc.Pointer]:
    """The stage outputs `dvc.lock` pins, checked against the work tree and stored in the cache.

    The record must describe the files that are there: an output missing, or changed since `dvc
    repro` wrote `dvc.lock`, is refused rather than recorded with a hash it does not have. Hashing
    goes through the stat cache, so unchanged outputs cost a stat each.
    """
    pinned = dvcfiles.worktree_stage_outputs(root, pipeline)
    for pointer in pinned:
        if not (root / pointer.path).exists():
            raise MlvError(f"output {pointer.path!r} of DVC stage {pointer.stage!r} is missing, though "
                           "dvc.lock pins it; no experiment commit was made",
                           hint="Run `dvc repro` (or `dvc checkout` / `mlv pull`) to bring it back.")
    current = track.track_paths(root, [p.path for p in pinned], state, progress, store=store) if pinned else []
    for pointer, now in zip(pinned, current, strict=True):
        if now.md5 != pointer.md5:
            raise MlvError(f"output {pointer.path!r} of DVC stage {pointer.stage!r} differs from what dvc.lock "
                           "pins; no experiment commit was made",
                           hint="Run `dvc repro` (or `dvc commit` to keep the edit), then snapshot again.")
    return pinned
