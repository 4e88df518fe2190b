"""What counts as drift or as a health failure: Evidently's defaults, in one dataclass.

`thresholds_from_config` reads the `data_check:` section of `.mlv/config.yaml` (already parsed
into a dict); the keys are documented in docs/how-to/data-health.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from mlv.errors import ConfigError

METHODS = ("default", "psi")
_UNBOUNDED = {"large_wasserstein", "wasserstein"}


@dataclass(frozen=True)
class Thresholds:
    """Every number the check decides with. Defaults follow Evidently's."""

    small_sample: int = 1000  # either side with <= this many values: a p-value test (K-S, chi-squared)
    p_value: float = 0.05  # drift when the (Benjamini-Hochberg adjusted) p-value is below this
    wasserstein: float = 0.1  # numeric, large sample: W1 / max(reference std, 0.001) >= this
    jensen_shannon: float = 0.1  # categorical, large sample: JS distance (natural log) >= this
    psi: float = 0.1  # with method "psi": population stability index >= this
    method: str = "default"  # "psi" uses PSI for every column instead of the tests above
    drift_share: float = 0.5  # dataset drift when this share of tested columns drifted
    # One drifted column whose distance reaches these fails the check alone (0: any drifted column
    # fails; a large number, e.g. 100, or 1 for Jensen-Shannon: only the share decides). Numeric:
    # Wasserstein-1 over the reference std (a 1-sd shift scores 1.0); categorical: Jensen-Shannon
    # distance (natural log; at most 0.83).
    large_wasserstein: float = 0.5
    large_jensen_shannon: float = 0.2
    # Free text: drift when this share of the current words is out of the reference's vocabulary
    # (hashed words in buckets the reference never filled); large drift from large_text_oov.
    text_oov: float = 0.1
    large_text_oov: float = 0.3
    out_of_window: float = 0.01  # dates: warn when this share of values is outside the reference's window
    identifier_share: float = 0.95  # a text column with distinct values for this share of its rows
    categorical_max_distinct: int = 5  # numeric columns with <= this many values are categorical
    missing_increase: float = 0.10  # missing share may grow by at most this (absolute)
    row_count_change: float = 0.10  # a row count change beyond +-this share is reported
    fdr: bool = True  # Benjamini-Hochberg across the columns that p-values decide

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def thresholds_from_config(section: Mapping[str, Any] | None) -> Thresholds:
    """Thresholds from the `data_check:` mapping of the configuration (None: all defaults)."""
    if section is None:
        return Thresholds()
    if not isinstance(section, Mapping):
        raise ConfigError("data_check in .mlv/config.yaml must be a mapping",
                          hint="Write keys such as `p_value: 0.01` under `data_check:`.")
    defaults = Thresholds()
    known = {f.name: getattr(defaults, f.name) for f in fields(Thresholds)}
    changes: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise ConfigError(f"unknown key data_check.{key} in .mlv/config.yaml",
                              hint=f"Known keys: {', '.join(sorted(known))}.")
        changes[key] = _checked(key, value, known[key])
    return replace(defaults, **changes)


def _checked(key: str, value: Any, default: Any) -> Any:
    """VALUE if it has the type of DEFAULT and a sensible range, else a ConfigError."""
    where = f"data_check.{key} in .mlv/config.yaml"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if isinstance(default, str):
        if value not in METHODS:
            raise ConfigError(f"{where} must be one of {', '.join(METHODS)}, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where} must be a whole number >= 0, not {value!r}")
        return value
    if key in _UNBOUNDED:  # in standard deviations: any size can make sense
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
            raise ConfigError(f"{where} must be a number >= 0, not {value!r}")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{where} must be a number between 0 and 1, not {value!r}")
    return float(value)
