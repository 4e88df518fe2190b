"""Write a training script's metrics file, so the script needs no hand-written JSON.

`mlv.log_metric("mse", 0.1)` reads the metrics file (when there is one), sets the value and writes
the file back atomically: a temporary file in the same folder, then a rename, so `mlv snapshot`
never reads half a file, even when the script is killed while writing. Builtins only: a training
script importing `mlv` pays for nothing else
(standard library only).
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlv.errors import MlvError
from mlv.finite import nan_to_null

DEFAULT_PATH = "metrics.json"
MAX_BYTES = 16 * 1024 * 1024  # a metrics file is small; a huge one is a mistake, not data to merge


def log_metric(name: str, value: Any, path: str | os.PathLike[str] = DEFAULT_PATH) -> dict[str, Any]:
    """Set metric NAME to VALUE in the JSON file PATH (created when missing); returns the whole file.

    VALUE is a finite number (int, float, or anything with `__float__`, such as a numpy scalar),
    or a dict of them for a group; anything else raises `MetricTypeError` (a `TypeError`), and NaN
    or an infinity `MetricValueError` (a `ValueError`), before the file is touched. Other keys in
    the file are kept as they are.
    """
    return log_metrics({name: value}, path)


def log_metrics(metrics: Mapping[str, Any], path: str | os.PathLike[str] = DEFAULT_PATH) -> dict[str, Any]:
    """Set every metric of METRICS in the JSON file PATH at once (one atomic write)."""
    target = Path(path)
    doc = _read(target)
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise MlvError(f"a metric name must be a non-empty string, not {name!r}")
        doc[name] = _plain(value, name)
    _write_atomically(target, doc)
    return doc


class MetricTypeError(MlvError, TypeError):
    """A metric value that is not a number (a string, a list, None, a bool)."""


class MetricValueError(MlvError, ValueError):
    """A metric value that is a number but not a finite one (NaN, an infinity)."""


def _plain(value: Any, name: str) -> Any:
    """VALUE as JSON can hold it: numpy scalars and the like become int or float; anything that
    is not a finite number is refused, so the file stays JSON every parser reads."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, bool) or value is None:  # a bool is an int to Python, not a metric
        raise MetricTypeError(f"metric {name!r} must be a number, not {value!r}",
                              hint="Pass an int or a float (or a dict of them for a group).")
    if isinstance(value, numbers.Integral):
        return int(value)
    number = _as_float(value)
    if number is None:
        raise MetricTypeError(f"metric {name!r} must be a number, not {type(value).__name__}",
                              hint="Pass an int or a float (or a dict of them for a group).")
    if not math.isfinite(number):
        raise MetricValueError(f"metric {name!r} is {number}, which JSON cannot hold; the file was not changed",
                               hint="A diverged run is a result: log a flag of your own (e.g. diverged=1) "
                                    "or leave the metric out.")
    return number


def _as_float(value: Any) -> float | None:
    if not (isinstance(value, numbers.Real) or hasattr(value, "__float__")):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _read(target: Path) -> dict[str, Any]:
    try:
        with target.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return {}
    if len(raw) > MAX_BYTES:
        raise MlvError(f"{target} is larger than {MAX_BYTES // (1024 * 1024)} MiB; it was not changed",
                       hint="Point `path=` at a metrics file of its own.")
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise MlvError(f"{target} is not valid JSON ({exc}); it was not changed",
                       hint="Fix or delete the file, or write metrics to another `path=`.") from None
    if not isinstance(doc, dict):
        raise MlvError(f"{target} holds a JSON {type(doc).__name__}, not an object; it was not changed",
                       hint="Fix or delete the file, or write metrics to another `path=`.")
    return doc


def _write_atomically(target: Path, doc: dict[str, Any]) -> None:
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(nan_to_null(doc), indent=2, allow_nan=False)  # an older file may hold a bare NaN + "\n"
    # The mark of mlv's half-written files (mlv.data.safe_write.TEMP_MARK): a snapshot never commits one.
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.mlv-tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; a metrics file is an ordinary file
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise



def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

