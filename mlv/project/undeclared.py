"""Files about to be committed to git that look like data, a model or metrics.

A project set up before its data existed has nothing in `data:`; its first snapshot would then
commit `data/train.csv` and `models/model.pkl` to git as code and record no data at all. These
hints name such files by their folder, extension, name or size, with the config line to add.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from mlv.project.config import CONFIG_FILE, ProjectConfig

LARGE_FILE_BYTES = 1024 * 1024  # larger than source code ever is; git still takes it up to 10 MiB

_DATA_FOLDERS = frozenset({"data", "dataset", "datasets", "raw", "processed"})
_MODEL_FOLDERS = frozenset({"models", "model", "checkpoints", "artifacts", "weights"})
_DATA_SUFFIXES = frozenset({".csv", ".tsv", ".parquet", ".feather", ".arrow", ".npy", ".npz", ".h5",
                            ".hdf5", ".tfrecord", ".avro", ".orc", ".jsonl"})
_MODEL_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pt", ".pth", ".onnx", ".ckpt",
                             ".safetensors", ".keras", ".tflite", ".pb", ".bin", ".model"})
_METRICS_NAMES = frozenset({"metrics.json", "metrics.yaml", "metrics.yml", "scores.json"})
_PARAMS_NAMES = frozenset({"params.yaml", "params.yml", "params.json", "params.toml"})


@dataclass(frozen=True)
class Hint:
    """PATH looks like KIND; adding ENTRY under KEY in the configuration would declare it."""

    path: str
    kind: str  # "data", "a model", "metrics", "params", "a large file"
    key: str  # the configuration key: data, outputs, metrics, params
    entry: str
    committed: bool = True  # False: untracked, so the snapshot leaves it out instead

    def message(self) -> str:
        add = f"add `{self.key}: [{self.entry}]` to {CONFIG_FILE}"
        if self.key in ("metrics", "params"):  # these belong in git; they are just not recorded
            return f"{self.path} looks like {self.kind} but is not recorded as {self.key}; {add}"
        went = "went into git as code, not DVC" if self.committed else "was left out of the commit (untracked)"
        return f"{self.path} looks like {self.kind} and {went}; to track it as {self.key}, {add} and snapshot again"


def hints(root: Path, cfg: ProjectConfig, paths: list[str], left_out: Sequence[str] = ()) -> list[Hint]:
    """One hint per configuration entry to add, for PATHS (files about to be committed) and
    LEFT_OUT (untracked files the snapshot leaves out)."""
    declared = {*cfg.tracked, *cfg.params, *cfg.metrics}
    found: dict[tuple[str, str], Hint] = {}
    left = set(left_out)
    for rel in [*paths, *left_out]:
        if rel in declared or rel.startswith(".") or "/." in rel:
            continue  # declared already, or a dot folder (.dvc/, .github/) that is tooling, not data
        hint = _hint_for(root, rel)
        if hint is not None:
            found.setdefault((hint.key, hint.entry), replace(hint, committed=rel not in left))
    return list(found.values())


def _hint_for(root: Path, rel: str) -> Hint | None:
    path = PurePosixPath(rel)
    top = path.parts[0].lower() if len(path.parts) > 1 else ""
    name, suffix = path.name.lower(), path.suffix.lower()
    folder = f"{path.parts[0]}/"
    rules = (
        (top in _DATA_FOLDERS, Hint(folder, "data", "data", path.parts[0])),
        (top in _MODEL_FOLDERS, Hint(folder, "a model", "outputs", path.parts[0])),
        (name in _METRICS_NAMES, Hint(rel, "metrics", "metrics", rel)),
        (name in _PARAMS_NAMES, Hint(rel, "params", "params", rel)),
        (suffix in _DATA_SUFFIXES, Hint(rel, "data", "data", rel)),
        (suffix in _MODEL_SUFFIXES, Hint(rel, "a model", "outputs", rel)),
    )
    for matches, hint in rules:
        if matches:
            return hint
    try:
        size = os.lstat(root / rel).st_size
    except OSError:
        return None  # a deletion
    return Hint(rel, f"data ({size / 2**20:.1f} MiB)", "data", rel) if size > LARGE_FILE_BYTES else None


def missing_declarations(cfg: ProjectConfig, pipeline: bool = False) -> list[str]:
    """What `mlv init` did not find, each with how to declare it once it exists. In a PIPELINE
    project the stages' outputs come from dvc.lock, so no `outputs:` is suggested."""
    notes = []
    if not cfg.data:
        notes.append(f"no data found (no data/ folder): when it exists, add `data: [data]` to {CONFIG_FILE}")
    if not cfg.outputs and not pipeline:
        notes.append(f"no outputs found (no models/ folder): add `outputs: [models]` to {CONFIG_FILE} "
                     "for the files your command writes")
    if not cfg.metrics:
        notes.append(f"no metrics file found: add `metrics: [metrics.json]` to {CONFIG_FILE}")
    if not cfg.command:
        notes.append("no training script found (train.py): pass the command with `mlv snapshot --run`")
    return notes
