"""mlv.gates: rule parsing and evaluation, pure functions (no git)."""

from __future__ import annotations

import pytest

from mlv.errors import ConfigError
from mlv.gates import Facts, evaluate, failed, lower_is_better_by_name, parse_policy
from tests.test_registry_helpers import GATE_DROP_BOUNDARIES


@pytest.mark.parametrize(("name", "lower"), [
    ("loss", True), ("val.loss", True), ("test_mse", True), ("rmse", True), ("mae", True), ("log_loss", True),
    ("error_rate", True), ("accuracy", False), ("r2", False), ("f1", False), ("msec_per_item", False),
])
def test_direction_defaults_from_the_name(name: str, lower: bool) -> None:
    assert lower_is_better_by_name(name) is lower


def test_min_max_and_drops_against_the_base() -> None:
    policy = parse_policy({"metrics": {"r2": {"min": 0.9, "max_drop_abs": 0.01},
                                       "mse": {"max": 0.2, "max_drop_rel": 0.05}}}, "gates.prod")
    good = evaluate(policy, Facts({"r2": 0.95, "mse": 0.1}, {"r2": 0.955, "mse": 0.099}, "prod v0.0.1"))
    assert failed(good) == []
    bad = failed(evaluate(policy, Facts({"r2": 0.85, "mse": 0.3}, {"r2": 0.95, "mse": 0.1}, "prod v0.0.1")))
    assert [(r.metric, r.rule) for r in bad] == [("r2", "min"), ("r2", "max_drop_abs"), ("mse", "max"),
                                                ("mse", "max_drop_rel")]
    drop = next(r for r in bad if r.rule == "max_drop_abs")
    assert (drop.value, drop.base, drop.threshold) == (0.85, 0.95, 0.01)
    assert "prod v0.0.1" in drop.message


def test_direction_override_and_no_base() -> None:
    policy = parse_policy({"metrics": {"loss": {"higher_is_better": True, "max_drop_abs": 0.0}}}, "g")
    assert failed(evaluate(policy, Facts({"loss": 2.0}, {"loss": 1.0}))) == []
    assert failed(evaluate(policy, Facts({"loss": 0.5}, {"loss": 1.0})))[0].rule == "max_drop_abs"
    assert failed(evaluate(policy, Facts({"loss": 0.5}, None))) == []  # nothing to compare with


@pytest.mark.parametrize(("base", "new", "bound", "passes"), GATE_DROP_BOUNDARIES)
@pytest.mark.parametrize("higher_is_better", [True, False])
def test_drop_boundaries_either_way_round(base: float, new: float, bound: dict[str, float], passes: bool,
                                          higher_is_better: bool) -> None:
    """Lower-is-better mirrors higher-is-better: the same change in the worse direction."""
    if not higher_is_better:
        base, new = -base, -new
    policy = parse_policy({"metrics": {"score": {"higher_is_better": higher_is_better, **bound}}}, "g")
    [result] = evaluate(policy, Facts({"score": new}, {"score": base}))
    assert (result.rule, result.passed) == (*bound, passes)


def test_nested_metric_names_and_missing_metric() -> None:
    policy = parse_policy({"metrics": {"acc": {"min": 0.5}}}, "g")
    assert failed(evaluate(policy, Facts({"eval.acc": 0.7}))) == []
    missing = failed(evaluate(policy, Facts({"other": 1.0})))
    assert [r.rule for r in missing] == ["missing"]
    nan = failed(evaluate(policy, Facts({"acc": float("nan")})))
    assert [r.rule for r in nan] == ["missing"]


def test_fact_rules() -> None:
    policy = parse_policy({"reproduced": True, "from": ["staging"], "branches": "main"}, "g")
    results = evaluate(policy, Facts({}, reproduced_verdict="not_reproduced", current_stages=("dev",),
                                     branches=("feature",)))
    assert [r.rule for r in failed(results)] == ["reproduced", "from", "branches"]
    ok = evaluate(policy, Facts({}, reproduced_verdict="reproduced_within_tolerance", current_stages=("staging",),
                                branches=("main", "x")))
    assert failed(ok) == []


@pytest.mark.parametrize("doc", [
    "nope", {"metrics": {"r2": {"minimum": 1}}}, {"metrics": {"r2": {"min": "high"}}},
    {"metrics": {"r2": {"max_drop_rel": -0.1}}}, {"reproduced": "yes"}, {"from": [1]}, {"unknown": 1},
    {"metrics": {"r2": {"higher_is_better": "no"}}}, {"metrics": ["r2"]},
])
def test_bad_policies_are_one_config_error(doc: object) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(doc, "models.churn.gates.prod")
    assert "models.churn.gates.prod" in caught.value.message
    assert "\n" not in caught.value.one_line()
