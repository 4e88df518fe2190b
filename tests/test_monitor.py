"""`mlv monitor` on real prediction logs (segments written with pyarrow per the log's contract)
against a real registered model: its stored training-data profile and recorded metrics.

Commands run in-process (tests.test_health_cli.run); the repository is the sample project with one
experiment, registered as churn@v0.0.1 and promoted to prod.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlv.registry import actions
from tests.monitor_helpers import Traffic, segment_path, write_labels_csv, write_segment, write_traffic
from tests.monitor_helpers import rows as rows_of
from tests.remote_servers import S3Server
from tests.test_health_cli import run
from tests.test_remotes import BUCKET, s3_server  # noqa: F401 - the moto S3 fixture


@pytest.fixture
def served(experiment_repo: Path) -> Path:
    actions.register(experiment_repo, "churn", version="v0.0.1")
    actions.promote(experiment_repo, "churn", "v0.0.1", "prod")
    return experiment_repo


def _config(repo: Path, monitor_yaml: str) -> None:
    path = repo / ".mlv" / "config.yaml"
    path.write_text(path.read_text() + monitor_yaml)


SCHEMA = Path(__file__).resolve().parent.parent / "mlv" / "schemas" / "monitor.schema.json"


def _monitor(repo: Path, *args: str) -> tuple[int, dict]:
    """`mlv monitor churn#prod --json`: exit code and the document, checked against its schema."""
    import jsonschema

    result = run(repo, "monitor", "churn#prod", "--log", str(repo / "predictions"), "--json", *args, check=False)
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    if doc:
        jsonschema.validate(doc, json.loads(SCHEMA.read_text()))
    return result.returncode, doc


def _log(repo: Path) -> Path:
    return repo / "predictions"


def test_healthy_traffic_exits_0_with_data_health_checked_against_the_training_profile(served: Path) -> None:
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=600, seed=1))
    write_traffic(_log(served), "web-1-aaaa", 2, Traffic(rows=600, seed=2), errors={"422": 3}, dropped=1)
    code, doc = _monitor(served)
    assert code == 0, doc["failures"]
    assert doc["status"] == "healthy" and doc["segments"]["read"] == 2
    (version,) = doc["versions"]
    assert (version["model"], version["version"]) == ("churn", "v0.0.1")
    assert version["data_health"]["data_path"] == "data"
    assert {c["column"] for c in version["data_health"]["columns"]} == {"x1", "x2", "x3", "x4"}
    assert version["data_health"]["drifted_columns"] == []
    system = version["system"]
    assert system["rows"] == 1200 and system["requests"] == 1203 and system["dropped"] == 1
    assert system["errors"] == {"422": 3} and system["error_rate"] == pytest.approx(3 / 1203)
    assert 1.5 < system["latency_p50_ms"] < 2.5 < system["latency_p99_ms"] < 6


def test_a_shifted_input_column_is_flagged_and_fails_under_the_data_check_thresholds(served: Path) -> None:
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=1000, seed=3, shift={"x3": 1.0}))
    code, doc = _monitor(served)
    assert doc["versions"][0]["data_health"]["drifted_columns"] == ["x3"]
    # One column of four, below drift_share (0.5), but shifted by 1 sd: a large drift fails alone.
    assert code == 1 and doc["failures"] == ["churn@v0.0.1: data_health: fail (inputs vs data of churn@v0.0.1): "
                                             "large drift in x3"]
    _config(served, "data_check:\n  large_wasserstein: 100\n")  # only the share decides
    code, doc = _monitor(served)
    assert code == 0
    _config(served, "  drift_share: 0.25\n")  # appended to the data_check: section above
    code, doc = _monitor(served)
    assert code == 1 and doc["status"] == "degraded"
    assert doc["failures"] == ["churn@v0.0.1: data_health: fail (inputs vs data of churn@v0.0.1): "
                               "drift in x3 (25% of columns)"]


def test_a_latency_rule_fails_with_one_line_naming_its_values(served: Path) -> None:
    _config(served, "monitor:\n  latency_p99_ms: {max: 1}\n  error_rate: {max: 0.5}\n")
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=600, seed=4, latency_s=0.004))
    result = run(served, "monitor", "--log", str(_log(served)), check=False)
    assert result.returncode == 1
    fails = [line for line in result.stdout.splitlines() if line.strip().startswith("FAIL")]
    assert len(fails) == 1 and fails[0].strip().startswith("FAIL  latency_p99_ms ") and fails[0].endswith("> max 1")
    assert "PASS  error_rate 0 <= max 0.5" in result.stdout


def test_a_monitor_section_that_is_not_a_mapping_is_refused_when_the_config_loads(served: Path) -> None:
    _config(served, "monitor: [latency_p99_ms]\n")
    result = run(served, "monitor", "--log", str(_log(served)), check=False)
    assert result.returncode == 2 and "`monitor` must be a mapping" in result.stderr
    from mlv.errors import ConfigError
    from mlv.project import config

    with pytest.raises(ConfigError, match="`monitor` must be a mapping"):
        config.load(served)  # checked when the configuration loads, whichever command reads it


def test_min_rows_is_a_rule_and_a_bad_monitor_section_cannot_run(served: Path) -> None:
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=100, seed=5))
    _config(served, "monitor:\n  min_rows: 500\n")
    code, doc = _monitor(served)
    assert code == 1 and doc["failures"] == ["churn@v0.0.1: rows 100 < min_rows 500"]
    assert doc["versions"][0]["data_health"] is None  # not tested on so few rows
    assert "drift not tested: 100 rows < min_rows 500" in doc["versions"][0]["notes"][0]
    path = served / ".mlv" / "config.yaml"
    path.write_text(path.read_text() + "  latency_p99: {max: 3}\n")
    result = run(served, "monitor", "--log", str(_log(served)), check=False)
    assert result.returncode == 2 and "unknown key monitor.latency_p99" in result.stderr


def test_could_not_run_exits_2_with_one_line(served: Path, tmp_path: Path) -> None:
    result = run(served, "monitor", "--log", str(tmp_path / "nowhere"), check=False)
    assert result.returncode == 2 and result.stderr.startswith("error: no logged predictions in ")
    assert len(result.stderr.strip().splitlines()) == 1
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=50, version="v9.9.9"))
    result = run(served, "monitor", "--log", str(_log(served)), check=False)
    assert result.returncode == 2 and "predictions of churn@v9.9.9" in result.stderr
    result = run(served, "monitor", "--log", str(_log(served)), "--window", "24h", "--since", "2026-01-01", check=False)
    assert result.returncode == 2 and "cannot be combined" in result.stderr
    result = run(served, "monitor", "--log", str(_log(served)), "--window", "yesterday", check=False)
    assert result.returncode == 2 and "not a duration" in result.stderr


def test_a_corrupt_segment_is_skipped_and_reported(served: Path) -> None:
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=600, seed=6))
    corrupt = segment_path(_log(served), "web-1-aaaa", 2, datetime.now(UTC).strftime("%Y-%m-%d"))
    corrupt.write_bytes(b"PAR1" + bytes(range(256)) * 8 + b"PAR1")
    code, doc = _monitor(served)
    assert code == 0 and doc["segments"]["read"] == 1 and doc["versions"][0]["system"]["rows"] == 600
    (skipped,) = doc["segments"]["skipped"]
    assert skipped["segment"].endswith("web-1-aaaa-00000002.parquet") and "unreadable Parquet" in skipped["reason"]
    assert doc["segments"]["lost"] == 0  # it exists: skipped, not lost


def test_a_partial_segment_is_skipped_and_a_sequence_gap_is_reported_as_lost(served: Path) -> None:
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=400, seed=7))
    whole, _, _ = write_traffic(_log(served), "web-1-aaaa", 2, Traffic(rows=400, seed=8))
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a copy cut short
    write_traffic(_log(served), "web-1-aaaa", 5, Traffic(rows=400, seed=9))
    result = run(served, "monitor", "--log", str(_log(served)), check=False)
    assert result.returncode == 0
    assert "segments: 2 read, 1 skipped, 2 possibly lost" in result.stdout
    assert "web-1-aaaa-00000002.parquet: unreadable Parquet" in result.stdout
    assert "lost: writer web-1-aaaa is missing segment(s) 3, 4" in result.stdout


def test_window_filtering_by_window_and_by_since_until(served: Path) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(days=3)
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=300, seed=10, start=old))
    write_traffic(_log(served), "web-1-aaaa", 2, Traffic(rows=200, seed=11, start=now - timedelta(hours=1)))
    _, recent = _monitor(served, "--window", "24h")
    assert recent["versions"][0]["system"]["rows"] == 200
    assert recent["segments"]["read"] == 1  # the old day's partition is not even opened
    since, until = (old - timedelta(minutes=1)).isoformat(), (old + timedelta(seconds=1.5)).isoformat()
    _, cut = _monitor(served, "--since", since, "--until", until)
    assert cut["versions"][0]["system"]["rows"] == 150  # 10 ms apart: 1.5 s of the old segment's rows


def test_labels_with_unknown_ids_are_counted_and_performance_is_judged_on_the_known_ones(served: Path) -> None:
    _, table, y = write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=1000, seed=12))
    ids = table.column("request_id").to_pylist()
    labels = write_labels_csv(served / "outcomes.csv", [*ids[:300], "nobody-1", "nobody-2"],
                              [*y[:300], 1.0, 2.0])
    result = run(served, "monitor", "labels", "--log", str(_log(served)), str(labels), "--json")
    doc = json.loads(result.stdout)
    assert (doc["rows"], doc["matched_ids"], doc["unknown_ids"]) == (302, 300, 2)
    again = json.loads(run(served, "monitor", "labels", "--log", str(_log(served)), str(labels), "--json").stdout)
    assert again["files"][0]["stored"] == doc["files"][0]["stored"]  # the same file is stored once
    _config(served, "monitor:\n  mse: {max_drop_rel: 0.5}\n  min_labels: 100\n")
    code, report = _monitor(served)
    performance = report["versions"][0]["performance"]
    assert performance["labelled_rows"] == 300 and 0.05 < performance["mse"] < 0.15  # noise of std 0.3
    (rule,) = [r for r in report["versions"][0]["rules"] if r["metric"] == "mse"]
    assert rule["rule"] == "max_drop_rel" and rule["base"] == pytest.approx(0.0886, abs=0.03)
    assert rule["passed"] and code == 0, report["failures"]
    _config(served, "  r2: {min: 0.999}\n")
    code, report = _monitor(served)
    assert code == 1 and any(f.startswith("churn@v0.0.1: r2 0.99") and "< min 0.999" in f for f in report["failures"])


def test_labels_bad_input_cannot_run(served: Path) -> None:
    wrong = served / "wrong.csv"
    wrong.write_text("id,label\na,1\n")
    result = run(served, "monitor", "labels", "--log", str(_log(served)), str(wrong), check=False)
    assert result.returncode == 2 and "has no column 'request_id'" in result.stderr
    result = run(served, "monitor", "labels", "--log", str(_log(served)), str(served / "missing.csv"), check=False)
    assert result.returncode == 2 and "does not exist" in result.stderr


def _package_with_reference(repo: Path, predictions: list[float]) -> Path:
    """`mlv model package` of churn#prod plus reference predictions, listed in its manifest as the
    package step lists them (docs/reference/prediction-log.md: reference-predictions.parquet)."""
    import hashlib

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlv.registry.package import package

    folder = package(repo, "churn#prod", repo.parent / "pkg").path
    reference = pa.table({"prediction": pa.array(predictions, pa.float64())})
    pq.write_table(reference, folder / "reference-predictions.parquet")
    digest = hashlib.sha256((folder / "reference-predictions.parquet").read_bytes()).hexdigest()
    with (folder / "SHA256SUMS").open("a") as handle:
        handle.write(f"{digest}  reference-predictions.parquet\n")
    return folder


def test_prediction_drift_against_the_packages_reference_predictions(served: Path) -> None:
    import numpy as np

    from tests.monitor_helpers import INTERCEPT, WEIGHTS

    x = np.random.default_rng(40).normal(size=(2000, 4))
    folder = _package_with_reference(served, list(x @ np.array(WEIGHTS) + INTERCEPT))
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=1000, seed=41))
    code, doc = _monitor(served, "--package", str(folder))
    assert code == 0 and doc["versions"][0]["prediction_drift"]["drifted_columns"] == []
    write_traffic(_log(served), "web-1-aaaa", 2, Traffic(rows=3000, seed=42, shift={"x4": 1.5}))
    code, doc = _monitor(served, "--package", str(folder))
    assert code == 1 and doc["versions"][0]["prediction_drift"]["drifted_columns"] == ["prediction"]
    assert any(f.startswith("churn@v0.0.1: prediction_drift: fail") for f in doc["failures"])
    (folder / "reference-predictions.parquet").write_bytes(b"tampered")
    result = run(served, "monitor", "--log", str(_log(served)), "--package", str(folder), check=False)
    assert result.returncode == 2 and "does not verify" in result.stderr


@pytest.mark.slow
def test_export_then_snapshot_records_the_provenance(served: Path) -> None:
    from mlv.record.history import show_experiment
    from tests.conftest import mlv

    _, table, y = write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=600, seed=43))
    ids = table.column("request_id").to_pylist()
    labels = write_labels_csv(served / "outcomes.csv", ids[:250], y[:250])
    run(served, "monitor", "labels", "--log", str(_log(served)), str(labels))
    out = served / "data" / "production.csv"
    doc = json.loads(run(served, "monitor", "export", "churn#prod", "--log", str(_log(served)), "-o", str(out),
                         "--json").stdout)
    assert doc["rows"] == 250 and doc["label_column"] == "y"  # the training data's name for its target
    assert out.read_text().splitlines()[0] == '"x1","x2","x3","x4","y"'
    sidecar = json.loads((served / "data" / "production.csv.mlv-lineage.json").read_text())
    assert sidecar["source"]["models"][0]["version"] == "v0.0.1" and sidecar["source"]["rows"] == 250
    mlv(served, "snapshot", "-m", "production rows")
    record = show_experiment(served, "HEAD").record
    (entry,) = record.lineage or []
    assert entry["path"] == "data/production.csv" and entry["source"]["kind"] == "prediction-log"
    assert entry["source"]["models"][0]["commit"] == show_experiment(served, "churn@v0.0.1").commit
    user_file = served / "mine.csv"
    user_file.write_text("keep me\n")
    result = run(served, "monitor", "export", "--log", str(_log(served)), "-o", str(user_file), check=False)
    assert result.returncode == 2 and "not an earlier export" in result.stderr and user_file.read_text() == "keep me\n"


@pytest.mark.slow
def test_a_changed_export_gets_no_lineage(served: Path) -> None:
    from mlv.record.history import show_experiment
    from tests.conftest import mlv

    _, table, y = write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=600, seed=44))
    labels = write_labels_csv(served / "outcomes.csv", table.column("request_id").to_pylist()[:50], y[:50])
    run(served, "monitor", "labels", "--log", str(_log(served)), str(labels))
    out = served / "data" / "production.csv"
    run(served, "monitor", "export", "--log", str(_log(served)), "-o", str(out))
    with out.open("a") as handle:
        handle.write("1,2,3,4,5\n")
    proc = mlv(served, "snapshot", "-m", "edited production rows")
    assert "changed since its lineage was written" in proc.stderr
    assert show_experiment(served, "HEAD").record.lineage is None


@pytest.mark.slow
def test_two_writers_under_one_s3_prefix_are_read_together_with_dvcs_credentials(
        served: Path, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Two servers (writers) put segments under one prefix of a moto S3 on loopback; the monitor
    reaches it with the endpoint and keys of the project's DVC remote on that bucket."""
    from tests.conftest import dvc

    s3: S3Server = request.getfixturevalue("s3_server")  # tests/test_remotes.py's moto server

    prefix = f"monitor-{uuid.uuid4().hex[:8]}"
    dvc(served, "remote", "add", "store", f"s3://{BUCKET}/dvc-{prefix}")
    dvc(served, "remote", "modify", "store", "endpointurl", s3.endpoint)
    dvc(served, "remote", "modify", "--local", "store", "access_key_id", s3.access_key)
    dvc(served, "remote", "modify", "--local", "store", "secret_access_key", s3.secret_key)
    staging = tmp_path / "staging"
    ids, truth = [], []
    for writer, seed in (("web-1-aaaa", 50), ("web-2-bbbb", 51)):
        for seq in (1, 2):
            path, table, y = write_traffic(staging, writer, seq, Traffic(rows=300, seed=seed * 10 + seq))
            key = f"{prefix}/{path.relative_to(staging).as_posix()}"
            s3.put(BUCKET, key, path.read_bytes())  # one PUT per segment, as the logger does
            ids += table.column("request_id").to_pylist()[:50]
            truth += list(y[:50])
    log = f"s3://{BUCKET}/{prefix}"
    labels = write_labels_csv(tmp_path / "outcomes.csv", ids, truth)
    added = json.loads(run(served, "monitor", "labels", "--log", log, str(labels), "--json").stdout)
    assert (added["matched_ids"], added["unknown_ids"]) == (200, 0)  # every writer's segments were searched
    assert any(key.startswith(f"{prefix}/labels/") for key in _keys(s3, prefix))
    code, doc = _monitor_at(served, log)
    assert code == 0, doc.get("failures")
    assert doc["segments"]["read"] == 4 and doc["versions"][0]["system"]["rows"] == 1200
    assert doc["log"] == log and doc["versions"][0]["performance"]["labelled_rows"] == 200


def _keys(s3: S3Server, prefix: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def _monitor_at(repo: Path, log: str) -> tuple[int, dict]:
    result = run(repo, "monitor", "churn#prod", "--log", log, "--json", check=False)
    assert result.returncode != 3, result.stderr
    return result.returncode, (json.loads(result.stdout) if result.stdout.strip() else {"failures": result.stderr})


def test_report_gains_a_production_section_from_the_log(served: Path) -> None:
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=1000, seed=60, start=midnight - timedelta(hours=12)))
    write_traffic(_log(served), "web-1-aaaa", 2, Traffic(rows=600, seed=61, shift={"x1": 2.0, "x2": 2.0},
                                                         start=midnight + timedelta(seconds=1)))
    plain = served / "plain.html"
    run(served, "report", "-o", str(plain))
    assert 'id="production"' not in plain.read_text()  # no log given or configured: no section
    _config(served, f"monitor:\n  log: {_log(served)}\n")
    page = served / "report.html"
    run(served, "report", "-o", str(page))
    html = page.read_text()
    section = html[html.index('<section id="production">'):]
    section = section[: section.index("</section>")]
    assert "throughput: logged rows per hour" in section and "latency: mean per hour (ms)" in section
    assert section.count("<tr><td>") == 2  # one row per day with predictions
    assert "50.0%" in section and "<strong>degraded</strong>" in section  # yesterday fine, today drifted
    assert "data_health: fail" in section


def test_a_classifier_with_string_labels_gets_accuracy_and_boundaries_hold(served: Path) -> None:
    import pyarrow as pa

    table, _ = rows_of(Traffic(rows=1000, seed=12))
    classes = ["yes" if v > 0.5 else "no" for v in table.column("prediction").to_pylist()]
    table = table.set_column(table.schema.get_field_index("prediction"), "prediction", pa.array(classes, pa.string()))
    write_segment(_log(served), table, "web-1-aaaa", 1)
    ids = table.column("request_id").to_pylist()[:200]
    truth = classes[:150] + ["maybe"] * 50  # 150 of 200 right: accuracy 0.75 exactly
    labels = served / "outcomes.csv"
    labels.write_text("request_id,label\n" + "".join(f"{i},{c}\n" for i, c in zip(ids, truth, strict=True)))
    run(served, "monitor", "labels", "--log", str(_log(served)), str(labels))
    _config(served, "monitor:\n  accuracy: {min: 0.75}\n  min_labels: 200\n")
    code, doc = _monitor(served)
    assert doc["versions"][0]["performance"] == {"labelled_rows": 200, "accuracy": 0.75}
    assert code == 0, doc["failures"]  # 0.75 >= min 0.75: the boundary passes
    _config(served, "  min_rows: 1001\n")
    code, doc = _monitor(served)
    assert code == 1 and doc["failures"] == ["churn@v0.0.1: rows 1000 < min_rows 1001"]
    path = served / ".mlv" / "config.yaml"
    path.write_text(path.read_text().replace("min_labels: 200", "min_labels: 201").replace("  min_rows: 1001\n", ""))
    code, doc = _monitor(served)
    (rule,) = [r for r in doc["versions"][0]["rules"] if r["metric"] == "accuracy"]
    assert code == 0 and rule["skipped"] and rule["message"] == "accuracy: not checked (200 labelled rows; needs 201)"


def test_a_segment_across_a_version_swap_reports_both_versions_and_counts_its_metadata_once(served: Path) -> None:
    import pyarrow as pa

    from tests.conftest import mlv

    mlv(served, "snapshot", "-m", "same model, next version", "--allow-empty")
    actions.register(served, "churn", version="v0.0.2")
    old, _ = rows_of(Traffic(rows=700, seed=90))
    new, _ = rows_of(Traffic(rows=300, seed=91, version="v0.0.2", start=datetime.now(UTC) - timedelta(seconds=30)))
    write_segment(_log(served), pa.concat_tables([old, new]), "web-1-aaaa", 1, errors={"500": 4})
    result = run(served, "monitor", "churn", "--log", str(_log(served)), "--json", check=False)
    assert result.stdout, result.stderr
    doc = json.loads(result.stdout)
    found = {v["version"]: v["system"] for v in doc["versions"]}
    assert (found["v0.0.1"]["rows"], found["v0.0.2"]["rows"]) == (700, 300)
    assert (found["v0.0.1"]["errors"], found["v0.0.2"]["errors"]) == ({"500": 4}, {})
    assert doc["failures"] == ["churn@v0.0.2: rows 300 < min_rows 500"] and result.returncode == 1


def test_export_skips_a_segment_whose_inputs_differ_and_writes_parquet(served: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    first, y1 = rows_of(Traffic(rows=100, seed=95))
    other, y2 = rows_of(Traffic(rows=100, seed=96))
    other = other.add_column(6, "input.x0", pa.array([1.0] * 100))  # a feature this version never had
    write_segment(_log(served), first, "web-1-aaaa", 1)
    write_segment(_log(served), other, "web-1-aaaa", 2)
    ids = first.column("request_id").to_pylist()[:40] + other.column("request_id").to_pylist()[:40]
    labels = write_labels_csv(served / "outcomes.csv", ids, [*y1[:40], *y2[:40]])
    run(served, "monitor", "labels", "--log", str(_log(served)), str(labels))
    out = served / "exports" / "production.parquet"
    doc = json.loads(run(served, "monitor", "export", "--log", str(_log(served)), "-o", str(out), "--json").stdout)
    assert doc["rows"] == 40 and doc["segments"] == 1
    (skipped,) = doc["skipped"]
    assert skipped["segment"].endswith("-00000002.parquet") and "input columns differ" in skipped["reason"]
    assert pq.read_table(out).column_names == ["x1", "x2", "x3", "x4", "y"]
    empty = served / "exports" / "none.csv"
    result = run(served, "monitor", "export", "--log", str(_log(served)), "--since", "2020-01-01", "--until",
                 "2020-01-02", "-o", str(empty), check=False)
    assert result.returncode == 2 and "no labelled production rows" in result.stderr and not empty.exists()


def test_monitor_log_in_the_configuration_is_relative_to_the_repository_root(served: Path) -> None:
    write_traffic(_log(served), "web-1-aaaa", 1, Traffic(rows=600, seed=6))
    _config(served, "monitor:\n  log: predictions\n  window: 2h\n")
    sub = served / "src"
    sub.mkdir()
    result = run(sub, "monitor", "--json", check=False)
    doc = json.loads(result.stdout)
    assert result.returncode == 0 and doc["log"] == str(_log(served)) and doc["versions"][0]["system"]["rows"] == 600


def test_a_log_of_many_segments_shows_progress_on_a_terminal_only(served: Path) -> None:
    from tests.terminal_helpers import on_a_terminal

    for seq in range(1, 26):
        write_traffic(_log(served), "web-1-aaaa", seq, Traffic(rows=30, seed=100 + seq))
    code, screen = on_a_terminal(served, ["monitor", "--log", str(_log(served))])
    assert code == 0 and "reading segments" in screen and "/25" in screen, screen
    piped = run(served, "monitor", "--log", str(_log(served)), check=False)
    assert "reading segments" not in piped.stderr


def test_segments_without_rows_carry_their_writers_drops_and_errors(served: Path) -> None:
    """A writer with only drops or errors to report writes a segment with no rows; its counts belong
    to the version that writer served, whether its rows come before or after."""
    from tests.monitor_helpers import schema

    empty = schema().empty_table()
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    write_segment(_log(served), empty, "web-1-aaaa", 1, day=day, errors={"503": 5}, dropped=7, requests=5)
    write_traffic(_log(served), "web-1-aaaa", 2, Traffic(rows=600, seed=6))
    write_segment(_log(served), empty, "web-1-aaaa", 3, day=day, errors={"400": 2}, requests=2)
    write_segment(_log(served), empty, "web-2-bbbb", 1, day=day, dropped=3, requests=0)  # never served a row
    code, doc = _monitor(served)
    system = doc["versions"][0]["system"]
    assert code == 0 and doc["segments"]["read"] == 4 and system["rows"] == 600
    assert system["errors"] == {"400": 2, "503": 5} and system["dropped"] == 10  # the one version takes web-2's too
    assert system["requests"] == 607
