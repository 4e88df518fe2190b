"""Gate rules as dataclasses, and their parsing from a configuration mapping.

```yaml
metrics:
  accuracy: {min: 0.8, max_drop_abs: 0.01}
  mse: {max: 0.2, max_drop_rel: 0.05}      # mse: lower is better, from its name
reproduced: true
from: [staging]
branches: [main]
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlv.errors import ConfigError
from mlv.finite import is_finite_number

# Metric names whose smaller values are better, unless a rule says `higher_is_better`.
_LOWER_IS_BETTER = ("loss", "error", "mse", "rmse", "mae", "log_loss")
_METRIC_KEYS = {"min", "max", "max_drop_abs", "max_drop_rel", "higher_is_better"}
_POLICY_KEYS = {"metrics", "reproduced", "from", "branches"}


def lower_is_better_by_name(metric: str) -> bool:
    """`val.loss`, `test_mse`, `error_rate`: the last dotted part names the quantity."""
    leaf = metric.rsplit(".", 1)[-1].lower()
    return any(leaf == word or leaf.endswith(("_" + word, "-" + word)) or leaf.startswith(word + "_")
               for word in _LOWER_IS_BETTER)


@dataclass(frozen=True)
class MetricRule:
    """Bounds on one metric; drops are measured against a base (the version a candidate replaces)."""

    metric: str
    min: float | None = None
    max: float | None = None
    max_drop_abs: float | None = None  # how much worse than the base it may be, in the metric's unit
    max_drop_rel: float | None = None  # the same as a fraction of the base's value (0.05 = 5 %)
    higher_is_better: bool = True


@dataclass(frozen=True)
class GatePolicy:
    """Every rule for one gate (in the registry: one model and one stage)."""

    metrics: tuple[MetricRule, ...] = ()
    reproduced: bool = False  # require a saved `mlv reproduce` verdict reproduced/within_tolerance
    from_stages: tuple[str, ...] | None = None  # the candidate must be in one of these stages now
    branches: tuple[str, ...] | None = None  # the candidate's commit must be on one of these branches
    data_check: bool = False  # `mlv gate` only: the data passes `mlv data check` against the base

    @property
    def empty(self) -> bool:
        return not (self.metrics or self.reproduced or self.from_stages is not None or self.branches is not None
                    or self.data_check)


def _number(value: Any, where: str) -> float:
    if not is_finite_number(value):
        raise ConfigError(f"{where} must be a finite number, not {value!r}")
    return float(value)


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where} must be a list of names")
    return tuple(value)


def parse_metric_rule(metric: str, doc: Any, where: str) -> MetricRule:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}.{metric} must be a mapping like {{min: 0.8}}")
    unknown = set(doc) - _METRIC_KEYS
    if unknown:
        raise ConfigError(f"{where}.{metric}: unknown key {sorted(unknown)[0]!r}; "
                          f"known: {', '.join(sorted(_METRIC_KEYS))}")
    higher = doc.get("higher_is_better", not lower_is_better_by_name(metric))
    if not isinstance(higher, bool):
        raise ConfigError(f"{where}.{metric}.higher_is_better must be true or false")
    bounds = {key: _number(doc[key], f"{where}.{metric}.{key}") for key in
              ("min", "max", "max_drop_abs", "max_drop_rel") if doc.get(key) is not None}
    for key in ("max_drop_abs", "max_drop_rel"):
        if bounds.get(key, 0.0) < 0:
            raise ConfigError(f"{where}.{metric}.{key} must not be negative")
    return MetricRule(metric=metric, higher_is_better=higher, **bounds)


def parse_policy(doc: Any, where: str) -> GatePolicy:
    """A GatePolicy from its configuration mapping; WHERE names it in error messages."""
    if doc is None:
        return GatePolicy()
    if not isinstance(doc, dict):
        raise ConfigError(f"{where} must be a mapping (keys: {', '.join(sorted(_POLICY_KEYS))})")
    unknown = set(doc) - _POLICY_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_POLICY_KEYS))}")
    metrics_doc = doc.get("metrics") or {}
    if not isinstance(metrics_doc, dict):
        raise ConfigError(f"{where}.metrics must map metric names to rules")
    reproduced = doc.get("reproduced", False)
    if not isinstance(reproduced, bool):
        raise ConfigError(f"{where}.reproduced must be true or false")
    return GatePolicy(
        metrics=tuple(parse_metric_rule(str(name), rule, f"{where}.metrics") for name, rule in metrics_doc.items()),
        reproduced=reproduced,
        from_stages=_names(doc["from"], f"{where}.from") if "from" in doc else None,
        branches=_names(doc["branches"], f"{where}.branches") if "branches" in doc else None,
    )
