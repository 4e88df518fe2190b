"""Evaluate a GatePolicy on a candidate's facts: one RuleResult per rule, pass or fail, with the
value and the threshold it was held to, so a refusal can say exactly why."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from mlv.finite import is_finite_number
from mlv.gates.rules import GatePolicy, MetricRule


@dataclass(frozen=True)
class Facts:
    """What is known about the candidate (and the base it would replace). Metrics are flat:
    dotted names to values, as `mlv.record.record.flatten` gives them."""

    metrics: dict[str, Any]
    base_metrics: dict[str, Any] | None = None  # None: nothing to compare with (drop rules pass)
    base_label: str | None = None  # how to name the base in messages, e.g. "prod v0.0.3"
    reproduced_verdict: str | None = None  # the newest saved `mlv reproduce` verdict whose evidence checks out
    current_stages: tuple[str, ...] = ()
    branches: tuple[str, ...] = ()
    data_check: str | None = None  # "pass" or "fail": `mlv data check` of the data against the base
    data_check_detail: str = ""  # one line saying what was checked, against what


@dataclass(frozen=True)
class RuleResult:
    rule: str  # "min", "max", "max_drop_abs", "max_drop_rel", "missing", "reproduced", "from", "branches",
    # "data_check"
    passed: bool
    message: str  # one line, e.g. "accuracy 0.78 < min 0.8"
    metric: str | None = None
    value: Any = None
    threshold: Any = None
    base: Any = None
    skipped: bool = False  # not checked (nothing to compare with): passed, and says why in message

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def failed(results: list[RuleResult]) -> list[RuleResult]:
    return [r for r in results if not r.passed]


def lookup(metrics: dict[str, Any], name: str) -> Any:
    """NAME's value: an exact dotted key, else the one key ending in `.NAME` (a metrics file name
    or a nesting level may prefix it). None when absent or ambiguous."""
    if name in metrics:
        return metrics[name]
    matches = [k for k in metrics if k.endswith("." + name)]
    return metrics[matches[0]] if len(matches) == 1 else None


def _num(value: Any) -> float | None:
    return float(value) if is_finite_number(value) else None


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _metric(rule: MetricRule, facts: Facts) -> list[RuleResult]:
    name = rule.metric
    value = _num(lookup(facts.metrics, name))
    if value is None:
        return [RuleResult("missing", False, f"{name} is missing or not a finite number in the candidate's metrics",
                           metric=name)]
    results: list[RuleResult] = []
    if rule.min is not None:
        ok = value >= rule.min
        results.append(RuleResult("min", ok, f"{name} {_fmt(value)} {'>=' if ok else '<'} min {_fmt(rule.min)}",
                                  metric=name, value=value, threshold=rule.min))
    if rule.max is not None:
        ok = value <= rule.max
        results.append(RuleResult("max", ok, f"{name} {_fmt(value)} {'<=' if ok else '>'} max {_fmt(rule.max)}",
                                  metric=name, value=value, threshold=rule.max))
    if rule.max_drop_abs is None and rule.max_drop_rel is None:
        return results
    base = None if facts.base_metrics is None else _num(lookup(facts.base_metrics, name))
    label = facts.base_label or "the base"
    if base is None:
        why = "no base to compare with" if facts.base_metrics is None else f"{label} has no {name}"
        for key in ("max_drop_abs", "max_drop_rel"):
            limit = getattr(rule, key)
            if limit is not None:
                results.append(RuleResult(key, True, f"{name}: {key} not checked ({why})", metric=name,
                                          value=value, threshold=limit, skipped=True))
        return results
    drop = (base - value) if rule.higher_is_better else (value - base)  # > 0: worse than the base
    if rule.max_drop_abs is not None:
        ok = drop <= rule.max_drop_abs
        results.append(RuleResult(
            "max_drop_abs", ok, f"{name} {_fmt(value)} vs {label} {_fmt(base)}: {_change(drop, _fmt(abs(drop)))} "
            f"({'<=' if ok else '>'} max_drop_abs {_fmt(rule.max_drop_abs)})",
            metric=name, value=value, threshold=rule.max_drop_abs, base=base))
    if rule.max_drop_rel is not None:
        rel = drop / abs(base) if base != 0 else (0.0 if drop <= 0 else math.inf)
        ok = rel <= rule.max_drop_rel
        results.append(RuleResult(
            "max_drop_rel", ok, f"{name} {_fmt(value)} vs {label} {_fmt(base)}: {_change(rel, f'{abs(rel):.2%}')} "
            f"({'<=' if ok else '>'} max_drop_rel {rule.max_drop_rel:.2%})",
            metric=name, value=value, threshold=rule.max_drop_rel, base=base))
    return results


def evaluate(policy: GatePolicy, facts: Facts) -> list[RuleResult]:
    """Every rule of POLICY on FACTS, in a stable order: metrics as configured, then the others."""
    results: list[RuleResult] = []
    for rule in policy.metrics:
        results.extend(_metric(rule, facts))
    if policy.reproduced:
        verdict = facts.reproduced_verdict
        ok = verdict in ("reproduced", "reproduced_within_tolerance")
        said = f"saved verdict {verdict}" if verdict else "no saved verdict whose evidence checks out"
        results.append(RuleResult("reproduced", ok, f"reproduced: {said}" + (
            "" if ok else " (run `mlv reproduce REV --save`)"), value=verdict, threshold=True))
    if policy.data_check:
        ok = facts.data_check == "pass"
        results.append(RuleResult("data_check", ok, f"data_check: {facts.data_check or 'not run'}"
                                  + (f" ({facts.data_check_detail})" if facts.data_check_detail else ""),
                                  value=facts.data_check, threshold="pass"))
    if policy.from_stages is not None:
        now = [s for s in facts.current_stages if s in policy.from_stages]
        ok = bool(now)
        shown = ", ".join(facts.current_stages) or "none"
        results.append(RuleResult("from", ok, f"from: the version is in stage(s) {shown}; needs one of "
                                  f"{', '.join(policy.from_stages)}", value=list(facts.current_stages),
                                  threshold=list(policy.from_stages)))
    if policy.branches is not None:
        on = [b for b in facts.branches if b in policy.branches]
        ok = bool(on)
        where = ", ".join(on if ok else policy.branches)
        results.append(RuleResult("branches", ok, f"branches: the commit is {'on' if ok else 'on none of'} {where}",
                                  value=list(facts.branches), threshold=list(policy.branches)))
    return results


def _change(drop: float, amount: str) -> str:
    """How the candidate compares, in words: a negative drop is an improvement."""
    if drop > 0:
        return f"worse by {amount}"
    return f"better by {amount}" if drop < 0 else "the same"
