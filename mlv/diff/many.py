"""`mlv diff A B C ...`: three or more experiments side by side, on params and metrics only.

Code, data and environment are pairwise questions (`mlv diff A B` answers them); across many
experiments the useful view is one table, like `dvc exp show`: a row per experiment, a column per
param that differs and per metric. Read from commit messages only (one git call); nothing is
checked out. JSON contract: docs/reference/diff-json.md ("Three or more experiments").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.diff.values import better_direction
from mlv.errors import MlvError
from mlv.record import record

JSON_SCHEMA_VERSION = 1
MAX_REVISIONS = 200


@dataclass
class Row:
    label: str  # the revision as given
    commit: str
    message: str  # first line
    has_record: bool
    command: str | None
    params: dict[str, Any]  # flat key -> value
    metrics: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "commit": self.commit, "message": self.message,
                "has_record": self.has_record, "command": self.command,
                "params": self.params, "metrics": self.metrics}


@dataclass
class ManyResult:
    rows: list[Row]

    def keys(self, kind: str) -> list[str]:
        found: dict[str, None] = {}
        for row in self.rows:
            found.update(dict.fromkeys(getattr(row, kind)))
        return list(found)

    def changed(self, kind: str) -> list[str]:
        """KIND keys whose value is not the same in every experiment (missing counts as a value;
        a plain commit, which has no values at all, counts for nothing)."""
        recorded = [row for row in self.rows if row.has_record]
        return [k for k in self.keys(kind)
                if len({repr(getattr(row, kind).get(k, _MISSING)) for row in recorded}) > 1]

    def best(self, key: str) -> set[int]:
        """Indexes of the rows with the best value of metric KEY; empty when the direction is unknown."""
        direction = better_direction(key)
        numbers = {i: float(row.metrics[key]) for i, row in enumerate(self.rows) if _is_number(row.metrics.get(key))}
        if direction is None or len(numbers) < 2:
            return set()
        target = (min if direction == "down" else max)(numbers.values())
        return {i for i, v in numbers.items() if v == target}

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": JSON_SCHEMA_VERSION, "experiments": [r.to_json() for r in self.rows],
                "changed_params": self.changed("params"), "changed_metrics": self.changed("metrics")}


_MISSING = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def compare_many(root: Path, revisions: Sequence[str]) -> ManyResult:
    if len(revisions) > MAX_REVISIONS:
        raise MlvError(f"mlv diff compares at most {MAX_REVISIONS} revisions; got {len(revisions)}",
                       hint="Pick fewer, or list them all with `mlv log`.")
    shas = [git.resolve_commit(root, rev) for rev in revisions]
    messages = git.commit_messages(root, sorted(set(shas)))
    parsed = []
    for rev, sha in zip(revisions, shas, strict=True):
        # A damaged or newer record is reported, as in `mlv diff A B`, not guessed around.
        user, rec = record.parse_if_present(messages[sha], sha)
        parsed.append((rev, sha, user, rec))
    # The file name is left out when every experiment uses the same single file (as in `mlv diff`).
    files = {kind: {name for *_, rec in parsed if rec for name in getattr(rec, kind)} for kind in ("params", "metrics")}
    rows = []
    for rev, sha, user, rec in parsed:
        values = {kind: {} if rec is None else record.flatten(getattr(rec, kind), single_root=len(files[kind]) == 1)
                  for kind in ("params", "metrics")}
        rows.append(Row(rev, sha, user.splitlines()[0] if user else "", rec is not None,
                        rec.command if rec else None, values["params"], values["metrics"]))
    return ManyResult(rows)
