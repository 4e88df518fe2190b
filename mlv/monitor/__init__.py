"""Production monitoring: the prediction log `mlv serve` writes, read back against the served
version's lineage (its training-data profile, reference predictions and recorded metrics).

The log's layout and columns are docs/reference/prediction-log.md. Modules: `logger` (the log's
writer: `mlv serve` uses it, and it is the library below), `logstore` (where the log lives: a
folder or an fsspec URL), `window` (which time span), `segments` (finding, checking and reading
segments), `system` (throughput, latency, errors, drops), `quality` (metrics on labelled rows),
`labels` (`mlv monitor labels`), `baseline` (what the served version was trained on), `rules` (the
`monitor:` section), `run` (`mlv monitor`), `export` (`mlv monitor export`) and `lineage` (the
sidecar an export leaves for `mlv snapshot`).

For your own server: `PredictionLogger`, `PredictionLogMiddleware` (ASGI) and `log_prediction`,
imported lazily. Nothing heavy is imported here: pyarrow is needed only once a log is read or a
segment written.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PredictionLogMiddleware", "PredictionLogger", "log_prediction"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mlv.monitor import logger

        return getattr(logger, name)
    raise AttributeError(f"module 'mlv.monitor' has no attribute {name!r}")
