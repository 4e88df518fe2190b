"""`mlv data profile` and `mlv data check` end to end: real files in temporary folders, exit codes
and the one-line errors.

Most tests call the app in-process (typer's CliRunner): each run of the real executable pays about
a second of imports (pyarrow, scipy) on a shared two-core machine. Two tests run the executable:
the exit code as a shell sees it, and the missing extra (which needs a fresh interpreter).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlv.cli.app import app
from tests.conftest import REPO_ROOT, mlv

SCHEMA = REPO_ROOT / "mlv" / "schemas" / "data-check.schema.json"


def _table(seed: int, shift: float = 0.0, rows: int = 400) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"x": rng.normal(shift, 1, rows), "n": rng.integers(0, 50, rows),
                     "colour": rng.choice(["red", "green", "blue"], rows)})


class Run:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run(cwd: Path, *args: str, check: bool = True) -> Run:
    """`mlv ARGS` in CWD, in this process."""
    import os

    before = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, list(args), prog_name="mlv", env={"COLUMNS": "120"})
    finally:
        os.chdir(before)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    if check and result.exit_code != 0:
        raise AssertionError(f"mlv {' '.join(args)} exited {result.exit_code}: {result.stderr}")
    return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    pacsv.write_csv(_table(1), tmp_path / "reference.csv")
    pacsv.write_csv(_table(2), tmp_path / "same.csv")
    pacsv.write_csv(_table(3, shift=1.0).drop_columns(["n"]).append_column("n", pa.array(
        np.random.default_rng(3).integers(40, 90, 400))), tmp_path / "drifted.csv")
    return tmp_path


def test_same_distribution_exits_0_and_json_matches_its_schema(files: Path) -> None:
    proc = run(files, "data", "check", "same.csv", "--against-file", "reference.csv", "--json")
    doc = json.loads(proc.stdout)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(doc, schema)
    assert doc["ok"] and doc["drifted_columns"] == []
    assert {c["method"] for c in doc["columns"]} == {"ks", "chi_squared"}


def test_drift_exits_1_from_the_real_executable(files: Path) -> None:
    proc = mlv(files, "data", "check", "drifted.csv", "--against-file", "reference.csv", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "dataset drift and large drift in x, n: 2 of 3 columns drifted" in proc.stdout


def test_drift_in_json_and_markdown(files: Path) -> None:
    proc = run(files, "data", "check", "drifted.csv", "--against-file", "reference.csv", "--json", check=False)
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    assert doc["dataset_drift"] and sorted(doc["drifted_columns"]) == ["n", "x"]
    proc = run(files, "data", "check", "drifted.csv", "--against-file", "reference.csv", "--md", check=False)
    assert proc.returncode == 1
    assert proc.stdout.startswith("### Data check") and "| x | numeric | ks |" in proc.stdout


def test_a_saved_profile_serves_as_reference_and_parquet_folders_are_read(files: Path) -> None:
    profile = run(files, "data", "profile", "reference.csv", "--json").stdout
    (files / "reference.json").write_text(profile)
    folder = files / "parts"
    folder.mkdir()
    table = _table(2)
    pq.write_table(table.slice(0, 200), folder / "a.parquet")
    pq.write_table(table.slice(200), folder / "b.parquet")
    doc = json.loads(run(files, "data", "check", "parts", "--against-file", "reference.json", "--json").stdout)
    assert doc["rows"] == {"reference": 400, "current": 400} and doc["ok"]
    assert "400 rows" in run(files, "data", "profile", "parts").stdout


def test_missing_values_fail_the_health_check(files: Path) -> None:
    text = (files / "same.csv").read_text().splitlines()
    text[5] = '"",' + text[5].split(",", 1)[1]  # one empty x
    (files / "holes.csv").write_text("\n".join(text) + "\n")
    proc = run(files, "data", "check", "holes.csv", "--against-file", "reference.csv", check=False)
    assert proc.returncode == 1
    assert "column x has 1 missing values" in proc.stdout


def test_a_later_non_numeric_value_turns_the_column_into_text(files: Path) -> None:
    # Past the first 1 MB, from which pyarrow infers the types.
    lines = ["id,value"] + [f"{i},{i}" for i in range(120_000)] + ["120000,oops"]
    (files / "late.csv").write_text("\n".join(lines) + "\n")
    doc = json.loads(run(files, "data", "profile", "late.csv", "--json").stdout)
    kinds = {c["name"]: c["dtype"] for c in doc["columns"]}
    assert kinds == {"id": "numeric", "value": "categorical"} and doc["rows"] == 120_001


@pytest.mark.parametrize(("setup", "expected"), [
    ("missing", "error: nope.csv: no such file or folder."),
    ("not_tabular", "error: picture.png is not a CSV or Parquet file."),
    ("bad_json", "error: broken.json is not a data profile"),
    ("mismatched", "error: mismatched columns: "),
])
def test_could_not_run_exits_2_with_one_line(files: Path, setup: str, expected: str) -> None:
    target = {"missing": "nope.csv", "not_tabular": "picture.png", "bad_json": "broken.json",
              "mismatched": "mixed"}[setup]
    (files / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (files / "broken.json").write_text("{not json")
    (files / "mixed").mkdir()
    pacsv.write_csv(_table(1), files / "mixed" / "a.csv")
    pacsv.write_csv(_table(1).drop_columns(["colour"]), files / "mixed" / "b.csv")
    proc = run(files, "data", "check", target, "--against-file", "reference.csv", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(expected), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


def test_missing_extra_is_one_line(files: Path, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "pyarrow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('simulated: pyarrow is not installed')\n")
    env = {"PYTHONPATH": f"{shadow.parent}:{REPO_ROOT}"}
    proc = mlv(files, "data", "profile", "reference.csv", check=False, env=env)
    assert proc.returncode == 2
    assert proc.stderr == "error: data health needs the optional extra: pip install 'mlv-vcs[data]'\n"
