"""One experiment commit per combination of `-S` values, one after another on the current
branch. Each run sees the params file with its values; the commit records them; afterwards the
work tree's params files are put back as they were, byte for byte, whatever happened."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.data.track import ProgressSink
from mlv.project import config
from mlv.snapshot import take
from mlv.sweep import overrides, paramsfile
from mlv.sweep.overrides import OverrideError


@dataclass
class SweepResult:
    settings: list[str] = field(default_factory=list)  # "train.alpha=0.1" per run, in order
    results: list[take.SnapshotResult] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        return [{"set": setting, "commit": r.commit, "created": r.made, "message": r.message,
                 "record": r.record.to_json()} for setting, r in zip(self.settings, self.results, strict=False)]


def plan(root: Path, specs: Sequence[str]) -> list[dict[tuple[str, str], Any]]:
    """The runs SPECS make, each checked against its params file before anything runs."""
    found = overrides.parse(specs, config.load(root).params)
    runs = overrides.combinations(found)
    originals = {o.file: paramsfile.read_bytes(root, o.file) for o in found}
    for combination in runs:  # a typo in a key fails now, not at the third run
        for rel, original in originals.items():
            paramsfile.with_values(rel, original, _values_for(rel, combination))
    return runs


def run(cwd: Path, specs: Sequence[str], options: take.SnapshotOptions,
        progress: ProgressSink | None = None,
        announce: Callable[[int, int, str], None] | None = None) -> SweepResult:
    """A snapshot per combination of SPECS, in order; stops at the first that fails."""
    if not options.run:
        raise OverrideError("-S sets params for a run, and there is no --run",
                            hint='Give the command: mlv snapshot --run "python train.py" -S train.alpha=0.1')
    root = git.find_root(cwd)
    runs = plan(root, specs)
    files = sorted({rel for combination in runs for rel, _key in combination})
    originals = {rel: paramsfile.read_bytes(root, rel) for rel in files}
    result = SweepResult()
    try:
        for index, combination in enumerate(runs, start=1):
            setting = overrides.describe(combination)
            if announce is not None:
                announce(index, len(runs), setting)
            for rel in files:
                paramsfile.write(root, rel, paramsfile.with_values(rel, originals[rel], _values_for(rel, combination)))
            message = f"{options.message or f'Experiment: {options.run}'} ({setting})"
            result.settings.append(setting)
            result.results.append(take.take_snapshot(cwd, replace(options, message=message), progress))
    finally:
        for rel, original in originals.items():
            paramsfile.write(root, rel, original)
    return result


def _values_for(rel: str, combination: dict[tuple[str, str], Any]) -> dict[str, Any]:
    return {key: value for (file, key), value in combination.items() if file == rel}
