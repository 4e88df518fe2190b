"""What profiling one piece of a dataset saw, before it becomes a profile; pieces merge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlv.datahealth.errors import DataHealthError
from mlv.datahealth.model import Profile

if TYPE_CHECKING:
    from mlv.datahealth.accumulate import Accumulator


@dataclass
class Partial:
    """What profiling one piece of a dataset saw, before `result()` turns it into a profile."""

    rows: int
    columns: dict[str, Accumulator | None]
    where: str

    def merge(self, other: Partial) -> Partial:
        if list(self.columns) != list(other.columns) and set(self.columns) != set(other.columns):
            raise DataHealthError(f"mismatched columns: {other.where} and {self.where} differ",
                                  hint="Every file of a dataset needs the same columns.")
        for name, accumulator in self.columns.items():
            theirs = other.columns[name]
            if (accumulator is None) != (theirs is None):
                raise DataHealthError(f"column {name} has another type in {other.where} than in {self.where}")
            if accumulator is not None and theirs is not None:
                try:
                    accumulator.merge(theirs)
                except TypeError as exc:
                    raise DataHealthError(f"column {name}: {exc} ({other.where} against {self.where})",
                                          hint="Give the column one type in every file, or use the default "
                                               "engine, which reads it as text when the files disagree.") from None
        self.rows += other.rows
        return self

    def result(self, source: dict[str, object]) -> Profile:
        skipped = [{"column": name, "reason": "unsupported type"} for name, a in self.columns.items() if a is None]
        return Profile(rows=self.rows, columns=[a.result() for a in self.columns.values() if a is not None],
                       source=source, skipped=skipped)
