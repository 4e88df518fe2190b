"""Drift scenarios side by side with Evidently: `python -m benchmarks.health_scenarios [--rows N]`.

Not part of the test suite. Builds a reference table of N rows (default 100,000) with numeric,
lognormal, integer, 4-value and 40-value categorical, boolean, datetime and free-text columns,
then one current table per scenario, all as Parquet in a temporary folder. Each tool runs in a
child process of its own per scenario, and the row reports its verdict, CPU seconds (after
imports) and peak RSS:

- mlv: `profile_dataset(current)` and `check` against the reference's stored profile (profiled once,
  as a snapshot would), exit code semantics (`ok` = exit 0; `healthy` = nothing drifted);
- Evidently: `DataDriftPreset` with its defaults on both tables read by pandas, the text column
  declared as text, in an interpreter of its own (`--evidently-python`), never mlv's environment:

      python3 -m venv /tmp/evidently-venv && /tmp/evidently-venv/bin/pip install evidently 'pandas<2.3' pyarrow

The fresh-sample rows draw a new sample of the reference's distributions at 100, 1,000 and N rows
(and 1,000,000 with --million, which takes minutes on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVIDENTLY_PYTHON = Path("/tmp/evidently-venv/bin/python")
EVIDENTLY_STEP = """
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
start = time.process_time()
reference, current = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
def dataset(frame):
    text = [c for c in frame.columns if c == "text"]
    return Dataset.from_pandas(frame, data_definition=DataDefinition(text_columns=text))
try:
    result = Report([DataDriftPreset()]).run(dataset(current), dataset(reference)).dict()
    count = next(m["value"] for m in result["metrics"] if m["metric_name"].startswith("DriftedColumnsCount"))
    verdict = {"dataset_drift": count["share"] >= 0.5, "drifted": int(count["count"])}
except Exception as exc:  # Evidently raises on some schema changes: that is its verdict
    verdict = {"error": f"{exc.__class__.__name__}: {str(exc)[:60]}"}
print(json.dumps({"verdict": verdict, "cpu": time.process_time() - start}))
"""

CITIES = [f"city{i:02d}" for i in range(40)]


def _city_shares() -> Any:
    import numpy as np

    return np.array([0.3, 0.2, 0.1, *([0.4 / 37] * 37)])


def make_table(seed: int, n: int, **change: Any) -> Any:
    """The reference's distributions, with CHANGE applied (see SCENARIOS)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(2000)] if not change.get("vocabulary") else
                     [f"x{i}" for i in range(2000)])
    zipf = 1 / np.arange(1, 2001)
    counts = rng.integers(4, 12, n)
    tokens = rng.choice(words, int(counts.sum()), p=zipf / zipf.sum())
    text = [" ".join(part) for part in np.split(tokens, np.cumsum(counts)[:-1])]
    shares = _city_shares()
    if change.get("rare_move"):
        shares = shares.copy()
        shares[3] += shares[4:].sum()
        shares[4:] = 0
    kind = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    if change.get("new_category"):
        kind[rng.random(n) < 0.1] = "new"
    amount = rng.normal(change.get("shift", 0.0), change.get("spread", 1.0), n)
    if change.get("nan"):
        amount[rng.random(n) < change["nan"]] = np.nan
    base = np.datetime64("2024-01-01", "s").astype(np.int64) + change.get("days", 0) * 86_400
    columns = {
        "amount": amount, "price": rng.lognormal(0, 1, n), "count": rng.integers(0, 50, n),
        "kind": kind.astype(str), "city": rng.choice(CITIES, n, p=shares), "flag": rng.random(n) < 0.3,
        "when": pa.array((base + rng.integers(0, 365 * 86_400, n)).astype("datetime64[s]")), "text": text,
    }
    if change.get("drop"):
        del columns["price"]
    if change.get("rename"):
        columns["cost"] = columns.pop("price")
    if change.get("retype"):
        columns["count"] = columns["count"].astype(str)
    return pa.table(columns)


SCENARIOS: list[tuple[str, Callable[[int], tuple[int, dict[str, Any]]]]] = [
    ("identical", lambda n: (0, {})),
    ("fresh sample, 100 rows", lambda n: (100, {})),
    ("fresh sample, 1,000 rows", lambda n: (1000, {})),
    ("fresh sample, N rows", lambda n: (n, {})),
    ("small mean shift (0.1 sd)", lambda n: (n, {"shift": 0.1})),
    ("large mean shift (1 sd)", lambda n: (n, {"shift": 1.0})),
    ("variance change (1.5x sd)", lambda n: (n, {"spread": 1.5})),
    ("new category (10% of rows)", lambda n: (n, {"new_category": True})),
    ("rare-category move", lambda n: (n, {"rare_move": True})),
    ("text vocabulary change", lambda n: (n, {"vocabulary": True})),
    ("NaN increase (+20 points)", lambda n: (n, {"nan": 0.2})),
    ("dropped column", lambda n: (n, {"drop": True})),
    ("renamed column", lambda n: (n, {"rename": True})),
    ("retyped column (int -> text)", lambda n: (n, {"retype": True})),
    ("date shift (+180 days)", lambda n: (n, {"days": 180})),
]


def mlv_step(reference_profile: Path, current: Path) -> None:
    from mlv.datahealth.check import check
    from mlv.datahealth.profiler import profile_dataset
    from mlv.datahealth.store import parse_profile

    start = time.process_time()
    result = check(profile_dataset(current), parse_profile(reference_profile.read_bytes(), "reference"))
    verdict = {"ok": result.ok, "healthy": result.healthy, "drifted": len(result.drifted_columns),
               "tested": len(result.columns), "fails": sorted({i.rule for i in result.issues if i.severity == "fail"})}
    print(json.dumps({"verdict": verdict, "cpu": time.process_time() - start}))


def run_child(argv: list[str]) -> tuple[dict[str, Any], float, float]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None
    out = proc.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": "crashed"}, 0.0, usage.ru_maxrss / 1024
    doc = json.loads(out.strip().splitlines()[-1])
    return doc["verdict"], doc["cpu"], usage.ru_maxrss / 1024


def _mlv_words(v: dict[str, Any]) -> str:
    if "error" in v:
        return v["error"]
    word = "healthy" if v["healthy"] else "passed with drift" if v["ok"] else "FAIL"
    return f"{word} ({v['drifted']}/{v['tested']} drifted{', ' + ', '.join(v['fails']) if v['fails'] else ''})"


def _evidently_words(v: dict[str, Any]) -> str:
    if "error" in v:
        return v["error"]
    return f"{'DRIFT' if v['dataset_drift'] else 'no drift'} ({v['drifted']} drifted)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--evidently-python", type=Path, default=EVIDENTLY_PYTHON)
    parser.add_argument("--million", action="store_true", help="also a fresh sample of 1,000,000 rows")
    parser.add_argument("--mlv-step", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mlv_step:
        mlv_step(Path(args.mlv_step[0]), Path(args.mlv_step[1]))
        return 0
    import pyarrow.parquet as pq

    from mlv.datahealth.profiler import profile_dataset

    scenarios = list(SCENARIOS)
    if args.million:
        scenarios.insert(4, ("fresh sample, 1,000,000 rows", lambda n: (1_000_000, {})))
    evidently = args.evidently_python.exists()
    with tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "reference.parquet"
        pq.write_table(make_table(1, args.rows), reference)
        stored = Path(tmp) / "reference.json"
        stored.write_text(profile_dataset(reference).dumps())
        print(f"reference: {args.rows:,} rows x 8 columns")
        print("| scenario | mlv | Evidently | mlv CPU s | Evidently CPU s | mlv RSS MB | Evidently RSS MB |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for index, (name, make) in enumerate(scenarios):
            rows, change = make(args.rows)
            current = Path(tmp) / f"current-{index}.parquet"
            pq.write_table(make_table(1 if rows == 0 else 100 + index, rows or args.rows, **change), current)
            ours, cpu, rss = run_child([sys.executable, "-m", "benchmarks.health_scenarios", "--mlv-step",
                                        str(stored), str(current)])
            theirs, their_cpu, their_rss = ({"error": "not run"}, 0.0, 0.0)
            if evidently:
                theirs, their_cpu, their_rss = run_child([str(args.evidently_python), "-c", EVIDENTLY_STEP,
                                                          str(reference), str(current)])
            print(f"| {name.replace('N rows', f'{args.rows:,} rows')} | {_mlv_words(ours)} | "
                  f"{_evidently_words(theirs)} | {cpu:.2f} | {their_cpu:.2f} | {rss:.0f} | {their_rss:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
