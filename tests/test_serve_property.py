"""Random bodies thrown at /predict (hypothesis), in-process through Starlette's TestClient: bad input
is never a 5xx and never crashes the server; every answer is JSON, and a refusal is one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlv.serve.settings import Settings
from tests import serve_helpers
from tests.serve_helpers import FEATURES


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory, _templates: dict[str, Path]) -> Path:
    return serve_helpers.package_template(tmp_path_factory, _templates)

pytest.importorskip("starlette", reason="the serve extra is part of dev")

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=8))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                                          max_size=4), max_leaves=12)
NAMES = st.sampled_from([*FEATURES, "y", "", "x1 "])
ROWS = st.lists(st.dictionaries(NAMES, JSON, max_size=6) | JSON, max_size=4)
BODIES = st.one_of(
    JSON,
    st.fixed_dictionaries({"rows": ROWS}),
    st.fixed_dictionaries({"dataframe_records": ROWS}),
    st.fixed_dictionaries({"dataframe_split": st.fixed_dictionaries(
        {"columns": st.lists(NAMES | JSON, max_size=6),
         "data": st.lists(st.lists(JSON, max_size=6) | JSON, max_size=3)})}),
)


@pytest.fixture(scope="module")
def client(package_dir: Path) -> Iterator[Any]:
    from starlette.testclient import TestClient

    from mlv.serve.app import build_app

    with TestClient(build_app(Settings(package=str(package_dir), log=None)), raise_server_exceptions=True) as c:
        yield c


def _check(response: Any) -> None:
    assert response.status_code < 500
    doc = json.loads(response.content)
    if response.status_code == 200:
        assert isinstance(doc["predictions"], list)
    else:
        assert 400 <= response.status_code < 500 and list(doc) == ["error"] and "\n" not in doc["error"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_random_json_bodies_never_5xx(client: Any, body: Any) -> None:
    _check(client.post("/predict", content=json.dumps(body, allow_nan=True)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=64))
def test_random_bytes_never_5xx(client: Any, raw: bytes) -> None:
    _check(client.post("/invocations", content=raw))
