"""The whole loop, end to end on loopback, as a user runs it: serve prod with --follow, traffic with
a shift, `mlv monitor` flags it, export with labels, retrain on the exported rows, gate against prod,
register, promote to prod, and the running server swaps to the new version without a failed request."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from mlv.record.history import show_experiment
from tests import serve_helpers
from tests.conftest import copy_template, mlv
from tests.remote_servers import LOOPBACK
from tests.serve_helpers import FEATURES, serve_process

pytest.importorskip("uvicorn", reason="the serve extra is part of dev")

WEIGHTS = np.array([1.5, -2.0, 0.7, 3.1])  # the sample project's relation (generate_data.py)
SHIFT = 2.0  # added to x1 and x2: the inputs drift, the relation holds


@pytest.fixture(scope="module")
def registry_template(tmp_path_factory: pytest.TempPathFactory, _templates: dict[str, Path]) -> Path:
    return serve_helpers.registry_template(tmp_path_factory, _templates)


def _traffic(port: int, requests: int, rows: int) -> list[tuple[str, float]]:
    """REQUESTS requests of ROWS shifted rows each, bounded; (row id, true label) of every row answered."""
    rng = np.random.default_rng(27)
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    labelled = []
    for i in range(requests):
        x = rng.normal(size=(rows, len(FEATURES)))
        x[:, :2] += SHIFT
        y = x @ WEIGHTS + 0.5 + rng.normal(scale=0.3, size=rows)
        body = json.dumps({"rows": [dict(zip(FEATURES, map(float, r), strict=True)) for r in x]})
        conn.request("POST", "/predict", body, {"content-type": "application/json", "x-request-id": f"loop-{i}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        labelled += [(f"loop-{i}:{j}", float(y[j])) for j in range(rows)]
    conn.close()
    return labelled


class _Prober:
    """Requests and /health on one keep-alive connection, in a thread, until stopped: every status,
    every connection error, and the versions /health named, in order."""

    def __init__(self, port: int) -> None:
        self.port, self.answered = port, 0
        self.failures: list[str] = []
        self.versions: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
        body = json.dumps({"rows": [dict.fromkeys(FEATURES, 0.5)]})
        while not self._stop.is_set():
            try:
                conn.request("POST", "/predict", body, {"content-type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    self.failures.append(f"predict: {response.status}")
                self.answered += 1
                conn.request("GET", "/health")
                health = conn.getresponse()
                version = json.loads(health.read())["version"]
                if not self.versions or self.versions[-1] != version:
                    self.versions.append(version)
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"{exc.__class__.__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
        conn.close()

    def wait_for(self, version: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (not self.versions or self.versions[-1] != version) and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


@pytest.mark.slow
def test_serve_monitor_export_retrain_gate_promote_and_follow_swaps(registry_template: Path, tmp_path: Path) -> None:
    repo = copy_template(registry_template, tmp_path / "repo")
    config = repo / ".mlv" / "config.yaml"
    config.write_text(config.read_text() + "gate:\n  metrics:\n    r2: {min: 0.9}\n")
    log = tmp_path / "predictions"
    with serve_process(repo, "sample#prod", "--follow", "--follow-every", "0.2", "--log", str(log),
                       "--log-interval", "0.2") as (_proc, port):
        labelled = _traffic(port, requests=300, rows=2)
        time.sleep(0.5)  # more than two log intervals: every acknowledged row is in a segment

        flagged = mlv(repo, "monitor", "sample#prod", "--log", str(log), "--window", "1h", check=False)
        assert flagged.returncode == 1, flagged.stdout + flagged.stderr
        assert "FAIL  data_health: fail" in flagged.stdout and "x1" in flagged.stdout
        assert "ended without a final segment" not in flagged.stdout  # a live, idle server lost nothing

        labels = tmp_path / "outcomes.csv"
        labels.write_text("request_id,label\n" + "".join(f"{rid},{y!r}\n" for rid, y in labelled))
        mlv(repo, "monitor", "labels", "--log", str(log), str(labels))
        (repo / "data" / "dataset.csv").unlink()  # production's rows are the new training data
        exported = json.loads(mlv(repo, "monitor", "export", "sample#prod", "--log", str(log), "--window", "1h",
                                  "-o", "data/dataset.csv", "--json").stdout)
        assert exported["rows"] == len(labelled) == 600

        mlv(repo, "snapshot", "--run", "python train.py", "-m", "retrain on production rows")
        gate = mlv(repo, "gate", "--against", "sample#prod", check=False)
        assert gate.returncode == 0, gate.stdout + gate.stderr
        mlv(repo, "model", "register", "sample", "-m", "retrained on production rows")
        (lineage,) = show_experiment(repo, "sample@v0.0.2").record.lineage or []
        assert [(m["model"], m["version"]) for m in lineage["source"]["models"]] == [("sample", "v0.0.1")]

        prober = _Prober(port)
        try:
            mlv(repo, "model", "promote", "sample", "v0.0.2", "prod")
            prober.wait_for("v0.0.2", timeout=60)
            time.sleep(0.3)  # and requests go on after the swap
        finally:
            prober.stop()
        assert prober.versions == ["v0.0.1", "v0.0.2"], prober.versions
        assert prober.failures == [] and prober.answered > 0
