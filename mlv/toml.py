"""TOML parsing, with the parser imported when a TOML file is read: most commands never read one."""

from __future__ import annotations

import sys
from typing import Any


def loads(text: str) -> Any:
    """The parsed TOML TEXT; raises ValueError (TOMLDecodeError is one) when it is not TOML."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib.loads(text)
