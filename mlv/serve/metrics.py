"""The server's Prometheus metrics (docs/reference/serve.md lists them).

With several workers, `mlv serve` sets PROMETHEUS_MULTIPROC_DIR before the workers start: each
worker then writes its values to files there, and `/metrics` (answered by any worker) adds them up
with prometheus-client's multiprocess collector. The in-flight gauge sums the live workers; the
served-model gauge shows each version any live worker serves.
"""

from __future__ import annotations

import os
from typing import Any

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        disable_created_metrics()  # type: ignore[no-untyped-call]  # the `_created` series double the page and say nothing here

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # Multiprocess mode: values live in the shared files, not in a registry of this process.
        self.registry = None if self.multiprocess else CollectorRegistry()
        kwargs: dict[str, Any] = {"registry": self.registry} if self.registry is not None else {"registry": None}
        self.requests = Counter("mlv_serve_requests", "Requests answered, by HTTP status.",
                                ["model", "version", "status"], **kwargs)
        self.latency = Histogram("mlv_serve_request_duration_seconds", "Server-side latency of /predict requests.",
                                 ["model", "version"], buckets=BUCKETS, **kwargs)
        self.in_flight = Gauge("mlv_serve_in_flight_requests", "Requests being answered now.",
                               multiprocess_mode="livesum", **kwargs)
        self.logged = Counter("mlv_serve_predictions_logged", "Prediction rows written to the prediction log.",
                              **kwargs)
        self.dropped = Counter("mlv_serve_predictions_dropped",
                               "Prediction rows not logged: reason=queue_full or unwritable.", ["reason"], **kwargs)
        self.model_info = Gauge("mlv_serve_model_info", "1 for the model version being served.",
                                ["model", "version"], multiprocess_mode="livemax", **kwargs)
        for reason in ("queue_full", "unwritable"):
            self.dropped.labels(reason).inc(0)

    def serving(self, model: str, version: str, previous: tuple[str, str] | None = None) -> None:
        if previous is not None:
            self.model_info.labels(*previous).set(0)
        self.model_info.labels(model, version).set(1)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.registry is not None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST

    def worker_exit(self) -> None:
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
