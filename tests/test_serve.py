"""`mlv serve` over real uvicorn on loopback, serving packages built from a real registry: the API,
each bad input the issue names, the prediction log's faults, SIGTERM and SIGKILL, and --follow."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlv.serve.settings import Settings
from tests import serve_helpers
from tests.conftest import copy_template, mlv
from tests.serve_helpers import FEATURES, ROW, Client, in_thread, read_log, segments, serve_process


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory: pytest.TempPathFactory, _templates: dict[str, Path]) -> Path:
    return serve_helpers.registry_template(tmp_path_factory, _templates)


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory, _templates: dict[str, Path]) -> Path:
    return serve_helpers.package_template(tmp_path_factory, _templates)

pytest.importorskip("uvicorn", reason="the serve extra is part of dev")


@pytest.fixture(scope="module")
def server(package_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """One server for the module's request tests, its log in a folder of its own."""
    log = tmp_path_factory.mktemp("log")
    with in_thread(Settings(package=str(package_dir), log=str(log), max_body=4096, log_interval_s=0.2)) as running:
        yield running.port, log


@pytest.fixture
def client(server: tuple[int, Path]) -> Iterator[Client]:
    c = Client(server[0])
    yield c
    c.close()


def test_package_holds_schema_and_reference_predictions(package_dir: Path) -> None:
    import pyarrow.parquet as pq

    schema = json.loads((package_dir / "input-schema.json").read_text())
    assert schema == {"format": 1, "features": [{"name": n, "type": "float64", "nullable": False} for n in FEATURES]}
    reference = pq.read_table(package_dir / "reference-predictions.parquet")
    assert reference.column_names == ["prediction"] and reference.num_rows == 2000  # the recorded dataset
    assert mlv(package_dir, "model", "verify", ".").returncode == 0  # both are in SHA256SUMS


def test_predict_takes_rows_and_mlflow_bodies(client: Client) -> None:
    status, rows = client.predict({"rows": [ROW, ROW]})
    assert status == 200 and len(rows["predictions"]) == 2 and rows["predictions"][0] == rows["predictions"][1]
    records = client.predict({"dataframe_records": [ROW]}, path="/invocations")
    split = client.predict({"dataframe_split": {"columns": list(ROW), "data": [list(ROW.values())]}})
    assert records == split
    assert records[0] == 200 and records[1]["predictions"] == pytest.approx(rows["predictions"][:1], rel=1e-12)
    status, headers, _ = client.request("POST", "/predict", json.dumps({"rows": [ROW]}), {"x-request-id": "abc-1"})
    assert status == 200 and headers["x-request-id"] == "abc-1"


def test_health_names_the_version(client: Client) -> None:
    status, _headers, body = client.request("GET", "/health")
    doc = json.loads(body)
    assert status == 200 and (doc["status"], doc["model"], doc["version"]) == ("ok", "sample", "v0.0.1")


def test_malformed_json(client: Client) -> None:
    status, doc = client.predict('{"rows": [{"x1": 1,')
    assert status == 400 and doc["error"].startswith("the body is not JSON")
    assert list(doc) == ["error"] and "\n" not in doc["error"]


def test_missing_column(client: Client) -> None:
    row = {k: v for k, v in ROW.items() if k != "x3"}
    assert client.predict({"rows": [ROW, row]}) == (422, {"error": "rows[1].x3: missing (the model needs it)"})
    split = {"dataframe_split": {"columns": ["x1", "x2", "x4"], "data": [[1, 2, 3]]}}
    assert client.predict(split) == (422, {"error": "dataframe_split.columns.x3: missing (the model needs it)"})


def test_wrong_type(client: Client) -> None:
    assert client.predict({"rows": [{**ROW, "x2": "high"}]}) == \
        (422, {"error": "rows[0].x2: expected a number, got a string"})
    assert client.predict({"rows": [{**ROW, "x4": True}]})[0] == 422  # a boolean is not a number
    assert client.predict({"rows": [{**ROW, "x9": 1.0}]})[1]["error"].startswith("rows[0].x9: not a feature")


def test_nan_where_the_schema_forbids_it(client: Client) -> None:
    error = "rows[0].x1: NaN where the model needs a value (the feature is not nullable)"
    assert client.predict('{"rows": [{"x1": NaN, "x2": 1, "x3": 1, "x4": 1}]}') == (422, {"error": error})
    assert client.predict({"rows": [{**ROW, "x2": None}]})[1]["error"].startswith("rows[0].x2: null where")
    assert client.predict('{"rows": [{"x1": Infinity, "x2": 1, "x3": 1, "x4": 1}]}')[0] == 422


def test_oversized_body(server: tuple[int, Path]) -> None:
    client = Client(server[0])
    body = json.dumps({"rows": [ROW] * 100})  # > 4096 bytes, the server's --max-body here
    status, _headers, payload = client.request("POST", "/predict", body)
    assert status == 413 and "larger than 4096 bytes" in json.loads(payload)["error"]
    client.close()


def test_metrics_count_requests_by_status(client: Client) -> None:
    before = client.metrics()
    client.predict({"rows": [ROW]})
    client.predict("not json")
    after = client.metrics()
    ok = 'mlv_serve_requests_total{model="sample",status="200",version="v0.0.1"}'
    bad = 'mlv_serve_requests_total{model="sample",status="400",version="v0.0.1"}'
    assert after[ok] == before.get(ok, 0) + 1 and after[bad] == before.get(bad, 0) + 1
    assert after['mlv_serve_model_info{model="sample",version="v0.0.1"}'] == 1
    assert 'mlv_serve_request_duration_seconds_bucket{le="0.001",model="sample",version="v0.0.1"}' in after
    assert after["mlv_serve_in_flight_requests"] == 0
    assert after['mlv_serve_predictions_dropped_total{reason="queue_full"}'] == 0


def test_a_package_that_fails_verification_is_not_served(package_dir: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(package_dir, tampered)
    model = next((tampered / "artifact").rglob("*.joblib"))
    model.write_bytes(model.read_bytes() + b"\0")
    proc = mlv(tmp_path, "serve", str(tampered), "--port", "1", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert "does not verify: changed: artifact/models/model.joblib" in proc.stderr


def test_an_unknown_version_is_refused(registry_template: Path, tmp_path: Path) -> None:
    repo = copy_template(registry_template, tmp_path / "repo")
    proc = mlv(repo, "serve", "sample@v9.9.9", check=False)
    assert (proc.returncode, proc.stderr.splitlines()) == \
        (1, ["error: sample has no version v9.9.9. `mlv model show sample` lists its versions."])
    assert not (repo / ".git/mlv/serve").exists()


def test_an_unwritable_log_keeps_serving_and_counts_drops(package_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file: nothing can be made under it, even by root\n")
    settings = Settings(package=str(package_dir), log=str(blocker / "log"), log_interval_s=0.05)
    with in_thread(settings) as running:
        client = Client(running.port)
        assert all(client.predict({"rows": [ROW, ROW]})[0] == 200 for _ in range(5))
        deadline = time.monotonic() + 10
        dropped = 'mlv_serve_predictions_dropped_total{reason="unwritable"}'
        while client.metrics()[dropped] < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        metrics = client.metrics()
        assert metrics[dropped] == 10 and metrics["mlv_serve_predictions_logged_total"] == 0
        assert client.predict({"rows": [ROW]})[0] == 200  # still serving
        client.close()


def test_a_full_queue_is_counted_in_metrics_and_in_the_log(package_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    settings = Settings(package=str(package_dir), log=str(log), log_queue=2, log_interval_s=3600)
    with in_thread(settings) as running:
        client = Client(running.port)
        for i in range(5):  # the writer waits an hour: the queue holds two requests
            assert client.predict({"rows": [ROW]}, request_id=f"r{i}")[0] == 200
        client.predict("{")
        metrics = client.metrics()
        assert metrics['mlv_serve_predictions_dropped_total{reason="queue_full"}'] == 3
        client.close()
    table, metas = read_log(log)  # stopping wrote what was queued
    assert table.column("request_id").to_pylist() == ["r0", "r1"]
    assert [(m["mlv.dropped"], m["mlv.requests"], json.loads(m["mlv.errors"])) for m in metas] == \
        [("3", "6", {"400": 1})]


def test_segments_follow_the_contract(package_dir: Path, tmp_path: Path) -> None:
    import pyarrow as pa

    log = tmp_path / "log"
    with in_thread(Settings(package=str(package_dir), log=str(log), log_sample=1.0)) as running:
        client = Client(running.port)
        client.predict({"rows": [ROW, ROW]}, request_id="batch")
        client.predict({"rows": [ROW]}, request_id="single")
        client.close()
    table, metas = read_log(log)
    assert table.schema.names == ["request_id", "ts", "model", "version", "latency_s", "status",
                                  *[f"input.{n}" for n in FEATURES], "prediction"]
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("status").type == pa.int16()
    assert table.column("request_id").to_pylist() == ["batch:0", "batch:1", "single"]
    assert set(table.column("version").to_pylist()) == {"v0.0.1"}
    (path,) = segments(log)
    writer, seq = path.stem.rsplit("-", 1)
    assert path.parent.name.startswith("date=") and seq == "00000001"
    written = datetime.fromisoformat(metas[0].pop("mlv.written").replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - written).total_seconds()) < 60
    assert metas == [{"mlv.log_format": "1", "mlv.writer": writer, "mlv.seq": "1", "mlv.dropped": "0",
                      "mlv.errors": "{}", "mlv.sample_rate": "1.0", "mlv.requests": "2", "mlv.interval_s": "1.0",
                      "mlv.final": "true"}]  # one segment, written on shutdown: the last, so final


@pytest.mark.slow
def test_sigterm_writes_every_acknowledged_prediction(package_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    with serve_process(tmp_path, str(package_dir), "--log", str(log), "--log-interval", "0.3") as (proc, port):
        client = Client(port)
        acknowledged = [f"req-{i}" for i in range(300) if client.predict({"rows": [ROW]}, f"req-{i}")[0] == 200]
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) in (0, -signal.SIGTERM)  # uvicorn ends by raising the signal again, once shut down
    table, metas = read_log(log)
    assert len(acknowledged) == 300
    assert sorted(table.column("request_id").to_pylist()) == sorted(acknowledged)
    assert sum(int(m["mlv.requests"]) for m in metas) == 300
    seqs = sorted(int(m["mlv.seq"]) for m in metas)
    assert seqs == list(range(1, len(seqs) + 1))  # no gap: nothing lost
    assert [m.get("mlv.final") for m in sorted(metas, key=lambda m: int(m["mlv.seq"]))][-1] == "true"
    time.sleep(0.7)  # more than two intervals: a writer that had not ended cleanly would show now
    doc = _monitor_json(tmp_path, log)
    assert doc["segments"]["unfinished"] == [] and doc["segments"]["lost"] == 0


@pytest.mark.slow
def test_sigkill_loses_at_most_one_interval(package_dir: Path, tmp_path: Path) -> None:
    log, interval = tmp_path / "log", 0.5
    with serve_process(tmp_path, str(package_dir), "--log", str(log), "--log-interval", str(interval)) as (proc, port):
        client = Client(port)
        acked: list[tuple[str, float]] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.5:
            rid = f"k-{len(acked)}"
            if client.predict({"rows": [ROW]}, rid)[0] == 200:
                acked.append((rid, time.monotonic()))
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(30)
        client.close()
    table, metas = read_log(log)
    logged = set(table.column("request_id").to_pylist())
    assert logged <= {rid for rid, _ in acked}
    lost = [(rid, at) for rid, at in acked if rid not in logged]
    # The bound: only what was acknowledged in the last interval (plus one segment's write) is lost,
    # and always a tail, never a hole in the middle.
    assert all(killed - at <= interval + 0.5 for _, at in lost), (len(lost), len(acked))
    assert [rid for rid, _ in acked[:len(acked) - len(lost)]] == [rid for rid, _ in acked if rid in logged]
    seqs = sorted(int(m["mlv.seq"]) for m in metas)
    assert seqs == list(range(1, len(seqs) + 1))
    # mlv monitor reports the killed writer and the bound; the rows it lost fit in that bound.
    time.sleep(max(0.0, killed + 2 * interval + 0.2 - time.monotonic()))
    doc = _monitor_json(tmp_path, log)
    (writer,) = {m["mlv.writer"] for m in metas}
    (gone,) = doc["segments"]["unfinished"]
    assert (gone["writer"], gone["last_seq"], gone["interval_s"]) == (writer, seqs[-1], interval)
    rate = len(acked) / (killed - started)
    assert len(lost) <= rate * (gone["interval_s"] + 0.5) + 1, (len(lost), len(acked))
    shown = mlv(tmp_path, "monitor", "--log", str(log), "--window", "1h", check=False)
    assert f"writer {writer} ended without a final segment" in shown.stdout
    assert f"up to one interval of rows ({interval:g} s) may be lost" in shown.stdout


def _monitor_json(cwd: Path, log: Path) -> dict[str, Any]:
    proc = mlv(cwd, "monitor", "--log", str(log), "--window", "1h", "--json", check=False)
    assert proc.returncode in (0, 1), proc.stderr  # 1: fewer rows than min_rows
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


@pytest.mark.slow
def test_follow_swaps_to_the_new_prod_version_without_dropping_a_request(registry_template: Path,
                                                                        tmp_path: Path) -> None:
    repo = copy_template(registry_template, tmp_path / "repo")
    (repo / "params.yaml").write_text("train:\n  test_size: 0.5\n  seed: 1\n  fit_intercept: false\n")
    mlv(repo, "snapshot", "--run", "python train.py", "-m", "no intercept")
    mlv(repo, "model", "register", "sample")
    first = mlv(repo, "model", "package", "sample@v0.0.1", "-o", str(tmp_path / "v1"))
    assert first.returncode == 0
    log = tmp_path / "log"
    settings = Settings(package=str(tmp_path / "v1"), root=str(repo), follow="sample#prod", follow_every_s=0.1,
                        log=str(log))
    with in_thread(settings) as running:
        client = Client(running.port)
        versions: list[str] = []

        def served() -> str:
            return str(json.loads(client.request("GET", "/health")[2])["version"])

        assert served() == "v0.0.1"
        mlv(repo, "model", "promote", "sample", "v0.0.2", "prod")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not versions or versions[-1] != "v0.0.2"):
            status, _doc = client.predict({"rows": [ROW]})
            assert status == 200  # every request answered through the swap
            versions.append(served())
        assert client.predict({"rows": [ROW]}, request_id="after")[0] == 200
        client.close()
    assert versions[-1] == "v0.0.2"
    table, _metas = read_log(log)
    assert set(table.column("version").to_pylist()) <= {"v0.0.1", "v0.0.2"}
    by_id = dict(zip(table.column("request_id").to_pylist(), table.column("version").to_pylist(), strict=True))
    assert by_id["after"] == "v0.0.2"


@pytest.mark.slow
def test_two_workers_share_metrics_and_write_a_log_each(package_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "log"
    with serve_process(tmp_path, str(package_dir), "--workers", "2", "--log", str(log)) as (proc, port):
        clients = [Client(port) for _ in range(8)]  # connections spread over the workers
        for i in range(40):
            assert clients[i % 8].predict({"rows": [ROW]}, f"w-{i}")[0] == 200
        clients[0].predict("{")
        metrics = clients[1].metrics()  # one worker answers for both
        for c in clients:
            c.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert metrics['mlv_serve_requests_total{model="sample",status="200",version="v0.0.1"}'] == 40
    assert metrics['mlv_serve_requests_total{model="sample",status="400",version="v0.0.1"}'] == 1
    assert metrics['mlv_serve_model_info{model="sample",version="v0.0.1"}'] == 1
    table, metas = read_log(log)
    assert sorted(table.column("request_id").to_pylist()) == sorted(f"w-{i}" for i in range(40))
    assert len({m["mlv.writer"] for m in metas}) in (1, 2)  # one writer per worker that answered


def test_help_imports_no_server_module() -> None:
    code = ("import sys; sys.argv = ['mlv', 'serve', '--help']\nfrom mlv.cli.app import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\n"
            "heavy = {'uvicorn', 'starlette', 'prometheus_client', 'pyarrow', 'sklearn'}\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & heavy), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "[]" and "Serve a model version over HTTP" in proc.stdout
