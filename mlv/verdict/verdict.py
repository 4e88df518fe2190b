"""Compare a re-run with its record and decide: reproduced, within tolerance, or not.

The rules (docs/reference/verdict-json.md):
- "reproduced": the exit code matches, every recorded output is bit-identical, every metric equal;
- "reproduced_within_tolerance": the exit code matches, every output exists, at least one metric
  was recorded and every metric is equal or within --rtol/--atol (outputs may differ in bytes:
  a model file that pickles differently but scores the same);
- "not_reproduced": anything else (a metric off, an output or metric missing, another exit code);
- "unverified": the exit code matches but there was nothing else to compare (no output, no
  metric, no recorded standard output): the re-run ran, and proves nothing. Never "reproduced".

A commit without an mlv record (a DVC pipeline's) is compared with its `dvc.lock` and metrics
files, but the environment it ran in is unknown: it is never "reproduced" (nor within tolerance).
Results that match are "unverified" with the cause "no_record"; results that differ are
"not_reproduced", with "no_record" as the cause where it would otherwise be the environment or
nondeterminism (neither can be told apart from an unknown environment).

Every verdict but "reproduced" says why it is not: `cause`, one of CAUSES, from what differs in
the run (exit code, a missing output) and in its inputs (the record rewritten, the environment).
When the inputs were identical and the results still differ, the command is nondeterministic.
A "reproduced" in an environment the user altered (`--env fresh` with lockfile lines skipped or
substituted) carries the cause "environment_changed" too: it is not the recorded environment.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from mlv.adapters.dvc import Pointer

REPRODUCED = "reproduced"
WITHIN_TOLERANCE = "reproduced_within_tolerance"
NOT_REPRODUCED = "not_reproduced"
UNVERIFIED = "unverified"
EXIT_UNVERIFIED = 5  # `mlv reproduce` exit code for "unverified" (docs/reference/exit-codes.md)

# Why a re-run did not reproduce, most telling first (docs/reference/verdict-json.md).
EXIT_CODE = "exit_code"
CODE_CHANGED = "code_changed"
DATA_CHANGED = "data_changed"
MISSING_OUTPUT = "missing_output"
ENVIRONMENT_CHANGED = "environment_changed"
NONDETERMINISTIC = "nondeterministic"
NO_RECORD = "no_record"
CAUSES = (EXIT_CODE, CODE_CHANGED, DATA_CHANGED, MISSING_OUTPUT, ENVIRONMENT_CHANGED, NO_RECORD, NONDETERMINISTIC)

# The one line of configuration that gives a re-run something to compare.
MAKE_CHECKABLE = ("declare what the command writes: `metrics: [metrics.json]` or `outputs: [model.pkl]` in "
                  ".mlv/config.yaml (or print `name: number` lines), then snapshot again")


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
class StdoutCheck:
    """The command's standard output, by its sha256: evidence when nothing else was declared."""

    recorded: str | None  # sha256 in the record; None for a record without it
    reproduced: str
    status: str  # identical | different | not_recorded


@dataclass(frozen=True)
class Inputs:
    """What was known about the re-run's inputs before it ran: the causes a difference can have."""

    rewritten: tuple[str, ...] = ()  # kinds in which the record disagrees with its tree (code, data, ...)
    packages_changed: tuple[str, ...] = ()  # "name recorded -> current" for each package that differs
    platform_changed: tuple[str, ...] = ()  # python, os, ... that differ
    no_record: bool = False  # a commit without an mlv record: its environment and exit code are unknown
    # Without a record: ("code" | "data", path) for each input whose hash in the commit's dvc.lock
    # differs from the re-run's, so the committed outputs came from other inputs.
    stale_lock: tuple[tuple[str, str], ...] = ()
    altered: tuple[str, ...] = ()  # --env fresh: lockfile lines the user skipped or substituted


@dataclass
class Verdict:
    verdict: str
    outputs: list[OutputCheck] = field(default_factory=list)
    metrics: list[MetricCheck] = field(default_factory=list)
    exit_code: ExitCheck | None = None
    rtol: float = 0.0
    atol: float = 0.0
    cause: str | None = None  # one of CAUSES; None when reproduced (or unverified)
    cause_detail: str | None = None  # one human line: what points at the cause
    stdout: StdoutCheck | None = None
    # The recorded inputs the command itself changes (`modified_by_run` in the record): the re-run
    # started from their recorded content, as the original run did.
    modified_by_run: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.verdict in (REPRODUCED, WITHIN_TOLERANCE)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare_stdout(recorded: str | None, reproduced: str) -> StdoutCheck:
    if recorded is None:
        return StdoutCheck(None, reproduced, "not_recorded")
    return StdoutCheck(recorded, reproduced, "identical" if recorded == reproduced else "different")


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
           rtol: float = 0.0, atol: float = 0.0, *, stdout: StdoutCheck | None = None,
           inputs: Inputs | None = None) -> Verdict:
    # A re-run that fails where the record succeeded never reproduces; without a recorded exit
    # code, a non-zero one still means the command did not do its job.
    exit_ok = exit_check.status == "equal" or (exit_check.status == "not_recorded" and exit_check.reproduced == 0)
    # A metric that only appears in the re-run does not contradict the record.
    compared = [m for m in metrics if m.status != "new"]
    # The standard output is evidence only when nothing was declared: logs carry timings.
    stdout_counts = not outputs and not compared and stdout is not None and stdout.status != "not_recorded"
    stdout_ok = not stdout_counts or (stdout is not None and stdout.status == "identical")
    if exit_ok and not outputs and not compared and not stdout_counts:
        label = UNVERIFIED
    elif (exit_ok and stdout_ok and all(o.status == "identical" for o in outputs)
            and all(m.status == "equal" for m in compared)):
        label = REPRODUCED
    elif (exit_ok and compared and all(o.status != "missing" for o in outputs)
            and all(m.status in ("equal", "within_tolerance") for m in compared)):
        label = WITHIN_TOLERANCE
    else:
        label = NOT_REPRODUCED
    verdict = Verdict(label, outputs, metrics, exit_check, rtol, atol, stdout=stdout)
    if inputs is not None and inputs.no_record and label != NOT_REPRODUCED:
        verdict.verdict, verdict.cause, verdict.cause_detail = UNVERIFIED, NO_RECORD, _unrecorded_detail(verdict)
    elif label == UNVERIFIED:
        verdict.cause_detail = f"nothing to compare but the exit code; to make it checkable, {MAKE_CHECKABLE}"
    elif label != REPRODUCED:
        verdict.cause, verdict.cause_detail = find_cause(verdict, inputs or Inputs())
    elif inputs is not None and inputs.altered:
        # The results match, but not in the recorded environment: never an unqualified "reproduced".
        verdict.cause, verdict.cause_detail = ENVIRONMENT_CHANGED, _altered_detail(inputs.altered)
    return verdict


def _altered_detail(altered: tuple[str, ...]) -> str:
    return f"the environment was altered on request, so it is not the recorded one: {'; '.join(altered)}"


def find_cause(verdict: Verdict, inputs: Inputs) -> tuple[str, str]:
    """The most telling reason VERDICT is not "reproduced", with one line saying what points at it."""
    exit_check = verdict.exit_code
    if exit_check is not None and (exit_check.status == "different" or (
            exit_check.status == "not_recorded" and exit_check.reproduced != 0)):
        recorded = "-" if exit_check.recorded is None else exit_check.recorded
        return EXIT_CODE, f"the command exited {exit_check.reproduced}, the record says {recorded}"
    other_inputs = _changed_inputs(inputs)
    if other_inputs is not None:
        return other_inputs
    missing = [o.path for o in verdict.outputs if o.status == "missing"]
    missing += [m.name for m in verdict.metrics if m.status == "missing"]
    if missing:
        return MISSING_OUTPUT, f"the re-run did not produce {', '.join(missing[:5])}"
    if inputs.no_record:
        return NO_RECORD, ("the commit has no mlv record, so the environment its outputs were made in is unknown: "
                           "the difference may come from it or from unseeded randomness")
    environment = _environment_cause(inputs)
    if environment is not None:
        return environment
    return NONDETERMINISTIC, ("code, data, params and environment are identical and the results still "
                              "differ: look for unseeded randomness (random, numpy, torch seeds), "
                              "threads or the clock")


def _environment_cause(inputs: Inputs) -> tuple[str, str] | None:
    """ENVIRONMENT_CHANGED and what changed, when the environment was altered on request or differs."""
    if inputs.altered:
        return ENVIRONMENT_CHANGED, _altered_detail(inputs.altered)
    if inputs.packages_changed or inputs.platform_changed:
        changed = [*inputs.platform_changed, *inputs.packages_changed]
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        return ENVIRONMENT_CHANGED, f"the environment differs: {', '.join(changed[:5])}{more}"
    return None


def _unrecorded_detail(verdict: Verdict) -> str:
    """What a re-run of a commit without a record showed, and why that is not "reproduced"."""
    seen = []
    if verdict.outputs:
        same = all(o.status == "identical" for o in verdict.outputs)
        seen.append(f"{len(verdict.outputs)} stage output(s) {'identical to' if same else 'differing from'} dvc.lock's")
    compared = [m for m in verdict.metrics if m.status != "new"]
    if compared:
        same = all(m.status == "equal" for m in compared)
        seen.append(f"{len(compared)} metric(s) {'equal to' if same else 'within tolerance of'} the commit's files")
    return (f"{' and '.join(seen) or 'nothing to compare'}, but the commit has no mlv record, so the environment "
            'it was made in is unknown; record a run with `mlv snapshot --run "dvc repro"` to make it checkable')


def _changed_inputs(inputs: Inputs) -> tuple[str, str] | None:
    """code_changed or data_changed when what was compared with came from other inputs than the
    commit holds: a rewritten record, or (without a record) a dvc.lock older than its tree."""
    if inputs.rewritten:
        kinds = set(inputs.rewritten)
        cause = DATA_CHANGED if kinds <= {"data", "output"} else CODE_CHANGED
        return cause, (f"the record is rewritten ({', '.join(sorted(kinds))} differ from the commit's tree): "
                       "the recorded metrics came from another tree")
    if inputs.stale_lock:
        stale = {kind for kind, _ in inputs.stale_lock}
        paths = [path for _, path in inputs.stale_lock]
        return (DATA_CHANGED if stale == {"data"} else CODE_CHANGED,
                f"the commit's dvc.lock is out of date with its tree (it pins other hashes for "
                f"{', '.join(paths[:5])}): its outputs came from other inputs than the commit holds")
    return None
