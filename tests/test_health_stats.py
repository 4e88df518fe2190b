"""The statistics of mlv.datahealth against scipy on raw data, and the false-alarm rate at 1,000,000 rows.

Profiles are built from Arrow tables in memory (profile_table): the CSV reader is tested in
test_health_cli.py, and writing big CSVs here would only make the suite slow.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp, wasserstein_distance

from mlv.datahealth.check import check
from mlv.datahealth.model import Profile
from mlv.datahealth.profiler import profile_dataset, profile_table
from mlv.datahealth.sketch import DistinctCounter, FrequentItems, QuantileSketch, hash_strings, mix64
from mlv.datahealth.stats import benjamini_hochberg
from mlv.datahealth.thresholds import Thresholds, thresholds_from_config
from mlv.errors import ConfigError

# Wasserstein-1 from two profiles vs scipy on the raw values, as a share of the reference std.
# Measured worst case over the distributions below (20k to 1M rows) is 1.7e-4 (lognormal, where
# the quantile functions cross inside a percentile); the bound leaves room.
W1_TOLERANCE = 0.002


def _roundtrip(profile: Profile) -> Profile:
    """Through JSON, as a stored profile would be."""
    return Profile.from_json(json.loads(profile.dumps()))


def _profile(**columns: Any) -> Profile:
    return _roundtrip(profile_table(pa.table(columns)))


def _column_result(ref: Profile, cur: Profile, name: str = "x", **limits: Any) -> Any:
    result = check(cur, ref, Thresholds(**limits))
    return next(c for c in result.columns if c.column == name)


RNG = np.random.default_rng(20240601)
KS_SAMPLES = [
    (RNG.normal(0, 1, 300), RNG.normal(0.1, 1, 500)),
    (RNG.normal(0, 1, 400), RNG.normal(0, 1.3, 400)),  # equal sizes: scipy's n == m exact path
    (RNG.integers(0, 20, 1000).astype(float), RNG.integers(0, 22, 700).astype(float)),  # many ties
    (RNG.uniform(0, 1, 1000), RNG.uniform(0.05, 1, 999)),
    (RNG.lognormal(0, 1, 50), RNG.lognormal(0, 1, 1000)),
]


@pytest.mark.parametrize(("reference", "current"), KS_SAMPLES)
def test_ks_matches_scipy_from_stored_profiles(reference: Any, current: Any) -> None:
    drift = _column_result(_profile(x=reference), _profile(x=current))
    expected = ks_2samp(reference, current)
    assert drift.method == "ks"
    assert drift.score == pytest.approx(expected.statistic, abs=1e-9)
    assert drift.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert drift.effect_size == drift.score  # an effect size always beside the p-value


def _bimodal(rng: np.random.Generator, n: int, share: float = 0.3) -> Any:
    return np.where(rng.random(n) < share, rng.normal(-2, 0.5, n), rng.normal(2, 1, n))


Sampler = Callable[[np.random.Generator, int], Any]
W1_PAIRS: dict[str, tuple[Sampler, Sampler]] = {
    "normal": (lambda r, n: r.normal(0, 1, n), lambda r, n: r.normal(0.3, 1.2, n)),
    "lognormal": (lambda r, n: r.lognormal(0, 1, n), lambda r, n: r.lognormal(0.1, 0.9, n)),
    "uniform": (lambda r, n: r.uniform(0, 10, n), lambda r, n: r.uniform(1, 10, n)),
    "bimodal": (_bimodal, lambda r, n: _bimodal(r, n, 0.5)),
}


@pytest.mark.parametrize("n", [20_000, 100_000])  # exact quantiles, and the sketch
@pytest.mark.parametrize("name", sorted(W1_PAIRS))
def test_wasserstein_from_profiles_is_close_to_scipy_on_raw_data(name: str, n: int) -> None:
    rng = np.random.default_rng(len(name) * n)
    make_ref, make_cur = W1_PAIRS[name]
    reference, current = make_ref(rng, n), make_cur(rng, n)
    drift = _column_result(_profile(x=reference), _profile(x=current))
    expected = wasserstein_distance(reference, current) / np.std(reference)
    assert drift.method == "wasserstein"
    assert abs(drift.score - expected) <= W1_TOLERANCE, (drift.score, expected)


def test_jensen_shannon_matches_scipy_natural_log() -> None:
    rng = np.random.default_rng(3)
    labels = [f"v{i}" for i in range(8)]
    reference = rng.choice(labels, 5000, p=np.full(8, 1 / 8))
    current = rng.choice(labels, 6000, p=[0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05])
    drift = _column_result(_profile(x=reference), _profile(x=current))
    ref_counts = [int((reference == v).sum()) for v in labels]
    cur_counts = [int((current == v).sum()) for v in labels]
    assert drift.method == "jensen_shannon"
    assert drift.score == pytest.approx(jensenshannon(ref_counts, cur_counts), abs=1e-12)
    assert drift.drifted


def test_chi_squared_for_small_categorical_samples_and_few_valued_numbers() -> None:
    rng = np.random.default_rng(4)
    ref = _profile(x=rng.choice(["a", "b", "c"], 600), n=rng.integers(0, 3, 600))
    cur = _profile(x=rng.choice(["a", "b", "c"], 600, p=[0.6, 0.2, 0.2]), n=rng.integers(0, 3, 600))
    result = check(cur, ref)
    by_name = {c.column: c for c in result.columns}
    assert by_name["x"].method == "chi_squared" and by_name["x"].drifted
    assert by_name["n"].kind == "categorical" and not by_name["n"].drifted  # <= 5 values: categorical
    assert 0 < by_name["x"].effect_size < 1  # Cramer's V


def _same_distribution(seed: int, n: int = 1_000_000) -> dict[str, Any]:
    """N rows of six columns; any two seeds give two samples of the same distributions."""
    rng = np.random.default_rng(seed)
    return {"normal": rng.normal(0, 1, n), "lognormal": rng.lognormal(0, 1, n),
            "uniform": rng.uniform(0, 1, n), "bimodal": _bimodal(rng, n),
            "category": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "small_int": rng.integers(0, 4, n)}


@pytest.fixture(scope="module")
def million() -> dict[str, Any]:
    """Reference and current tables of 1,000,000 rows drawn from the same distributions."""
    reference, current = _same_distribution(1), _same_distribution(2)
    return {"reference": profile_table(pa.table(reference)), "current": current,
            "current_profile": profile_table(pa.table(current))}


def test_no_column_flagged_on_a_million_rows_of_the_same_distribution(million: dict[str, Any]) -> None:
    result = check(million["current_profile"], million["reference"])
    assert result.drifted_columns == []
    assert result.issues == []
    assert result.ok
    assert max(c.score for c in result.columns) < 0.02  # far below the 0.1 thresholds


@pytest.mark.slow  # 21 profiles of 1,000,000 rows
def test_no_column_flagged_in_twenty_pairs_of_a_million_rows_of_one_distribution() -> None:
    profiles = [profile_table(pa.table(_same_distribution(seed))) for seed in range(100, 121)]
    for reference, current in itertools.pairwise(profiles):  # 20 pairs, each sample in at most two
        result = check(current, reference)
        assert result.drifted_columns == [] and result.issues == [] and result.ok
        assert max(c.score for c in result.columns) < 0.02


def test_mean_shift_of_a_fifth_std_is_flagged(million: dict[str, Any]) -> None:
    shifted = dict(million["current"], normal=million["current"]["normal"] + 0.2)
    result = check(profile_table(pa.table({"normal": shifted["normal"]})), million["reference"])
    drift = next(c for c in result.columns if c.column == "normal")
    assert drift.drifted and drift.score == pytest.approx(0.2, abs=0.01)


def test_five_percent_missing_is_a_health_failure(million: dict[str, Any]) -> None:
    values = million["current"]["uniform"].copy()
    values[np.random.default_rng(5).random(len(values)) < 0.05] = np.nan
    result = check(profile_table(pa.table({"uniform": values})), million["reference"])
    assert [i.rule for i in result.issues if i.column == "uniform"] == ["missing_new"]
    assert result.health_failed and not result.ok


def test_schema_changes_and_row_count() -> None:
    ref = _profile(a=np.arange(100.0), b=np.array(["x"] * 100), c=np.arange(100.0))
    cur = _profile(a=np.array(["t"] * 150), c=np.arange(150.0), d=np.arange(150.0))
    rules = {(i.rule, i.column, i.severity) for i in check(cur, ref).issues}
    assert rules == {("column_removed", "b", "fail"), ("column_added", "d", "warn"),
                     ("dtype_changed", "a", "fail"), ("row_count", None, "warn")}


def test_missing_share_growth_beyond_ten_points_fails() -> None:
    base = np.arange(1000.0)
    ref, cur = base.copy(), base.copy()
    ref[:50] = np.nan  # 5% missing
    cur[:140] = np.inf  # 14%: 9 points more, fine
    assert not check(_profile(x=cur), _profile(x=ref)).issues
    cur[:160] = np.nan  # 16%: 11 points more
    assert [i.rule for i in check(_profile(x=cur), _profile(x=ref)).issues] == ["missing_increase"]


def test_p_values_are_adjusted_across_columns_unless_fdr_is_off() -> None:
    base = np.arange(200) / 200
    shift = 0.1375  # K-S p about 0.035 on 200 + 200 values: drift alone, not after adjusting for 2 tests
    ref, cur = _profile(x=base, y=base), _profile(x=base + shift, y=base)
    raw = ks_2samp(base, base + shift).pvalue
    assert 0.025 < raw < 0.05
    adjusted = _column_result(ref, cur)
    assert adjusted.p_value == pytest.approx(raw, abs=1e-9)
    assert adjusted.p_adjusted == pytest.approx(2 * raw, abs=1e-9) and not adjusted.drifted
    unadjusted = _column_result(ref, cur, fdr=False)
    assert unadjusted.p_adjusted == pytest.approx(raw, abs=1e-9) and unadjusted.drifted


def test_new_categories_are_reported_only_when_the_reference_listed_all_its_values() -> None:
    # "many" has more values than a profile lists (1,000): an absent value may be in its tail.
    ref = _profile(x=np.array(["a", "b"] * 1100), many=np.array([f"v{i % 1100}" for i in range(2200)]))
    cur = _profile(x=np.array(["a", "b", "c", "b"] * 550), many=np.array([f"v{i % 1101}" for i in range(2200)]))
    issues = [i for i in check(cur, ref).issues if i.rule == "new_categories"]
    assert [(i.column, i.severity) for i in issues] == [("x", "warn")] and "'c'" in issues[0].message


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_quantile_sketch_stays_within_its_rank_error_bound() -> None:
    values = np.random.default_rng(6).standard_cauchy(300_000)
    sketch = QuantileSketch(k=512)
    for chunk in np.array_split(values, 37):
        sketch.add(chunk)
    assert not sketch.exact and 0 < sketch.rank_error < 0.01
    values_kept, weights = sketch.weighted()
    assert weights.sum() == len(values) and np.all(np.diff(values_kept) >= 0)
    quantiles, _ = sketch.summary(0.0)
    ordered = np.sort(values)
    for level, q in zip(np.linspace(0, 1, 101)[1:-1], quantiles[1:-1], strict=True):
        rank = np.searchsorted(ordered, q) / len(values)
        assert abs(rank - level) <= sketch.rank_error + 1 / len(values)


def test_quantile_sketches_merge_and_read_back_as_the_library_wrote_them() -> None:
    rng = np.random.default_rng(16)
    parts = [rng.normal(i, 1, 50_000) for i in range(4)]
    whole, merged = QuantileSketch(k=512), QuantileSketch(k=512)
    for part in parts:
        whole.add(part)
        piece = QuantileSketch(k=512)
        piece.add(part)
        merged.merge(QuantileSketch.deserialize(piece.serialize()))
    assert merged.count == whole.count == 200_000
    ordered = np.sort(np.concatenate(parts))
    kept, weights = merged.weighted()
    for level in (0.1, 0.5, 0.9):
        estimate = kept[np.searchsorted(np.cumsum(weights) / weights.sum(), level)]
        rank = np.searchsorted(ordered, estimate) / len(ordered)
        assert abs(rank - level) <= merged.rank_error + 1e-5
    one = QuantileSketch()
    one.add(np.array([2.5]))
    assert one.weighted()[0].tolist() == [2.5] and one.exact and one.rank_error == 0


def test_distinct_count_exact_then_estimated() -> None:
    counter = DistinctCounter(k=1024)
    counter.add(mix64(np.arange(1000, dtype=np.uint64)))
    assert counter.exact and counter.estimate() == 1000
    for start in range(0, 100_000, 10_000):
        counter.add(mix64(np.arange(start, start + 10_000, dtype=np.uint64)))
    assert not counter.exact and abs(counter.estimate() - 100_000) < 10_000  # 1/sqrt(1024) ~ 3%


def test_profile_json_is_small_and_round_trips(million: dict[str, Any]) -> None:
    profile = million["reference"]
    text = profile.dumps()
    assert len(text) < 100_000
    again = _roundtrip(profile)
    assert again == Profile.from_json(json.loads(text)) and again.rows == 1_000_000
    column = again.column("normal")
    assert column is not None and column.numeric is not None
    assert column.numeric.values is None  # large columns keep no raw values


def test_thresholds_from_config() -> None:
    assert thresholds_from_config(None) == Thresholds()
    limits = thresholds_from_config({"p_value": 0.01, "method": "psi", "fdr": False, "small_sample": 500})
    assert (limits.p_value, limits.method, limits.fdr, limits.small_sample) == (0.01, "psi", False, 500)
    assert thresholds_from_config({"large_wasserstein": 100}).large_wasserstein == 100.0  # in std: unbounded
    for bad in ({"p_vlaue": 0.01}, {"p_value": 2}, {"fdr": "yes"}, {"method": "ks"}, {"small_sample": 1.5},
                {"large_wasserstein": -1}, {"large_jensen_shannon": 2}, {"large_wasserstein": float("nan")}):
        with pytest.raises(ConfigError):
            thresholds_from_config(bad)


def test_psi_on_request() -> None:
    rng = np.random.default_rng(8)
    ref, cur = _profile(x=rng.normal(0, 1, 5000)), _profile(x=rng.normal(0.5, 1, 5000))
    drift = _column_result(ref, cur, method="psi")
    assert drift.method == "psi" and drift.drifted
    assert not _column_result(ref, ref, method="psi").drifted


def test_distinct_counter_keeps_the_k_smallest_distinct_hashes_despite_duplicates() -> None:
    # Few distinct values repeated many times: the partition shortcut must not lose any of them.
    hashes = mix64(np.random.default_rng(9).integers(0, 3000, 200_000).astype(np.uint64))
    counter = DistinctCounter(k=1024)
    for chunk in np.array_split(hashes, 7):
        counter.add(chunk)
    assert not counter.exact
    assert list(counter._hashes) == list(np.unique(hashes)[:1024])


def test_files_of_a_folder_may_list_their_columns_in_another_order(tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text("x,label\n1.5,red\n2.5,blue\n")
    (folder / "b.csv").write_text("label,x\ngreen,10.0\n")
    profile = profile_dataset(folder)
    x, label = profile.column("x"), profile.column("label")
    assert profile.rows == 3 and x is not None and label is not None and x.numeric is not None
    assert (x.numeric.minimum, x.numeric.maximum, x.distinct) == (1.5, 10.0, 3)
    assert label.categories is not None and {v for v, _ in label.categories.top} == {"red", "blue", "green"}


def _reference_string_hash(text: str) -> int:
    """hash_strings' documented definition, one string at a time in plain Python."""
    data, total = text.encode(), 0
    for position, byte in enumerate(data):
        total = (total + (byte + 1) * pow(0x100000001B3, position, 2**64)) % 2**64
    length_hash = int(mix64(np.array([len(data)], dtype=np.uint64))[0])
    return int(mix64(np.array([total ^ length_hash], dtype=np.uint64))[0])


def test_string_hash_is_vectorised_yet_the_same_as_its_definition() -> None:
    words = ["", "a", "ab", "ba", "a\x00", "é", "日本語", "a" * 300, "x"]
    array = pa.array(["skipped", *words]).slice(1)  # a slice: offsets not starting at 0
    assert [int(h) for h in hash_strings(array)] == [_reference_string_hash(w) for w in words]
    many = pa.array([f"id-{i}" for i in range(200_000)])
    assert len(np.unique(hash_strings(many))) == 200_000


def test_frequent_items_match_a_plain_misra_gries_summary() -> None:
    rng = np.random.default_rng(10)
    batches = [rng.zipf(1.3, 5000).astype(str) for _ in range(6)]
    items, error = FrequentItems(capacity=300), 0
    counts: dict[str, int] = {}  # the reference: a dict
    for batch in batches:
        values, value_counts = np.unique(batch, return_counts=True)
        items.add(pa.array(values), value_counts)
        for value, count in zip(values.tolist(), value_counts.tolist(), strict=True):
            counts[value] = counts.get(value, 0) + count
        if len(counts) > 300:
            cut = sorted(counts.values(), reverse=True)[300]
            error += cut
            counts = {v: c - cut for v, c in counts.items() if c > cut}
    assert items.error == error > 0
    assert items.top(50) == sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:50]


def test_empty_strings_and_nulls_are_missing_in_text_columns() -> None:
    column = _profile(c=pa.array(["a", "", None, "b", "a"])).column("c")
    assert column is not None and column.categories is not None
    assert (column.missing, column.distinct, column.categories.top) == (2, 2, [("a", 2), ("b", 1)])


def _eight_columns(rng: np.random.Generator, n: int, shift: float = 0.0, spread: float = 1.0) -> Any:
    columns = {f"n{i}": rng.normal(0, 1, n) for i in range(7)}
    columns["n0"] = rng.normal(shift, spread, n)
    columns["c"] = rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])
    return pa.table(columns)


@pytest.mark.parametrize("n", [500, 20_000])  # K-S with a p-value, and Wasserstein
def test_a_one_sd_shift_in_one_of_eight_columns_fails_the_check_by_default(n: int) -> None:
    from mlv.cli.render.data_health import verdict

    rng = np.random.default_rng(n)
    reference = _roundtrip(profile_table(_eight_columns(rng, n)))
    result = check(profile_table(_eight_columns(rng, n, shift=1.0)), reference)
    assert result.drifted_columns == ["n0"] and not result.dataset_drift  # 1 of 8: below the share
    assert result.large_drift_columns == ["n0"] and not result.ok and not result.healthy
    assert verdict(result) == "large drift in n0: 1 of 8 columns drifted"
    doc = result.to_json()
    assert doc["ok"] is False and doc["healthy"] is False and doc["large_drift_columns"] == ["n0"]


def test_a_small_drift_passes_but_is_never_called_healthy() -> None:
    from mlv.cli.render.data_health import verdict

    rng = np.random.default_rng(28)
    reference = profile_table(_eight_columns(rng, 20_000))
    result = check(profile_table(_eight_columns(rng, 20_000, shift=0.2)), reference)
    assert result.drifted_columns == ["n0"] and result.large_drift_columns == []
    assert result.ok and not result.healthy
    assert verdict(result).startswith("passed with drift: 1 of 8 columns drifted") and "healthy" not in verdict(result)
    strict = check(profile_table(_eight_columns(rng, 20_000, shift=0.2)), reference,
                   thresholds_from_config({"large_wasserstein": 0}))  # the configured rule: any drift fails
    assert not strict.ok and strict.large_drift_columns == ["n0"]
    same = check(profile_table(_eight_columns(rng, 20_000)), reference)
    assert same.healthy and verdict(same) == "healthy: 0 of 8 columns drifted"


def test_a_category_moving_strongly_fails_alone() -> None:
    rng = np.random.default_rng(29)
    reference = profile_table(_eight_columns(rng, 20_000))
    moved = _eight_columns(rng, 20_000).set_column(7, "c", pa.array(rng.choice(["a", "d"], 20_000, p=[0.1, 0.9])))
    result = check(profile_table(moved), reference)
    assert result.large_drift_columns == ["c"] and not result.ok


def test_at_most_alpha_column_false_alarms_on_same_distribution_samples_of_every_size(
        million: dict[str, Any]) -> None:
    """Fresh samples of the reference's distributions, from 100 rows to 1,000,000, against the
    1,000,000-row reference: the test is chosen from both sides' sizes, so a small batch gets a
    p-value test (whose false-alarm rate is alpha by construction) and a large one an effect size."""
    reference = million["reference"]
    tested = alarms = 0
    samples = [(100, seed) for seed in range(40)] + [(1000, seed) for seed in range(40, 50)]
    samples += [(100_000, 50), (100_000, 51)]
    for n, seed in samples:
        result = check(profile_table(pa.table(_same_distribution(1000 + seed, n))), reference)
        if n <= 1000:
            assert {c.method for c in result.columns} <= {"ks_quantiles", "chi_squared"}
        tested += len(result.columns)
        alarms += len(result.drifted_columns)
    result = check(million["current_profile"], reference)  # and 1,000,000 rows
    tested, alarms = tested + len(result.columns), alarms + len(result.drifted_columns)
    assert tested == 6 * (len(samples) + 1)
    assert alarms / tested <= 0.05, (alarms, tested)
