"""Every category, free text, identifiers and dates: the drift scenarios Evidently catches, on
in-memory tables (profile_table), each scenario against a fresh sample of the same distribution."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from mlv.datahealth.check import check
from mlv.datahealth.model import Profile
from mlv.datahealth.profiler import profile_table

CITIES = [f"city{i:02d}" for i in range(40)]
CITY_SHARES = np.array([0.3, 0.2, 0.1, *([0.4 / 37] * 37)])


def _column(result: Any, name: str) -> Any:
    return next(c for c in result.columns if c.column == name)


def _profile(**columns: Any) -> Profile:
    return Profile.from_json(profile_table(pa.table(columns)).to_json())


def test_rows_moving_among_rare_categories_are_detected() -> None:
    rng = np.random.default_rng(40)
    n = 200_000
    reference = _profile(city=rng.choice(CITIES, n, p=CITY_SHARES))
    same = _profile(city=rng.choice(CITIES, n, p=CITY_SHARES))
    moved_shares = CITY_SHARES.copy()
    moved_shares[3] += moved_shares[4:].sum()  # the rows of every rarer city go to one rare city
    moved_shares[4:] = 0
    moved = _profile(city=rng.choice(CITIES, n, p=moved_shares))
    assert not _column(check(same, reference), "city").drifted
    drift = _column(check(moved, reference), "city")
    assert drift.method == "jensen_shannon" and drift.drifted and drift.score > 0.25  # Evidently: 0.312


def test_the_category_tail_is_bounded_and_shares_one_bucket() -> None:
    rng = np.random.default_rng(41)
    values = np.concatenate([rng.choice(["a", "b"], 5000), [f"rare{i}" for i in range(3000)]])
    column = _profile(c=values).column("c")
    assert column is not None and column.categories is not None
    assert len(column.categories.top) == 1000 and not column.categories.complete
    assert column.categories.other == 8000 - sum(n for _, n in column.categories.top)


def test_new_categories_keep_their_health_rule() -> None:
    rng = np.random.default_rng(42)
    reference = _profile(c=rng.choice(CITIES, 5000))
    current = _profile(c=np.concatenate([rng.choice(CITIES, 4900), ["brand new"] * 100]))
    issues = check(current, reference).issues
    assert [(i.rule, i.severity) for i in issues] == [("new_categories", "warn")] and "'brand new'" in issues[0].message


def _sentences(rng: np.random.Generator, vocabulary: list[str], n: int) -> list[str]:
    lengths = rng.integers(4, 12, n)
    words = rng.choice(vocabulary, int(lengths.sum()), p=_zipf(len(vocabulary)))
    cuts = np.cumsum(lengths)[:-1]
    return [" ".join(part) for part in np.split(words, cuts)]


def _zipf(size: int) -> Any:
    weights = 1 / np.arange(1, size + 1)
    return weights / weights.sum()


VOCABULARY = [f"w{i}" for i in range(2000)]
OTHER_VOCABULARY = [f"x{i}" for i in range(2000)]


@pytest.mark.parametrize("n_current", [100, 5000])
def test_free_text_is_tested_on_its_words(n_current: int) -> None:
    rng = np.random.default_rng(43)
    reference = _profile(t=_sentences(rng, VOCABULARY, 20_000))
    column = reference.column("t")
    assert column is not None and column.text is not None and column.text.tokens > 100_000
    same = _column(check(_profile(t=_sentences(rng, VOCABULARY, n_current)), reference), "t")
    assert same.kind == "text" and same.method == "text_tokens" and not same.drifted
    changed = check(_profile(t=_sentences(rng, OTHER_VOCABULARY, n_current)), reference)
    drift = _column(changed, "t")
    assert drift.drifted and drift.score > 0.8 and drift.large and not changed.ok  # out-of-vocabulary share


def test_a_column_unique_per_row_is_not_tested_as_an_identifier() -> None:
    reference = _profile(id=[f"user-{i}" for i in range(5000)])
    result = check(_profile(id=[f"user-{i}" for i in range(5000, 10_000)]), reference)
    assert result.columns == [] and result.skipped == [
        {"column": "id", "reason": "identifier: a distinct value in almost every row"}]
    assert not result.healthy or result.drifted_columns == []


def _dates(rng: np.random.Generator, start: str, n: int, days: int = 365) -> Any:
    base = np.datetime64(start, "s").astype(np.int64)
    return pa.array((base + rng.integers(0, days * 86_400, n)).astype("datetime64[s]"))


def test_dates_are_tested_for_drift_and_for_their_window() -> None:
    rng = np.random.default_rng(44)
    reference = _profile(d=_dates(rng, "2024-01-01", 20_000))
    same = check(_profile(d=_dates(rng, "2024-01-01", 20_000)), reference)
    assert _column(same, "d").kind == "datetime" and not _column(same, "d").drifted
    assert [i.rule for i in same.issues] == []
    shifted = check(_profile(d=_dates(rng, "2024-07-01", 20_000)), reference)
    drift = _column(shifted, "d")
    assert drift.drifted and drift.method == "wasserstein" and drift.large
    (issue,) = [i for i in shifted.issues if i.rule == "out_of_window"]
    assert issue.severity == "warn" and "after 2024-12-" in issue.message
    share = float(issue.message.split("%")[0].rsplit(" ", 1)[-1])
    assert 45 < share < 55  # half of the shifted year lies after the reference's last day


def test_dates_of_a_small_batch_get_a_p_value_test() -> None:
    rng = np.random.default_rng(45)
    days = rng.integers(0, 365, 500)
    reference = _profile(d=pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in days]))
    drift = _column(check(_profile(d=_dates(rng, "2024-01-01", 300)), reference), "d")
    assert drift.kind == "datetime" and drift.p_value is not None and not drift.drifted
