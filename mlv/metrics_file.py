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
import numbers
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlv.errors import MlvError

DEFAULT_PATH = "metrics.json"
MAX_BYTES = 16 * 1024 * 1024  # a metrics file is small; a huge one is a mistake, not data to merge


def log_metric(name: str, value: Any, path: str | os.PathLike[str] = DEFAULT_PATH) -> dict[str, Any]:
    """Set metric NAME to VALUE in the JSON file PATH (created when missing); returns the whole file.

    VALUE is a number (int, float, or anything with `__float__`, such as a numpy scalar), or a
    dict of them for a group. Other keys in the file are kept as they are.
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


def _plain(value: Any, name: str) -> Any:
    """VALUE as JSON can hold it: numpy scalars and the like become int or float."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{name}.{k}") for k, v in value.items()}
    if isinstance(value, (numbers.Real, float)) or hasattr(value, "__float__"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            pass
        else:
            return number  # NaN is kept (JSON's `NaN`, which mlv reads): a diverged run is a result
    raise MlvError(f"metric {name!r} must be a number, not {type(value).__name__}",
                   hint="Pass an int or a float (or a dict of them for a group).")


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
    text = json.dumps(doc, indent=2) + "\n"
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
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

