"""Crash points: where the tests kill mlv (SIGKILL) to prove an interrupted operation is completed
or undone by the next command. Builtins only, so every layer may call it."""

from __future__ import annotations

import os
import signal


def crash_point(name: str) -> None:
    """Test instrumentation: die with SIGKILL here when MLV_TEST_CRASH_AT names this point."""
    if os.environ.get("MLV_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
