"""mlv: Git-native experiment commits for machine-learning projects.

The same operations as the CLI, as a Python API (imported lazily, so `mlv --help` and the git
hooks start fast):

    >>> import mlv
    >>> result = mlv.snapshot(message="baseline", run="python train.py")  # doctest: +SKIP
    >>> [e.commit for e in mlv.log(limit=5)]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "init", "log", "show", "snapshot"]


def __getattr__(name: str) -> Any:
    if name in ("init", "log", "show", "snapshot"):
        from mlv import api

        return getattr(api, name)
    raise AttributeError(f"module 'mlv' has no attribute {name!r}")
