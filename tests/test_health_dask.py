"""`mlv data profile --engine dask`: one task per file on a Dask scheduler, the pieces merged into
the profile one process makes (equal, or within the KLL sketch's rank error for quantiles)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from mlv.datahealth.errors import DataHealthError
from mlv.datahealth.model import Profile
from mlv.datahealth.partitions import profile_dataset_dask
from mlv.datahealth.profiler import profile_dataset
from tests.test_health_cli import run


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    rng = np.random.default_rng(60)
    folder = tmp_path / "shards"
    folder.mkdir()
    for i in range(6):
        n = 30_000
        x = rng.lognormal(i * 0.1, 1, n)
        x[rng.random(n) < 0.01] = np.nan
        when = pa.array((np.int64(1_700_000_000) + rng.integers(0, 10**7, n)).astype("datetime64[s]"))
        table = pa.table({"x": x, "k": rng.integers(0, 4, n), "city": rng.choice([f"c{j}" for j in range(50)], n),
                          "flag": rng.random(n) < 0.3, "when": when})
        if i % 2:
            pq.write_table(table, folder / f"part-{i}.parquet")
        else:
            pacsv.write_csv(table.drop_columns(["when"]).append_column("when", table["when"]), folder / f"part-{i}.csv")
    return folder


def _assert_equal_within_bounds(single: Profile, merged: Profile) -> None:
    assert merged.rows == single.rows and [c.name for c in merged.columns] == [c.name for c in single.columns]
    for one, many in zip(single.columns, merged.columns, strict=True):
        assert (many.dtype, many.count, many.missing) == (one.dtype, one.count, one.missing)
        assert many.distinct == one.distinct
        assert many.categories == one.categories and (many.minimum, many.maximum) == (one.minimum, one.maximum)
        if one.numeric is not None and many.numeric is not None and one.distinct > 1000:  # continuous
            a, b = one.numeric, many.numeric
            assert (b.minimum, b.maximum) == (a.minimum, a.maximum)
            assert b.mean == pytest.approx(a.mean, rel=1e-12) and b.std == pytest.approx(a.std, rel=1e-9)
            # Each quantile of the merged profile sits at its level, within both sketches' rank error,
            # in the single-process profile's distribution (known by its 101 quantiles, 1% apart).
            levels = np.interp(b.quantiles[1:-1], a.quantiles, np.linspace(0, 1, 101))
            assert np.abs(levels - np.linspace(0, 1, 101)[1:-1]).max() <= a.rank_error + b.rank_error + 0.01


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_dask_profile_equals_the_single_process_profile_within_the_sketch_bounds(shards: Path, scheduler: str) -> None:
    merged = profile_dataset_dask(shards, scheduler)
    assert merged.source == {"format": "mixed", "files": 6, "engine": "dask"}
    _assert_equal_within_bounds(profile_dataset(shards), merged)


def test_dask_profile_on_a_local_cluster(shards: Path) -> None:
    from distributed import LocalCluster

    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        merged = profile_dataset_dask(shards, cluster.scheduler_address)
    _assert_equal_within_bounds(profile_dataset(shards), merged)


def test_dask_engine_from_the_command_line(shards: Path) -> None:
    proc = run(shards.parent, "data", "profile", "shards", "--engine", "dask", "--scheduler", "synchronous", "--json")
    doc = json.loads(proc.stdout)
    assert doc["rows"] == 180_000 and doc["source"]["engine"] == "dask"
    Profile.from_json(doc)


@pytest.mark.parametrize(("args", "expected"), [
    (["--engine", "spark"], "error: --engine 'spark' is not known"),
    (["--engine", "dask", "--scheduler", "http://example.com"], "error: --scheduler 'http://example.com' is neither"),
    (["--engine", "dask", "--rev", "HEAD"], "error: --engine dask profiles files or folders named"),
])
def test_bad_engine_options_are_one_line(shards: Path, args: list[str], expected: str) -> None:
    proc = run(shards.parent, "data", "profile", "shards", *args, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith(expected), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_files_whose_column_types_disagree_are_refused_by_the_dask_engine(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n1.5\n2.5\n")
    (tmp_path / "b.csv").write_text("x\nred\nblue\n")
    with pytest.raises(DataHealthError, match="column x: cannot merge a categorical column into a numeric one"):
        profile_dataset_dask(tmp_path, "synchronous")
