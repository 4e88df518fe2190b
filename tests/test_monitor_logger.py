"""The prediction log's writer as a library (`mlv.monitor`): the plain function, the ASGI
middleware on a real Starlette app, and segments written to S3 (moto's server on loopback)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.remote_servers import S3Server, ServerUnavailableError
from tests.serve_helpers import read_log

pytest.importorskip("pyarrow")


def test_a_logger_writes_typed_columns_and_contract_metadata(tmp_path: Path) -> None:
    from mlv.monitor import PredictionLogger

    logger = PredictionLogger(str(tmp_path / "log"), model="m", version="v1.0.0", interval_s=3600)
    assert logger.log("a", {"n": [1, 2], "s": ["x", None], "f": [0.5, 1.5], "b": [True, False]}, [1.0, 2.0],
                      latency_s=0.001)
    logger.error(422)
    logger.close()
    table, metas = read_log(tmp_path / "log")
    assert [str(t) for t in table.schema.types] == ["string", "timestamp[us, tz=UTC]", "string", "string", "double",
                                                    "int16", "int64", "string", "double", "bool", "double"]
    assert table.column("input.s").to_pylist() == ["x", None]
    assert table.column("request_id").to_pylist() == ["a:0", "a:1"]
    assert metas[0]["mlv.errors"] == '{"422": 1}' and metas[0]["mlv.requests"] == "2"


def test_sampling_logs_a_share_and_counts_every_request(tmp_path: Path) -> None:
    from mlv.monitor import PredictionLogger

    logger = PredictionLogger(str(tmp_path / "log"), sample_rate=0.0, interval_s=3600)
    assert not any(logger.log(str(i), {"x": [1.0]}, [1.0], latency_s=0.0) for i in range(10))
    logger.close()  # the last segment carries the count, even with no rows
    table, metas = read_log(tmp_path / "log")
    assert table.num_rows == 0 and metas[0]["mlv.requests"] == "10" and metas[0]["mlv.sample_rate"] == "0.0"
    with pytest.raises(ValueError, match="between 0 and 1"):
        PredictionLogger(str(tmp_path / "other"), sample_rate=1.5)


def test_log_prediction_the_plain_function(tmp_path: Path) -> None:
    from mlv.monitor import log_prediction, logger

    url = str(tmp_path / "log")
    assert log_prediction({"x": 1.0}, 2.5, url=url, model="m", version="v0.1.0", request_id="one")
    logger._DEFAULT.pop(url).close()  # what the exit handler does
    table, _metas = read_log(tmp_path / "log")
    assert table.column("prediction").to_pylist() == [2.5] and table.column("model").to_pylist() == ["m"]


def test_the_middleware_logs_answers_and_counts_errors(tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from mlv.monitor import PredictionLogger, PredictionLogMiddleware

    async def predict(request: Request) -> JSONResponse:
        rows = (await request.json())["rows"]
        if any("x" not in row for row in rows):
            return JSONResponse({"error": "x missing"}, 422)
        return JSONResponse({"predictions": [row["x"] * 2 for row in rows]})

    log = PredictionLogger(str(tmp_path / "log"), model="own", version="v2.0.0", interval_s=3600)
    app = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
    app.add_middleware(PredictionLogMiddleware, logger=log, path="/predict")
    with TestClient(app) as client:
        assert client.post("/predict", json={"rows": [{"x": 1.0}, {"x": 2.0}]},
                           headers={"x-request-id": "req"}).json() == {"predictions": [2.0, 4.0]}
        assert client.post("/predict", json={"rows": [{"y": 1.0}]}).status_code == 422
    log.close()
    table, metas = read_log(tmp_path / "log")
    assert table.column("request_id").to_pylist() == ["req:0", "req:1"]
    assert table.column("prediction").to_pylist() == [2.0, 4.0] and table.column("input.x").to_pylist() == [1.0, 2.0]
    assert json.loads(metas[0]["mlv.errors"]) == {"422": 1}


@pytest.fixture
def s3() -> Iterator[S3Server]:
    server = S3Server()
    try:
        server.start()
    except ServerUnavailableError as exc:
        if os.environ.get("MLV_REQUIRE_REMOTE_SERVERS") == "1":  # CI: the S3 tests must run
            pytest.fail(f"{exc} (MLV_REQUIRE_REMOTE_SERVERS=1)", pytrace=False)
        pytest.skip(str(exc))
    yield server
    server.stop()


def test_segments_go_to_s3_in_one_put(s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    from mlv.monitor import PredictionLogger

    bucket = s3.new_bucket("predictions")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3.region)
    logger = PredictionLogger(f"s3://{bucket}/prod", model="m", version="v1.0.0", interval_s=3600)
    logger.log("r", {"x": [1.0]}, [3.0], latency_s=0.0)
    logger.close()
    assert logger.dropped == 0, logger.last_error
    keys = [o["Key"] for o in s3.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("prod/segments/date=") and keys[0].endswith("-00000001.parquet")
    body: Any = s3.client().get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert pq.read_table(io.BytesIO(body)).column("prediction").to_pylist() == [3.0]


def test_the_monitor_reads_what_the_logger_writes(tmp_path: Path) -> None:
    """Both sides of the contract: segments from PredictionLogger, listed and read by `mlv monitor`'s
    reader, with every count of the metadata."""
    from mlv.monitor import PredictionLogger
    from mlv.monitor.logstore import open_log
    from mlv.monitor.segments import list_segments, read_segments
    from mlv.monitor.window import Window

    log = PredictionLogger(str(tmp_path / "log"), model="m", version="v1.0.0",
                           features=[("x1", "float64"), ("x2", "float64")], interval_s=3600, queue_size=2)
    for i in range(3):  # the third is dropped: the queue holds two requests
        log.log(f"r{i}", {"x1": [1.0 * i], "x2": [2.0]}, [0.5 * i], latency_s=0.001)
    log.error(422)
    log.close()
    store = open_log(str(tmp_path / "log"))
    listing = list_segments(store, Window(None, None))
    assert not listing.skipped and not listing.gaps
    (segment,) = listing.segments
    assert (segment.rows, segment.dropped, segment.errors, segment.requests, segment.sample_rate, segment.features) \
        == (2, 1, {"422": 1}, 4, 1.0, ("x1", "x2"))
    tables = [table for _segment, table in read_segments(store, listing, None, Window(None, None))]
    assert [t.column("request_id").to_pylist() for t in tables] == [["r0", "r1"]] and not listing.skipped


def _stop_writer_thread(logger: Any) -> None:
    """LOGGER's background writer stops without a final segment, as in a process killed with
    SIGKILL; the logger still takes rows, and flush() writes them (not final)."""
    logger._closed = True
    logger._wake.set()
    logger._thread.join(5)  # a logger that has written and been asked nothing writes no final segment
    assert not logger._thread.is_alive() and logger.seq == 0
    logger._closed = False


def test_a_writer_that_stops_cleanly_ends_final_and_one_that_does_not_is_reported(tmp_path: Path) -> None:
    """Each segment states the writer's interval; the last one close() writes is final. A writer
    whose newest segment is not final and older than two intervals is one that was killed."""
    from datetime import UTC, datetime, timedelta

    from mlv.monitor import PredictionLogger
    from mlv.monitor.logstore import open_log
    from mlv.monitor.segments import list_segments
    from mlv.monitor.window import Window

    url = str(tmp_path / "log")
    clean = PredictionLogger(url, model="m", version="v1.0.0", features=[("x1", "float64")], interval_s=3600)
    killed = PredictionLogger(url, model="m", version="v1.0.0", features=[("x1", "float64")], interval_s=0.5)
    _stop_writer_thread(killed)
    for logger in (clean, killed):
        logger.log("a", {"x1": [1.0]}, [2.0], latency_s=0.001)
        logger.flush()  # segment 1: not final
    clean.close()  # segment 2: no rows, final
    killed.log("b", {"x1": [1.0]}, [2.0], latency_s=0.001)  # acknowledged after its last segment: lost
    store = open_log(url)
    now = datetime.now(UTC)
    assert not list_segments(store, Window(None, now + timedelta(seconds=0.5))).unfinished  # within two intervals
    listing = list_segments(store, Window(None, now + timedelta(seconds=5)))
    assert {(s.writer, s.seq, s.final, s.interval_s) for s in listing.segments} == {
        (clean.writer, 1, False, 3600.0), (clean.writer, 2, True, 3600.0), (killed.writer, 1, False, 0.5)}
    (gone,) = listing.unfinished
    assert (gone["writer"], gone["last_seq"], gone["interval_s"]) == (killed.writer, 1, 0.5)


def test_monitor_reports_an_unfinished_writer_in_lines_json_and_as_a_rule(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    from mlv.datahealth.thresholds import thresholds_from_config
    from mlv.monitor import PredictionLogger
    from mlv.monitor.rules import parse_monitor
    from mlv.monitor.run import MonitorOptions, monitor
    from mlv.monitor.window import make_window
    from tests.conftest import mlv

    url = str(tmp_path / "log")
    killed = PredictionLogger(url, model="m", version="v1.0.0", features=[("x1", "float64")], interval_s=0.25)
    _stop_writer_thread(killed)
    killed.log("a", {"x1": [1.0]}, [2.0], latency_s=0.001)
    killed.flush()
    until = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    (tmp_path / "work").mkdir()
    args = ["monitor", "--log", url, "--since", "2000-01-01", "--until", until]
    shown = mlv(tmp_path / "work", *args, check=False)
    assert shown.returncode == 1, shown.stderr  # 1 row < min_rows
    assert f"lost: writer {killed.writer} ended without a final segment" in shown.stdout
    assert "up to one interval of rows (0.25 s) may be lost" in shown.stdout
    doc = json.loads(mlv(tmp_path / "work", *args, "--json", check=False).stdout)
    assert [u["writer"] for u in doc["segments"]["unfinished"]] == [killed.writer]
    policy = parse_monitor({"min_rows": 0, "unfinished_writers": {"max": 0}})
    report = monitor(None, MonitorOptions(log=url, window=make_window(None, "2000-01-01", until)), policy,
                     thresholds_from_config(None))
    (rule,) = [r for r in report.versions[0].rules if r.metric == "unfinished_writers"]
    assert (rule.passed, rule.value) == (False, 1.0) and f"m@v1.0.0: {rule.message}" in report.failures


def test_an_idle_live_writer_is_not_reported_its_heartbeat_says_it_is_alive(tmp_path: Path) -> None:
    import time
    from datetime import UTC, datetime

    from mlv.monitor import PredictionLogger
    from mlv.monitor.logstore import open_log
    from mlv.monitor.segments import list_segments
    from mlv.monitor.window import Window

    url = str(tmp_path / "log")
    idle = PredictionLogger(url, model="m", version="v1.0.0", features=[("x1", "float64")], interval_s=0.1)
    idle.log("a", {"x1": [1.0]}, [2.0], latency_s=0.001)
    time.sleep(0.8)  # one segment, then idle for several intervals
    heartbeat = tmp_path / "log" / "writers" / f"{idle.writer}.json"
    assert json.loads(heartbeat.read_text())["writer"] == idle.writer
    store = open_log(url)
    (segment,) = list_segments(store, Window(None, None)).segments
    assert segment.written is not None
    assert (datetime.now(UTC) - segment.written).total_seconds() > 0.2  # stale: only the heartbeat says alive
    assert list_segments(store, Window(None, None)).unfinished == []
    idle.close()
    assert not heartbeat.exists()  # a clean stop: the final segment says it, the heartbeat goes
    assert list_segments(store, Window(None, None)).unfinished == []
