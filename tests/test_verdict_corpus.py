"""The verdict corpus: each verdict and each cause from the comparisons that lead to it.

Pure functions of mlv/verdict/verdict.py, plus the standard output reader the evidence comes from:
fast, no re-run. Real re-runs are in test_verdict_causes.py, test_reproduce.py and
test_records_true.py.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from mlv.adapters.dvc import Pointer
from mlv.snapshot.runner import _StdoutTee
from mlv.verdict import verdict
from tests.conftest import REPO_ROOT

MODEL = Pointer("models", "0" * 32 + ".dir", 10, 1)
SAME_EXIT = verdict.compare_exit(0, 0)


def _metrics(recorded: float, reproduced: float | None) -> list[verdict.MetricCheck]:
    new = {} if reproduced is None else {"m.json": {"score": reproduced}}
    return verdict.compare_metrics({"m.json": {"score": recorded}}, new, 0.0, 0.0)


def _outputs(reproduced: str | None) -> list[verdict.OutputCheck]:
    return verdict.compare_outputs([MODEL], {"models": reproduced})


def test_identical_results_reproduce_without_a_cause() -> None:
    result = verdict.decide(_outputs(MODEL.md5), _metrics(0.5, 0.5), SAME_EXIT)
    assert (result.verdict, result.cause) == (verdict.REPRODUCED, None)


def test_nondeterministic_when_the_inputs_were_identical() -> None:
    result = verdict.decide(_outputs(MODEL.md5), _metrics(0.5, 0.6), SAME_EXIT, inputs=verdict.Inputs())
    assert (result.verdict, result.cause) == (verdict.NOT_REPRODUCED, verdict.NONDETERMINISTIC)
    assert "unseeded randomness" in (result.cause_detail or "")


def test_environment_changed_names_the_packages() -> None:
    inputs = verdict.Inputs(packages_changed=("numpy 1.26.0 -> 2.0.0",))
    result = verdict.decide(_outputs(MODEL.md5), _metrics(0.5, 0.6), SAME_EXIT, inputs=inputs)
    assert result.cause == verdict.ENVIRONMENT_CHANGED
    assert "numpy 1.26.0 -> 2.0.0" in (result.cause_detail or "")


def test_data_changed_when_the_record_disagrees_with_the_trees_data() -> None:
    result = verdict.decide(_outputs(MODEL.md5), _metrics(0.5, 0.6), SAME_EXIT,
                            inputs=verdict.Inputs(rewritten=("data",)))
    assert result.cause == verdict.DATA_CHANGED


def test_code_changed_for_a_rewritten_record() -> None:
    result = verdict.decide(_outputs(MODEL.md5), _metrics(0.5, 0.6), SAME_EXIT,
                      inputs=verdict.Inputs(rewritten=("code", "data")))
    assert result.cause == verdict.CODE_CHANGED
    assert "another tree" in (result.cause_detail or "")


def test_exit_code_comes_first() -> None:
    result = verdict.decide(_outputs(None), _metrics(0.5, None), verdict.compare_exit(0, 1),
                      inputs=verdict.Inputs(rewritten=("code",)))
    assert (result.verdict, result.cause) == (verdict.NOT_REPRODUCED, verdict.EXIT_CODE)


def test_a_non_zero_exit_without_a_recorded_one_is_the_cause() -> None:
    result = verdict.decide([], [], verdict.compare_exit(None, 2))
    assert (result.verdict, result.cause) == (verdict.NOT_REPRODUCED, verdict.EXIT_CODE)


@pytest.mark.parametrize(("outputs", "metrics"), [
    (_outputs(None), _metrics(0.5, 0.5)),  # an output not produced
    (_outputs(MODEL.md5), _metrics(0.5, None)),  # a metric not produced
])
def test_missing_output(outputs: list[verdict.OutputCheck], metrics: list[verdict.MetricCheck]) -> None:
    result = verdict.decide(outputs, metrics, SAME_EXIT)
    assert (result.verdict, result.cause) == (verdict.NOT_REPRODUCED, verdict.MISSING_OUTPUT)


def test_within_tolerance_still_says_why_it_is_not_exact() -> None:
    metrics = verdict.compare_metrics({"m.json": {"s": 1.0}}, {"m.json": {"s": 1.001}}, 0.01, 0.0)
    result = verdict.decide([], metrics, SAME_EXIT, 0.01)
    assert result.verdict == verdict.WITHIN_TOLERANCE and result.cause == verdict.NONDETERMINISTIC


def test_nothing_to_compare_is_unverified_never_reproduced() -> None:
    result = verdict.decide([], [], SAME_EXIT, stdout=verdict.compare_stdout(None, "a" * 64))
    assert (result.verdict, result.cause) == (verdict.UNVERIFIED, None)
    assert "metrics: [metrics.json]" in (result.cause_detail or "")
    assert not result.succeeded


def test_identical_stdout_is_evidence_when_nothing_was_declared() -> None:
    same = verdict.decide([], [], SAME_EXIT, stdout=verdict.compare_stdout("a" * 64, "a" * 64))
    assert same.verdict == verdict.REPRODUCED
    other = verdict.decide([], [], SAME_EXIT, stdout=verdict.compare_stdout("a" * 64, "b" * 64),
                           inputs=verdict.Inputs())
    assert (other.verdict, other.cause) == (verdict.NOT_REPRODUCED, verdict.NONDETERMINISTIC)


def test_stdout_does_not_decide_when_metrics_were_declared() -> None:
    # A log line with a timing must not fail a run whose metrics and outputs are identical.
    result = verdict.decide(_outputs(MODEL.md5), _metrics(0.5, 0.5), SAME_EXIT,
                      stdout=verdict.compare_stdout("a" * 64, "b" * 64))
    assert result.verdict == verdict.REPRODUCED


def test_every_cause_is_documented_and_in_the_schema() -> None:
    schema = json.loads((REPO_ROOT / "mlv/schemas/verdict.schema.json").read_text())
    doc = (REPO_ROOT / "docs/reference/verdict-json.md").read_text()
    for cause in verdict.CAUSES:
        assert cause in schema["properties"]["cause"]["enum"]
        assert f"`{cause}`" in doc
    assert verdict.UNVERIFIED in schema["properties"]["verdict"]["enum"]


# -- the standard output reader ------------------------------------------------------------------------


def _tee(*chunks: bytes) -> _StdoutTee:
    tee = _StdoutTee(os.open(os.devnull, os.O_WRONLY))
    for chunk in chunks:
        tee.feed(chunk)
    tee.close()
    os.close(tee.sink)
    return tee


def test_stdout_metrics_from_name_number_lines_last_value_wins() -> None:
    tee = _tee(b"epoch 1 loss=0.9\nepoch 2 loss=0.", b"5\nTest MSE: 1e-3\nnot: a number\nid=abc\n")
    assert tee.metrics == {"loss": 0.5, "Test MSE": 0.001}


def test_stdout_tail_and_hash_are_capped_and_exact() -> None:
    data = b"".join(f"line {i} {'x' * 1000}\n".encode() for i in range(100))
    tee = _tee(data[:5000], data[5000:])
    assert tee.digest.hexdigest() == hashlib.sha256(data).hexdigest() and tee.size == len(data)
    assert len(tee.tail) == 20 and tee.tail[-1].startswith("line 99") and len(tee.tail[-1]) == 400


def test_a_progress_bar_redrawn_with_carriage_returns_keeps_its_last_state() -> None:
    assert list(_tee(b"10%\r50%\r100%\ndone\n").tail) == ["100%", "done"]
