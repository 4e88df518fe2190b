"""mlv: Git-native experiment commits for machine-learning projects.

The Python API (reference: docs/reference/python-api.md) is available from the package itself:

    >>> import mlv
    >>> mlv.log_metric("mse", 0.0979)  # in a training script: updates metrics.json  # doctest: +SKIP
    >>> [e.commit for e in mlv.log(limit=5)]  # doctest: +SKIP
    >>> result = mlv.api.snapshot(message="baseline", run="python train.py")  # doctest: +SKIP

Everything is loaded on first use (PEP 562 `__getattr__`), so `import mlv` costs nothing:
`mlv --help` and the git hooks start fast, and a training script that only logs metrics never
imports git or DVC code. The operations named like a subpackage (`snapshot`, `diff`, `reproduce`,
`checkout`) are called through `mlv.api`: importing a subpackage sets the package attribute of its
name, so a top-level function of that name would not stay a function.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: the git hooks import this package, builtins only

__all__ = ["Experiment", "__version__", "api", "init", "log", "log_metric", "log_metrics", "show", "status"]

# name -> the module that defines it
_API = dict.fromkeys(("Experiment", "init", "log", "show", "status"), "mlv.api")
_API.update(dict.fromkeys(("log_metric", "log_metrics"), "mlv.metrics_file"))
_API["__version__"] = "mlv._version"

if TYPE_CHECKING:
    from typing import Any

    from mlv import api
    from mlv._version import __version__
    from mlv.api import Experiment, init, log, show, status
    from mlv.metrics_file import log_metric, log_metrics


def __getattr__(name: str) -> Any:
    # `from mlv import cachefile` asks here first for every submodule not yet imported: answer
    # before importing anything, so the hooks' builtins-only imports stay that way.
    module = "mlv.api" if name == "api" else _API.get(name)
    if module is None:
        raise AttributeError(f"module 'mlv' has no attribute {name!r}")
    from importlib import import_module

    if name == "api":
        return import_module(module)  # importing a submodule sets the package attribute
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), "api", *_API})
