"""mlv: Git-native experiment commits for machine-learning projects.

The Python API lives in `mlv.api` (the same operations as the CLI, returning dataclasses):

    >>> from mlv import api
    >>> result = api.snapshot(message="baseline", run="python train.py")  # doctest: +SKIP
    >>> [e.commit for e in api.log(limit=5)]  # doctest: +SKIP

This package imports nothing else on purpose, so `mlv --help` and the git hooks start fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
