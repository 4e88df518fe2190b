"""The floor for `mlv serve` (benchmarks/serve.py): a bare Starlette app on uvicorn with the same
model: parse the JSON body, `predict` on a numpy row, answer JSON. No validation, no log, no metrics.

    MODEL=path/to/model.joblib FEATURES=x1,x2,x3 uvicorn --factory benchmarks.serve_floor:app
"""

from __future__ import annotations

import json
import os
from typing import Any

import joblib
import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def app() -> Starlette:
    model = joblib.load(os.environ["MODEL"])
    features = os.environ["FEATURES"].split(",")

    async def predict(request: Request) -> Response:
        doc: Any = json.loads(await request.body())
        rows = np.array([[row[f] for f in features] for row in doc["rows"]], dtype=np.float64)
        payload = json.dumps({"predictions": model.predict(rows).tolist()}).encode()
        return Response(payload, media_type="application/json")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"])])
