"""Errors of data health: each one means the check could not run (exit code 2).

Drift or a failed health rule is a *result*, not an error; these are for data that cannot be read.
"""

from __future__ import annotations

from mlv.errors import EXIT_CANNOT_RUN, MlvError

EXTRA_HINT = "pip install 'mlv-vcs[data]'"


class DataHealthError(MlvError):
    """A dataset or a stored profile cannot be read, so nothing could be compared."""

    exit_code = EXIT_CANNOT_RUN


class MissingExtraError(DataHealthError):
    """pyarrow, numpy, datasketches or scipy is not installed."""

    def __init__(self) -> None:
        super().__init__(f"data health needs the optional extra: {EXTRA_HINT}")

    def one_line(self) -> str:
        # The message already is the whole line; the base class would add a full stop after
        # the closing quote of the pip command.
        return self.message


def require_extra(checking: bool = True) -> None:
    """Raise MissingExtraError unless the `data` extra's packages import (they are needed next
    anyway, so importing them here costs nothing and also catches a broken install). Profiling
    alone (CHECKING false) needs no scipy, whose import costs most of a second of CPU."""
    import importlib

    modules = ("numpy", "pyarrow", "pyarrow.compute", "datasketches") + (("scipy.stats",) if checking else ())
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError from None
