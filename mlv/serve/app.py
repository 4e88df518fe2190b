"""The ASGI application `mlv serve` runs under uvicorn (docs/reference/serve.md).

```text
POST /predict      {"rows": [...]}, or MLflow's dataframe_records / dataframe_split -> {"predictions": [...]}
POST /invocations  the same (MLflow's path)
GET  /health       {"status": "ok", "model", "version", "commit"}
GET  /metrics      Prometheus text format
```

The request path does the least it can: read the body (capped), check it against the input schema,
predict, answer, and hand the rows to the prediction log's queue (never to a disk). What is served
is one immutable `Served` object, swapped whole by `--follow`: a request keeps the version it began
with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.registry.loaded import LoadedModel, load_package
from mlv.registry.servable import features_matrix
from mlv.serve.inputs import BadInput, columns_of, parse_json
from mlv.serve.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

    from mlv.monitor.logger import PredictionLogger
    from mlv.serve.metrics import Metrics

_JSON = "application/json"


@dataclass(frozen=True)
class Served:
    loaded: LoadedModel
    ok: Any  # the requests counter's child for status 200, bound once
    latency: Any  # the latency histogram's child


def create_app() -> Starlette:
    """uvicorn's app factory in each worker: the settings come from `mlv serve` through the environment."""
    return build_app(Settings.from_env())


def build_app(settings: Settings) -> Starlette:
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.routing import Route

    server = Server(settings)
    routes = [Route("/predict", server.predict, methods=["POST"]),
              Route("/invocations", server.predict, methods=["POST"]),
              Route("/health", server.health, methods=["GET"]),
              Route("/metrics", server.metrics_page, methods=["GET"])]
    return Starlette(routes=routes, lifespan=server.lifespan,
                     exception_handlers={HTTPException: server.http_error})


class Server:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.served: Served | None = None
        self.metrics: Metrics | None = None
        self.logger: PredictionLogger | None = None

    # -- start and stop ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        from mlv.serve.metrics import Metrics

        self.metrics = Metrics()
        loaded = load_package(Path(self.settings.package))
        self._serve(loaded)
        self.logger = self._logger(loaded)
        follower = asyncio.create_task(self._follow()) if self.settings.follow else None
        try:
            yield
        finally:
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            if self.logger is not None:
                await asyncio.to_thread(self.logger.close)  # everything acknowledged is written
            self.metrics.worker_exit()

    def _logger(self, loaded: LoadedModel) -> PredictionLogger | None:
        if self.settings.log is None:
            return None
        from mlv.monitor.logger import PredictionLogger

        metrics = self.metrics
        assert metrics is not None  # noqa: S101 - made first in lifespan
        return PredictionLogger(
            self.settings.log, model=loaded.model, version=loaded.version,
            features=[(f.name, f.type) for f in loaded.schema.features], sample_rate=self.settings.log_sample,
            queue_size=self.settings.log_queue, interval_s=self.settings.log_interval_s,
            on_written=metrics.logged.inc, on_dropped=lambda reason, rows: metrics.dropped.labels(reason).inc(rows))

    def _serve(self, loaded: LoadedModel) -> None:
        metrics = self.metrics
        assert metrics is not None  # noqa: S101 - made first in lifespan
        previous = self.served.loaded if self.served is not None else None
        metrics.serving(loaded.model, loaded.version, (previous.model, previous.version) if previous else None)
        self.served = Served(loaded, metrics.requests.labels(loaded.model, loaded.version, "200"),
                             metrics.latency.labels(loaded.model, loaded.version))
        if self.logger is not None:
            self.logger.model, self.logger.version = loaded.model, loaded.version

    async def _follow(self) -> None:
        """Watch the stage; when it names another version, package, verify and load it, then swap."""
        from mlv.serve import target

        settings = self.settings
        assert settings.root is not None and settings.follow is not None  # noqa: S101 - set together by the CLI
        root, said = Path(settings.root), ""
        while True:
            await asyncio.sleep(settings.follow_every_s)
            served = self.served
            try:
                model, version = await asyncio.to_thread(target.current_version, root, settings.follow)
                if served is None or version == served.loaded.version:
                    continue
                folder = await asyncio.to_thread(target.packaged, root, model, version)
                loaded = await asyncio.to_thread(load_package, folder)
            except Exception as exc:  # noqa: BLE001 - a failed swap keeps the served version; said once
                line = f"mlv serve: keeps serving {served.loaded.version if served else '?'}: {exc}"
                if line != said:
                    print(line, file=sys.stderr, flush=True)
                said = line
                continue
            self._serve(loaded)
            print(f"mlv serve: now serving {loaded.model} {loaded.version}", file=sys.stderr, flush=True)

    # -- endpoints ---------------------------------------------------------------------------------

    async def predict(self, request: Request) -> Response:
        from starlette.responses import Response

        started = time.perf_counter()
        served, metrics = self.served, self.metrics
        assert served is not None and metrics is not None  # noqa: S101 - set by lifespan before any request
        metrics.in_flight.inc()
        try:
            rid = _request_id(request.headers.get("x-request-id"))
            try:
                body = await self._body(request)
                loaded = served.loaded
                columns = columns_of(parse_json(body), loaded.schema)
            except BadInput as bad:
                return self._refuse(served, bad.status, bad.message, rid)
            try:
                result = loaded.predictor.predict(features_matrix(loaded.predictor, loaded.schema, columns))
                predictions = result.tolist() if hasattr(result, "tolist") else list(result)
            except Exception as exc:  # noqa: BLE001 - the model's own failure: a counted 500, one JSON line
                return self._refuse(served, 500, f"the model failed on this input ({exc.__class__.__name__})", rid)
            payload = json.dumps({"predictions": predictions}).encode()
            latency = time.perf_counter() - started
            served.ok.inc()
            served.latency.observe(latency)
            if self.logger is not None:
                self.logger.log(rid, columns, predictions, latency_s=latency, model=loaded.model,
                                version=loaded.version)
            return Response(payload, 200, {"x-request-id": rid}, _JSON)
        finally:
            metrics.in_flight.dec()

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                raise BadInput(413, f"the body is larger than {limit} bytes (--max-body)")
            return await request.body()  # uvicorn never delivers more than Content-Length
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadInput(413, f"the body is larger than {limit} bytes (--max-body)")
            chunks.append(chunk)
        return b"".join(chunks)

    def _refuse(self, served: Served, status: int, message: str, rid: str) -> Response:
        from starlette.responses import Response

        assert self.metrics is not None  # noqa: S101
        self.metrics.requests.labels(served.loaded.model, served.loaded.version, str(status)).inc()
        if self.logger is not None:
            self.logger.error(status)
        headers = {"x-request-id": rid}
        if status == 413:
            headers["connection"] = "close"  # the rest of the body is not read
        return Response(json.dumps({"error": message}).encode(), status, headers, _JSON)

    async def health(self, _request: Request) -> Response:
        from starlette.responses import Response

        assert self.served is not None  # noqa: S101
        loaded = self.served.loaded
        doc = {"status": "ok", "model": loaded.model, "version": loaded.version, "commit": loaded.commit}
        return Response(json.dumps(doc).encode(), 200, media_type=_JSON)

    async def metrics_page(self, _request: Request) -> Response:
        from starlette.responses import Response

        assert self.metrics is not None  # noqa: S101
        body, kind = await asyncio.to_thread(self.metrics.render)
        return Response(body, 200, media_type=kind)

    async def http_error(self, _request: Request, exc: Exception) -> Response:
        from starlette.responses import Response

        status = int(getattr(exc, "status_code", 500))
        detail = str(getattr(exc, "detail", "")) or "error"
        if self.served is not None:
            return self._refuse(self.served, status, detail, uuid.uuid4().hex)
        return Response(json.dumps({"error": detail}).encode(), status, media_type=_JSON)


def _request_id(given: str | None) -> str:
    """The client's X-Request-ID when it is a sane one (printable ASCII, at most 128), else a new one."""
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex
