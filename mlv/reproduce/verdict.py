"""Compare a re-run with its record and decide: reproduced, within tolerance, or not.

The rules (docs/reference/verdict-json.md):
- "reproduced": the exit code matches, every recorded output is bit-identical, every metric equal;
- "reproduced_within_tolerance": the exit code matches, every output exists, at least one metric
  was recorded and every metric is equal or within --rtol/--atol (outputs may differ in bytes:
  a model file that pickles differently but scores the same);
- "not_reproduced": anything else (a metric off, an output or metric missing, another exit code).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from mlv.adapters.dvc import Pointer

REPRODUCED = "reproduced"
WITHIN_TOLERANCE = "reproduced_within_tolerance"
NOT_REPRODUCED = "not_reproduced"


@dataclass
class OutputCheck:
    path: str
    recorded: str  # md5 in the record
    reproduced: str | None  # md5 after the re-run; None when the command did not produce it
    status: str  # identical | different | missing


@dataclass
class MetricCheck:
    name: str  # dotted: file.key.subkey (the file name is dropped when there is one metrics file)
    recorded: Any
    reproduced: Any
    status: str  # equal | within_tolerance | different | missing | new
    difference: float | None = None  # reproduced - recorded, for numbers


@dataclass
class ExitCheck:
    recorded: int | None  # None when the experiment was not run by mlv
    reproduced: int
    status: str  # equal | different | not_recorded


@dataclass
class Verdict:
    verdict: str
    outputs: list[OutputCheck] = field(default_factory=list)
    metrics: list[MetricCheck] = field(default_factory=list)
    exit_code: ExitCheck | None = None
    rtol: float = 0.0
    atol: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.verdict in (REPRODUCED, WITHIN_TOLERANCE)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_outputs(recorded: list[Pointer], reproduced: dict[str, str | None]) -> list[OutputCheck]:
    checks = []
    for item in recorded:
        path, md5 = item.path, item.md5
        now = reproduced.get(path)
        status = "missing" if now is None else ("identical" if now == md5 else "different")
        checks.append(OutputCheck(path, md5, now, status))
    return checks


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _compare_value(name: str, old: Any, new: Any, rtol: float, atol: float) -> MetricCheck:
    if _is_number(old) and _is_number(new):
        diff = float(new) - float(old)
        if old == new or (math.isnan(float(old)) and math.isnan(float(new))):
            return MetricCheck(name, old, new, "equal", 0.0)
        close = math.isclose(float(new), float(old), rel_tol=rtol, abs_tol=atol) if (rtol or atol) else False
        return MetricCheck(name, old, new, "within_tolerance" if close else "different", diff)
    return MetricCheck(name, old, new, "equal" if old == new else "different")


def compare_metrics(
    recorded: dict[str, Any], reproduced: dict[str, Any], rtol: float, atol: float
) -> list[MetricCheck]:
    """Flattened metric-by-metric comparison; RECORDED and REPRODUCED map metrics file -> content."""
    from mlv.record.record import flatten

    single = len(recorded) == 1
    old = flatten(recorded, single_root=single)
    new = flatten(reproduced, single_root=single)  # the same files are read back, so keys align
    checks = []
    for name, value in old.items():
        if name not in new:
            checks.append(MetricCheck(name, value, None, "missing"))
        else:
            checks.append(_compare_value(name, value, new[name], rtol, atol))
    checks += [MetricCheck(name, None, value, "new") for name, value in new.items() if name not in old]
    return checks


def compare_exit(recorded: int | None, reproduced: int) -> ExitCheck:
    if recorded is None:
        return ExitCheck(None, reproduced, "not_recorded")
    return ExitCheck(recorded, reproduced, "equal" if recorded == reproduced else "different")


def decide(outputs: list[OutputCheck], metrics: list[MetricCheck], exit_check: ExitCheck,
           rtol: float = 0.0, atol: float = 0.0) -> Verdict:
    # A re-run that fails where the record succeeded never reproduces; without a recorded exit
    # code, a non-zero one still means the command did not do its job.
    exit_ok = exit_check.status == "equal" or (exit_check.status == "not_recorded" and exit_check.reproduced == 0)
    # A metric that only appears in the re-run does not contradict the record.
    compared = [m for m in metrics if m.status != "new"]
    if (exit_ok and all(o.status == "identical" for o in outputs)
            and all(m.status == "equal" for m in compared)):
        label = REPRODUCED
    elif (exit_ok and compared and all(o.status != "missing" for o in outputs)
            and all(m.status in ("equal", "within_tolerance") for m in compared)):
        label = WITHIN_TOLERANCE
    else:
        label = NOT_REPRODUCED
    return Verdict(label, outputs, metrics, exit_check, rtol, atol)
