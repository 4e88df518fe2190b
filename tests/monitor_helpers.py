"""Prediction log segments written with pyarrow exactly as docs/reference/prediction-log.md says
(columns, types, order, key-value metadata, atomic rename), for the `mlv monitor` tests and the
benchmark. Rows follow the sample project's data: x1..x4 ~ N(0, 1) (+ SHIFT), y = x @ W + 0.5.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

FEATURES = ("x1", "x2", "x3", "x4")
WEIGHTS = (1.5, -2.0, 0.7, 3.1)
INTERCEPT = 0.5


def schema(features: tuple[str, ...] = FEATURES) -> pa.Schema:
    """The columns of a segment, in the contract's order."""
    return pa.schema([("request_id", pa.string()), ("ts", pa.timestamp("us", tz="UTC")), ("model", pa.string()),
                      ("version", pa.string()), ("latency_s", pa.float64()), ("status", pa.int16()),
                      *[(f"input.{f}", pa.float64()) for f in features], ("prediction", pa.float64())])


@dataclass
class Traffic:
    """What one segment's rows look like."""

    rows: int = 500
    seed: int = 0
    shift: dict[str, float] = field(default_factory=dict)  # feature -> added to its values
    model: str = "churn"
    version: str = "v0.0.1"
    start: datetime | None = None  # the first row's ts (default: a minute ago)
    spacing_s: float = 0.01
    latency_s: float = 0.002  # median latency; values are lognormal around it
    prefix: str = ""  # of request ids (default: random)


def rows(traffic: Traffic) -> tuple[pa.Table, np.ndarray]:
    """The segment's table and the true targets y of its rows (labels)."""
    rng = np.random.default_rng(traffic.seed)
    n = traffic.rows
    x = rng.normal(size=(n, len(FEATURES)))
    for i, name in enumerate(FEATURES):
        x[:, i] += traffic.shift.get(name, 0.0)
    y = x @ np.array(WEIGHTS) + INTERCEPT + rng.normal(scale=0.3, size=n)
    prediction = x @ np.array(WEIGHTS) + INTERCEPT
    start = traffic.start or (datetime.now(UTC) - timedelta(minutes=1))
    prefix = traffic.prefix or uuid.uuid4().hex[:12]
    ts = [start + timedelta(seconds=i * traffic.spacing_s) for i in range(n)]
    columns: dict[str, Any] = {
        "request_id": pa.array([f"{prefix}-{i}" for i in range(n)], pa.string()),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "model": pa.array([traffic.model] * n, pa.string()),
        "version": pa.array([traffic.version] * n, pa.string()),
        "latency_s": pa.array(traffic.latency_s * np.exp(rng.normal(scale=0.3, size=n)), pa.float64()),
        "status": pa.array([200] * n, pa.int16()),
        **{f"input.{name}": pa.array(x[:, i], pa.float64()) for i, name in enumerate(FEATURES)},
        "prediction": pa.array(prediction, pa.float64()),
    }
    return pa.table(columns, schema=schema()), y


def metadata(writer: str, seq: int, *, dropped: int = 0, errors: dict[str, int] | None = None,
             requests: int = 0, sample_rate: float = 1.0) -> dict[str, str]:
    return {"mlv.log_format": "1", "mlv.writer": writer, "mlv.seq": str(seq), "mlv.dropped": str(dropped),
            "mlv.errors": json.dumps(errors or {}), "mlv.sample_rate": repr(sample_rate),
            "mlv.requests": str(requests)}


def segment_path(log: Path, writer: str, seq: int, day: str) -> Path:
    return log / "segments" / f"date={day}" / f"{writer}-{seq:08d}.parquet"


def write_segment(log: Path, table: pa.Table, writer: str, seq: int, *, day: str | None = None,
                  **meta: Any) -> Path:
    """TABLE as segment SEQ of WRITER, written to a dot-name then renamed, as the logger does."""
    first = table.column("ts")[0].as_py() if table.num_rows else datetime.now(UTC)
    day = day or first.strftime("%Y-%m-%d")
    target = segment_path(log, writer, seq, day)
    target.parent.mkdir(parents=True, exist_ok=True)
    requests = meta.pop("requests", table.num_rows + sum((meta.get("errors") or {}).values()))
    tagged = table.replace_schema_metadata(metadata(writer, seq, requests=requests, **meta))
    tmp = target.with_name(f".{target.name}.tmp")
    pq.write_table(tagged, tmp)
    os.replace(tmp, target)
    return target


def write_traffic(log: Path, writer: str, seq: int, traffic: Traffic, **meta: Any) -> tuple[Path, pa.Table, np.ndarray]:
    table, y = rows(traffic)
    return write_segment(log, table, writer, seq, **meta), table, y


def write_labels_csv(path: Path, ids: list[str], labels: list[float] | np.ndarray) -> Path:
    lines = ["request_id,label", *[f"{i},{float(v)!r}" for i, v in zip(ids, labels, strict=True)]]
    path.write_text("\n".join(lines) + "\n")
    return path
