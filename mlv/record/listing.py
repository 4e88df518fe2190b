"""What `mlv log` adds to the experiments it lists: labels, tags, filters, sorting, columns.

Labels say what happened to an experiment, in one place so that new ones are added here only:

- `failed`: run by mlv and exited non-zero (kept with `--allow-failure`);
- `not_run_by_mlv`: a snapshot of the state as found (`mlv snapshot` without `--run`);
- `rewritten`: the commit was rewritten after it was recorded (set by history when it knows);
- `modified_by_run`: the command changed one of its own `data:` inputs (recorded as it read them);
- the latest saved verdict of `mlv reproduce --save` about it: `reproduced`,
  `reproduced_within_tolerance` or `not_reproduced` (exactly the verdict: never rounded up).

Filters are `NAME OP NUMBER` (ops `< <= > >= == !=`), several joined by commas meaning AND, parsed
by a regular expression: nothing a user types is ever evaluated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.errors import MlvError
from mlv.record import record
from mlv.record.history import Experiment, InvalidExperiment

FAILED = "failed"
NOT_RUN_BY_MLV = "not_run_by_mlv"
REWRITTEN = "rewritten"
MODIFIED_BY_RUN = "modified_by_run"  # the command changed one of its own inputs
REPRODUCED_PREFIX = "mlv/reproduced/"  # branches written by `mlv reproduce --save`

Listed = Experiment | InvalidExperiment


# -- labels and tags -----------------------------------------------------------------------------


def annotate(root: Path, experiments: Sequence[Listed]) -> None:
    """Set `labels` and `tags` on every valid experiment of EXPERIMENTS (two git calls in all)."""
    valid = [e for e in experiments if isinstance(e, Experiment)]
    if not valid:
        return
    tags = _tags_by_commit(root)
    verdicts = _saved_verdicts(root)
    for exp in valid:
        exp.labels = labels_of(exp, verdicts.get(exp.commit))
        exp.tags = tags.get(exp.commit, [])


def labels_of(exp: Experiment, verdict: str | None) -> list[str]:
    """The labels of EXP (see the module docstring); VERDICT is its latest saved reproduce verdict."""
    rec = exp.record
    labels = []
    if not rec.run_by_mlv:
        labels.append(NOT_RUN_BY_MLV)
    elif rec.exit_code not in (0, None):
        labels.append(FAILED)
    if getattr(exp, "rewritten", False):  # history marks commits rewritten after they were recorded
        labels.append(REWRITTEN)
    if rec.modified_by_run:
        labels.append(MODIFIED_BY_RUN)
    if verdict:
        labels.append(verdict)
    return labels


def _tags_by_commit(root: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for ref in git.for_each_ref(root, ["refs/tags/"], max_contents=0):
        found.setdefault(ref.target, []).append(ref.name)
    return found


def _saved_verdicts(root: Path) -> dict[str, str]:
    """Commit -> the verdict of its newest saved re-run, read from `mlv/reproduced/<sha10>[-N]` tips."""
    refs = git.for_each_ref(root, [f"refs/heads/{REPRODUCED_PREFIX}"], max_contents=0)
    if not refs:
        return {}
    messages = git.commit_messages(root, sorted({ref.target for ref in refs}))
    newest: dict[str, tuple[int, str]] = {}
    for ref in refs:
        try:
            _, rec = record.parse_if_present(messages[ref.target], ref.target)
        except MlvError:
            continue
        about = rec.reproduces if rec is not None and isinstance(rec.reproduces, dict) else {}
        commit, verdict = about.get("commit"), about.get("verdict")
        # The branch name must agree with the record: a branch cannot vouch for another commit.
        if not isinstance(commit, str) or not isinstance(verdict, str) or \
                not ref.name.startswith(f"{REPRODUCED_PREFIX}{commit[:10]}"):
            continue
        if commit not in newest or ref.date > newest[commit][0]:
            newest[commit] = (ref.date, verdict)
    return {commit: verdict for commit, (_, verdict) in newest.items()}


# -- values by name ------------------------------------------------------------------------------


def values_of(exp: Experiment) -> dict[str, dict[str, Any]]:
    """{"params": flat, "metrics": flat}, as `mlv log` names them (one file: no file name)."""
    return {"params": record.flatten(exp.record.params, single_root=True),
            "metrics": record.flatten(exp.record.metrics, single_root=True)}


def known_keys(experiments: Sequence[Listed], kind: str) -> list[str]:
    keys: dict[str, None] = {}
    for exp in experiments:
        if isinstance(exp, Experiment):
            keys.update(dict.fromkeys(values_of(exp)[kind]))
    return list(keys)


def resolve(name: str, experiments: Sequence[Listed], kinds: Sequence[str] = ("metrics", "params")) -> tuple[str, str]:
    """(kind, key) that NAME means: a key as shown, or its last dotted parts (`mse` for `val.mse`).

    Metrics are searched first. Unknown and ambiguous names are errors that list the candidates.
    """
    for kind in kinds:
        keys = known_keys(experiments, kind)
        if name in keys:
            return kind, name
        matches = [k for k in keys if k.endswith(f".{name}")]
        if len(matches) == 1:
            return kind, matches[0]
        if matches:
            raise MlvError(f"{name!r} matches several {kind}: {', '.join(matches[:8])}",
                           hint="Write the longer name.")
    known = [k for kind in kinds for k in known_keys(experiments, kind)]
    raise MlvError(f"no listed experiment has a {' or '.join(k.rstrip('s') for k in kinds)} named {name!r}",
                   hint=f"Known: {', '.join(known[:12]) or 'none'}{' ...' if len(known) > 12 else ''}.")


def number(value: Any) -> float | None:
    """VALUE as a float when it is a number (booleans are not), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


# -- filters -------------------------------------------------------------------------------------

_OPS = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__,
        "==": float.__eq__, "!=": float.__ne__}
_CONDITION = re.compile(r"\s*([^\s<>=!,]+)\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*")
MAX_FILTER_CHARS = 1000


@dataclass(frozen=True)
class Condition:
    name: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


def parse_filters(texts: Sequence[str]) -> list[Condition]:
    """Conditions from `--filter` texts: `mse<0.1`, `mse<0.1,r2>=0.9` (comma = and)."""
    conditions = []
    for text in texts:
        if len(text) > MAX_FILTER_CHARS:
            raise MlvError(f"--filter is longer than {MAX_FILTER_CHARS} characters")
        for part in text.split(","):
            match = _CONDITION.fullmatch(part)
            if match is None:
                raise MlvError(f"--filter {part.strip()!r} is not NAME OP NUMBER",
                               hint="Write e.g. --filter 'mse<0.1' or --filter 'mse<0.1,r2>=0.9' "
                                    "(ops: < <= > >= == !=).")
            conditions.append(Condition(match[1], match[2], float(match[3])))
    return conditions


def select(experiments: Sequence[Listed], conditions: Sequence[Condition], sort: str | None,
           limit: int | None) -> list[Listed]:
    """EXPERIMENTS kept by every condition, sorted by SORT (`name` ascending, `-name` descending;
    experiments without the value last), at most LIMIT of them."""
    chosen: list[Listed] = list(experiments)
    for cond in conditions:
        kind, key = resolve(cond.name, experiments)
        chosen = [e for e in chosen if isinstance(e, Experiment) and _holds(e, kind, key, cond)]
    if sort:
        descending = sort.startswith("-")
        kind, key = resolve(sort.removeprefix("-").removeprefix("+"), experiments)
        with_value = [(v, e) for e in chosen if (v := _value(e, kind, key)) is not None]
        without = [e for e in chosen if _value(e, kind, key) is None]
        with_value.sort(key=lambda pair: pair[0], reverse=descending)  # stable: newest first among equals
        chosen = [e for _, e in with_value] + without
    return chosen[:limit] if limit is not None else chosen


def _value(exp: Listed, kind: str, key: str) -> float | None:
    if not isinstance(exp, Experiment):
        return None
    found = number(values_of(exp)[kind].get(key))
    return None if found is None or math.isnan(found) else found


def _holds(exp: Experiment, kind: str, key: str, cond: Condition) -> bool:
    value = _value(exp, kind, key)
    return value is not None and bool(_OPS[cond.op](value, cond.value))


def columns(experiments: Sequence[Listed], names: Sequence[str], kind: str) -> list[str]:
    """The KIND keys that `--params`/`--metrics` NAMES choose (comma lists allowed), in that order."""
    chosen: list[str] = []
    for text in names:
        for name in (n.strip() for n in text.split(",")):
            if name:
                key = resolve(name, experiments, (kind,))[1]
                if key not in chosen:
                    chosen.append(key)
    return chosen
