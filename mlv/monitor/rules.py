"""The `monitor:` section of `.mlv/config.yaml`: options, and rules on the gates' engine.

```yaml
monitor:
  log: s3://bucket/predictions   # default --log
  window: 24h                    # default --window
  min_rows: 500                  # fewer logged rows: degraded, drift not tested (default 500)
  min_labels: 100                # performance is judged from this many labelled rows on
  data_health: true              # the inputs pass `mlv data check` against the training data
  prediction_drift: true         # the predictions do not drift from the reference predictions
  mse: {max_drop_rel: 0.2}       # performance against the version's recorded value
  latency_p99_ms: {max: 50}
  error_rate: {max: 0.01}
```

Every other key is a rule on one measure, with the gates' keys (`min`, `max`, `max_drop_abs`,
`max_drop_rel`, `higher_is_better`); drops compare with the served version's recorded metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlv.errors import ConfigError
from mlv.gates.rules import MetricRule, parse_metric_rule
from mlv.monitor.quality import known_metric

WHERE = "monitor in .mlv/config.yaml"
SYSTEM_MEASURES = ("rows", "requests", "dropped", "error_rate", "drop_rate", "throughput_rps", "latency_p50_ms",
                   "latency_p95_ms", "latency_p99_ms", "lost_segments", "skipped_segments",
                   "unfinished_writers")
_OPTIONS = {"log": str, "window": str, "package": str, "min_rows": int, "min_labels": int, "data_health": bool,
            "prediction_drift": bool}


@dataclass(frozen=True)
class MonitorPolicy:
    rules: tuple[MetricRule, ...] = ()
    min_rows: int = 500  # fewer rows decide nothing: sampling noise alone looks like drift
    min_labels: int = 1
    data_health: bool = True
    prediction_drift: bool = True
    log: str | None = None
    window: str | None = None
    package: str | None = None


def parse_monitor(doc: Any) -> MonitorPolicy:
    """A MonitorPolicy from the `monitor:` mapping (None: the defaults), or a ConfigError."""
    if doc is None:
        return MonitorPolicy()
    if not isinstance(doc, dict):
        raise ConfigError(f"{WHERE} must be a mapping", hint="Write rules such as `latency_p99_ms: {max: 50}`.")
    options: dict[str, Any] = {}
    rules: list[MetricRule] = []
    for key, value in doc.items():
        name = str(key)
        if name in _OPTIONS:
            options[name] = _option(name, value)
        elif name in SYSTEM_MEASURES or known_metric(name):
            rules.append(parse_metric_rule(name, value, "monitor"))
        else:
            known = ", ".join([*_OPTIONS, *SYSTEM_MEASURES, "mse", "rmse", "mae", "r2", "accuracy"])
            raise ConfigError(f"unknown key monitor.{name} in .mlv/config.yaml", hint=f"Known keys: {known}.")
    return MonitorPolicy(rules=tuple(rules), **options)


def _option(name: str, value: Any) -> Any:
    kind = _OPTIONS[name]
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"monitor.{name} in .mlv/config.yaml must be true or false, not {value!r}")
    elif kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"monitor.{name} in .mlv/config.yaml must be a whole number >= 0, not {value!r}")
    elif not isinstance(value, str) or not value:
        raise ConfigError(f"monitor.{name} in .mlv/config.yaml must be a non-empty string, not {value!r}")
    return value
