"""Data health speed and memory: `python -m benchmarks.health [--rows N] [--work-dir DIR]`.

Not part of the test suite. Writes a CSV of N rows x 20 columns (1,000,000 rows: about 200 MB) in a
temporary folder, then runs each step in its own child process and reports its time (measured
inside the child, after imports) and its peak RSS (the child's own `ru_maxrss`, read with wait4):

- read: pyarrow's plain `pyarrow.csv.read_csv` of the whole file (the floor for any profiler);
- profile: `mlv.datahealth.profile_dataset`, which also writes the profile JSON for the next step;
- check: `profile_dataset` of the same file plus `check` against the stored profile;
- stored: `check` between two stored profiles (as `mlv data check --rev A --against B` does): both
  parsed and validated, then compared; its time includes importing scipy, as a command's would.

- evidently: Evidently's `DataDriftPreset` on the same file as reference and current (pandas reads
  both: Evidently has no stored reference), in an interpreter of its own (`--evidently-python`,
  default /tmp/evidently-venv/bin/python), so Evidently never enters mlv's environment:

      python3 -m venv /tmp/evidently-venv && /tmp/evidently-venv/bin/pip install evidently 'pandas<2.3'

  Without that interpreter the row is skipped with a note.

Targets: profile <= 1.5x read (CPU), check <= 1.5x profile, stored <= 0.2 s and < 100 MB, every
peak < 500 MB. This process never imports
pyarrow, and generation runs in a child too, so no child inherits a large resident set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = 20
EVIDENTLY_PYTHON = Path("/tmp/evidently-venv/bin/python")
# Run by Evidently's interpreter: time after imports, as the other steps do.
EVIDENTLY_STEP = """
import sys, time
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
start, cpu = time.perf_counter(), time.process_time()
reference, current = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
snapshot.dict()  # the results themselves, as a caller would read them
print(time.perf_counter() - start, time.process_time() - cpu)
"""


def generate(path: Path, rows: int) -> None:
    """15 float columns of assorted shapes, 2 integer, 3 categorical; written in slices."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(7)
    makers = [
        lambda n: rng.normal(0, 1, n), lambda n: rng.lognormal(0, 1, n), lambda n: rng.uniform(0, 100, n),
        lambda n: rng.exponential(3, n), lambda n: np.where(rng.random(n) < 0.3, rng.normal(-2, 0.5, n),
                                                            rng.normal(2, 1, n)),
    ]
    slice_rows = 100_000
    with pacsv.CSVWriter(path, _schema()) as writer:
        for start in range(0, rows, slice_rows):
            n = min(slice_rows, rows - start)
            cols = {f"f{i}": np.round(makers[i % len(makers)](n), 8) for i in range(15)}
            cols["i0"] = rng.integers(0, 1000, n)
            cols["i1"] = rng.integers(0, 3, n)
            for j, labels in enumerate((["red", "green", "blue"], [f"city{k}" for k in range(50)],
                                        ["yes", "no"])):
                cols[f"c{j}"] = rng.choice(labels, n)
            writer.write_table(pa.table(cols, schema=_schema()))


def _schema() -> object:
    import pyarrow as pa

    fields = [(f"f{i}", pa.float64()) for i in range(15)] + [("i0", pa.int64()), ("i1", pa.int64())]
    return pa.schema(fields + [(f"c{j}", pa.string()) for j in range(3)])


def step(name: str, csv: Path, stored: Path) -> tuple[float, float]:
    """Run one step in this (child) process; its wall and CPU seconds (all threads), imports excluded."""
    import pyarrow.csv as pacsv

    from mlv.datahealth.check import check
    from mlv.datahealth.model import Profile
    from mlv.datahealth.profiler import profile_dataset

    if name == "stored":  # imports counted: they are most of what a stored check costs
        start, cpu = time.perf_counter(), time.process_time()
        from mlv.datahealth.store import parse_profile

        reference = parse_profile(stored.read_bytes(), str(stored))
        check(parse_profile(stored.read_bytes(), str(stored)), reference)
        return time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    if name == "read":
        pacsv.read_csv(csv)
    elif name == "profile":
        stored.write_text(profile_dataset(csv).dumps())
    else:
        check(profile_dataset(csv), Profile.from_json(json.loads(stored.read_text())))
    return time.perf_counter() - start, time.process_time() - cpu


def measure(name: str, csv: Path, stored: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one step, run in a fresh child process."""
    return measure_argv([sys.executable, "-m", "benchmarks.health", "--step", name, str(csv), str(stored)], name)


def measure_argv(argv: list[str], name: str) -> tuple[float, float, float]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None
    out = proc.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"step {name} failed")
    wall, cpu = (float(x) for x in out.split()[-2:])
    return wall, cpu, usage.ru_maxrss / 1024


def evidently_row(python: Path, csv: Path) -> tuple[float, float, float] | str:
    """Evidently's DataDriftPreset on CSV against itself, or why it was not run."""
    if not python.exists():
        return f"skipped: no Evidently interpreter at {python} (see this module's docstring)"
    probe = subprocess.run([str(python), "-c", "import evidently"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"skipped: {python} cannot import evidently"
    return measure_argv([str(python), "-c", EVIDENTLY_STEP, str(csv), str(csv)], "evidently")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--evidently-python", type=Path, default=EVIDENTLY_PYTHON,
                        help="an interpreter with evidently and pandas installed (never mlv's own)")
    parser.add_argument("--step", nargs=3, metavar=("NAME", "CSV", "PROFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(*step(args.step[0], Path(args.step[1]), Path(args.step[2])))
        return 0
    with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
        csv, stored = Path(tmp) / "data.csv", Path(tmp) / "profile.json"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"from benchmarks.health import generate; from pathlib import Path; "
                        f"generate(Path({str(csv)!r}), {args.rows})"], check=True)
        print(f"generated {args.rows:,} rows x {COLUMNS} columns, {csv.stat().st_size / 1e6:.0f} MB "
              f"in {time.perf_counter() - started:.1f} s")
        results = {name: measure(name, csv, stored) for name in ("read", "profile", "check", "stored")}
        for name, (wall, cpu, rss) in results.items():
            print(f"{name:8} wall {wall:6.2f} s   CPU {cpu:6.2f} s   peak RSS {rss:4.0f} MB")
        for i, label in ((0, "wall"), (1, "CPU")):  # on a shared machine CPU time is the steadier one
            read, profile, check = (results[n][i] for n in ("read", "profile", "check"))
            print(f"{label:4}: profile / read = {profile / read:.2f} (target <= 1.5), "
                  f"check / profile = {check / profile:.2f} (target <= 1.5)")
        print(f"profile JSON: {stored.stat().st_size / 1e3:.0f} kB")
        evidently = evidently_row(args.evidently_python, csv)
        if isinstance(evidently, str):
            print(f"evidently {evidently}")
        else:
            wall, cpu, rss = evidently
            print(f"evidently wall {wall:6.2f} s   CPU {cpu:6.2f} s   peak RSS {rss:4.0f} MB   "
                  f"(DataDriftPreset, both sides read from CSV)")
            print(f"wall: evidently / mlv check = {wall / results['check'][0]:.1f}, "
                  f"peak RSS evidently / mlv check = {rss / results['check'][2]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
