"""Timing and peak memory of real executables, run as child processes.

Each command runs as its own child; `os.wait4` gives that child's own resource usage, whose
`ru_maxrss` on Linux is the peak resident set of the child and of every descendant it waited for
(a shell's pipeline, mlv's environment probe, git hooks). But a child forked from this Python
process starts with this process's own peak (Linux carries `maxrss` across fork and exec), so
each command is launched through GNU time (`/usr/bin/time -f %M`), a small process whose child
starts clean; its wait4 figure is the one reported. A step made of several commands (the
DVC equivalent of one mlv command is often `dvc add` + `git add` + `git commit`) costs the sum of
their wall times and the largest of their peaks.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


class CommandFailedError(Exception):
    """A measured command exited non-zero; the message carries its last line of stderr."""


@dataclass
class Sample:
    seconds: float
    rss_kb: int


@dataclass
class Measurement:
    """One tool on one operation: the timed runs (after warm-up) and what the warm-up cost."""

    tool: str  # "mlv", "dvc" or "floor"
    label: str  # the command(s), as shown in the report
    samples: list[Sample] = field(default_factory=list)
    warmup: list[Sample] = field(default_factory=list)
    status: str = "ok"  # "ok", "not available", or "failed: ..."
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(s.seconds for s in self.samples)

    @property
    def low(self) -> float:
        return min(s.seconds for s in self.samples)

    @property
    def high(self) -> float:
        return max(s.seconds for s in self.samples)

    @property
    def peak_rss_mb(self) -> float:
        return max(s.rss_kb for s in [*self.samples, *self.warmup]) / 1024

    def to_dict(self) -> dict[str, object]:
        return {"tool": self.tool, "label": self.label, "status": self.status, "note": self.note,
                "samples": [[s.seconds, s.rss_kb] for s in self.samples],
                "warmup": [[s.seconds, s.rss_kb] for s in self.warmup]}

    @classmethod
    def from_dict(cls, doc: Mapping[str, object]) -> Measurement:
        def samples(key: str) -> list[Sample]:
            raw = doc.get(key) or []
            assert isinstance(raw, list)
            return [Sample(float(s), int(r)) for s, r in raw]

        return cls(str(doc["tool"]), str(doc["label"]), samples("samples"), samples("warmup"),
                   str(doc.get("status", "ok")), str(doc.get("note", "")))


Command = Sequence[str]


def run_once(commands: Sequence[Command], cwd: Path, env: Mapping[str, str]) -> Sample:
    """Run COMMANDS one after the other; their summed wall time and largest peak RSS."""
    total, peak = 0.0, 0
    for argv in commands:
        seconds, rss = _run_child(argv, cwd, env)
        total += seconds
        peak = max(peak, rss)
    return Sample(total, peak)


def _run_child(argv: Command, cwd: Path, env: Mapping[str, str]) -> tuple[float, int]:
    # stdout goes to /dev/null for every tool alike (no terminal, so no pager and no colour);
    # stderr to a file we read only when the command fails.
    with tempfile.TemporaryDirectory(prefix="mlv-bench-") as tmp:
        rss_file = Path(tmp) / "rss"
        launcher = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] if GNU_TIME else []
        with open(Path(tmp) / "stderr", "w+b") as err:
            start = time.perf_counter()
            proc = subprocess.Popen([*launcher, *argv], cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err)
            _pid, status, usage = os.wait4(proc.pid, 0)
            seconds = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
            if proc.returncode != 0:
                err.seek(0)
                lines = err.read().decode(errors="replace").strip().splitlines()
                last = lines[-1] if lines else ""
                raise CommandFailedError(f"`{' '.join(argv)}` exited {proc.returncode}: {last[:200]}")
        if GNU_TIME:
            return seconds, int(rss_file.read_text().split()[-1])
    return seconds, int(usage.ru_maxrss)


def repeat(
    measurement: Measurement,
    step: Callable[[int], Sample],
    runs: int,
    warmup: int,
    prepare: Callable[[int], None] | None = None,
) -> Measurement:
    """Fill MEASUREMENT with WARMUP untimed-for-the-median runs, then RUNS timed ones.

    PREPARE (not timed) runs before each step with the run's index, e.g. to change one file.
    A failing command marks the measurement failed instead of stopping the suite.
    """
    try:
        for index in range(warmup + runs):
            if prepare is not None:
                prepare(index)
            sample = step(index)
            (measurement.warmup if index < warmup else measurement.samples).append(sample)
    except CommandFailedError as exc:
        measurement.status = f"failed: {exc}"
    return measurement


def not_available(tool: str, label: str, why: str) -> Measurement:
    return Measurement(tool, label, status="not available", note=why)
