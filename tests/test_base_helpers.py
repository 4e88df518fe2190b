"""The base layer's one copy of each small helper: numbers for JSON, and whether a process runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

from mlv.finite import is_finite_number, nan_to_null
from mlv.process import is_alive


def test_nan_and_infinities_become_null_at_any_depth() -> None:
    doc = {"loss": math.nan, "runs": [1.0, math.inf, {"best": -math.inf}], "pair": (2, math.nan), "name": "x"}
    assert nan_to_null(doc) == {"loss": None, "runs": [1.0, None, {"best": None}], "pair": [2, None], "name": "x"}
    json.dumps(nan_to_null(doc), allow_nan=False)  # what every --json output relies on


def test_a_finite_number_is_an_int_or_float_but_not_a_bool_nan_or_infinity() -> None:
    assert all(is_finite_number(v) for v in (0, -3, 0.5, -1e300))
    assert not any(is_finite_number(v) for v in (True, False, math.nan, math.inf, -math.inf, "1", None, [1]))


def test_a_process_is_alive_until_it_has_exited_and_been_reaped() -> None:
    assert is_alive(os.getpid())
    assert is_alive(os.getpgrp(), group=True)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not is_alive(child.pid)


def test_an_id_of_zero_or_below_names_no_process() -> None:
    # Signal 0 to pid 0 or -1 would probe this process's own group (or every process): a corrupt
    # pid file must never make a stale lock or worktree look in use.
    assert not any(is_alive(pid) for pid in (0, -1)) and not is_alive(0, group=True)


def test_a_process_of_another_user_counts_as_alive() -> None:
    # pid 1 (init) exists; as root the probe succeeds, as a user it is refused (EPERM): alive both ways.
    assert is_alive(1)
