"""`mlv data check --on-drift reproduce`: re-run the reference experiment's command on the new data.

The re-run is `mlv snapshot --run COMMAND` in the work tree, not `mlv reproduce`'s throwaway
worktree: reproduce restores the experiment's *own* data, so it answers "does the old result still
come out of the old data", while re-validation asks how the model does on the data that drifted,
which is in the work tree. The outcome is an ordinary experiment commit, so `mlv diff REF NEW`
compares the metrics of the two, and `mlv model register` can take it if it is good.
"""

from __future__ import annotations

from pathlib import Path

from mlv.datahealth.errors import DataHealthError
from mlv.datahealth.history import Revision
from mlv.snapshot.take import SnapshotOptions, SnapshotResult, take_snapshot


def check_can_revalidate(reference: Revision | None, current_rev: str | None) -> str:
    """The command to re-run, or a DataHealthError saying why there is none (before any check)."""
    if current_rev is not None:
        raise DataHealthError("--on-drift re-runs the experiment on the data in the work tree, not on --rev",
                              hint="Drop --rev, or drop --on-drift.")
    if reference is None or not reference.is_experiment:
        raise DataHealthError("--on-drift needs an experiment as the reference (its command is re-run)",
                              hint="Use --against REV|NAME@vX or the default, the latest experiment.")
    if not reference.command:
        raise DataHealthError(f"the experiment {reference.commit[:10]} records no command to re-run",
                              hint="Snapshot it with `mlv snapshot --run COMMAND` first.")
    return reference.command


def revalidate(root: Path, reference: Revision, command: str, summary: str, json_output: bool) -> SnapshotResult:
    """Run COMMAND on the work tree's data and record it as a new experiment commit, also when the
    command fails: that it no longer runs on the new data is what re-validation found out."""
    message = (f"Re-validate on drifted data: {command}\n\n"
               f"mlv data check found drift against {reference.shown} ({reference.commit[:10]}): {summary}")
    return take_snapshot(root, SnapshotOptions(message=message, run=command, allow_failure=True,
                                                  json_output=json_output))
