"""What a benchmark run knows: its profile, work folder, the cases measured so far."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.datasets import DatasetSpec
from benchmarks.measure import Measurement, Sample, repeat
from benchmarks.workspace import Workspace

GIB = 1024**3


@dataclass(frozen=True)
class Profile:
    name: str
    big_bytes: int  # the one large file
    small_files: int  # the "10,000 files" dataset
    large_files: int  # the "100,000 files" dataset
    log_experiments: int
    runs: int  # timed runs per reported median
    warmup: int  # untimed runs before them
    diff_files: int  # files that differ between the two experiments of `diff`
    large_first_runs: int  # first snapshot of the largest dataset: ~40 s a run for DVC
    large_incremental: bool  # every incremental operation on the largest dataset too
    monitor_rows: int = 1_000_000  # rows of the prediction log `mlv monitor` reads


FULL = Profile("full", GIB, 10_000, 100_000, 1000, runs=5, warmup=1, diff_files=10, large_first_runs=1,
               large_incremental=True)
SMOKE = Profile("smoke", 1024**2, 50, 120, 20, runs=1, warmup=0, diff_files=3, large_first_runs=1,
                large_incremental=False, monitor_rows=20_000)


@dataclass
class Case:
    """One operation on one dataset: a measurement per tool (mlv, dvc, floor)."""

    op: str
    dataset: str
    key: str = ""  # the scenario ("1gib", "10k", "100k"), empty for repository-free cases
    nfiles: int = 0
    nbytes: int = 0
    measurements: dict[str, Measurement] = field(default_factory=dict)
    note: str = ""

    def add(self, m: Measurement) -> Measurement:
        self.measurements[m.tool] = m
        return m

    def to_dict(self) -> dict[str, object]:
        return {"op": self.op, "dataset": self.dataset, "key": self.key, "nfiles": self.nfiles, "nbytes": self.nbytes,
                "note": self.note, "measurements": [m.to_dict() for m in self.measurements.values()]}

    @classmethod
    def from_dict(cls, doc: Mapping[str, object]) -> Case:
        raw = doc.get("measurements") or []
        assert isinstance(raw, list)
        ms = [Measurement.from_dict(m) for m in raw]
        return cls(str(doc["op"]), str(doc["dataset"]), str(doc.get("key", "")), int(str(doc.get("nfiles", 0))),
                   int(str(doc.get("nbytes", 0))), {m.tool: m for m in ms}, str(doc.get("note", "")))


@dataclass
class Scenario:
    """A dataset as the repositories see it: (dataset, path inside the repository) pairs."""

    key: str
    label: str
    parts: list[tuple[DatasetSpec, str]]
    mlv_repo: Path
    dvc_repo: Path

    @property
    def data_paths(self) -> list[str]:
        return [rel for _, rel in self.parts]

    @property
    def small_rel(self) -> str | None:
        return next((rel for spec, rel in self.parts if spec.kind == "files"), None)

    @property
    def nfiles(self) -> int:
        return sum(spec.nfiles for spec, _ in self.parts)

    @property
    def nbytes(self) -> int:
        return sum(spec.nbytes for spec, _ in self.parts)


@dataclass
class Bench:
    ws: Workspace
    profile: Profile
    available: set[str]
    cases: list[Case] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{elapsed:6.0f}s] {text}", file=sys.stderr, flush=True)

    def case(self, op: str, scenario: Scenario | None = None, dataset: str = "") -> Case:
        case = Case(op, scenario.label if scenario else dataset, scenario.key if scenario else "",
                    scenario.nfiles if scenario else 0, scenario.nbytes if scenario else 0)
        self.cases.append(case)
        return case

    def measure(self, tool: str, label: str, step: Callable[[int], Sample],
                prepare: Callable[[int], None] | None = None, runs: int | None = None,
                warmup: int | None = None) -> Measurement:
        m = Measurement(tool, label)
        return repeat(m, step, self.profile.runs if runs is None else runs,
                      self.profile.warmup if warmup is None else warmup, prepare)

    def has(self, command: str) -> bool:
        return command in self.available

