"""Errors of `mlv monitor`: each one means the monitor could not run (exit code 2).

A degraded service is a *result* (exit code 1), not an error.
"""

from __future__ import annotations

from mlv.errors import EXIT_CANNOT_RUN, MlvError

EXTRA_HINT = "pip install 'mlv-vcs[data]'"


class MonitorError(MlvError):
    """The log, the labels, the configuration or the served version's lineage cannot be read."""

    exit_code = EXIT_CANNOT_RUN


def require_pyarrow() -> None:
    """Raise MonitorError unless pyarrow and numpy import (reading the log and profiling need them;
    scipy, for small samples' p-values, is imported only when a check needs it)."""
    try:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise MonitorError(f"reading the prediction log needs the optional extra: {EXTRA_HINT}") from None
