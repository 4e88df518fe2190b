"""Setting keys in a params file for one run, keeping its comments and layout (YAML through
ruamel.yaml's round trip, as DVC edits params), and putting the file back byte for byte after."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlv.data.pathsafety import check_no_symlink
from mlv.sweep.overrides import OverrideError

MAX_BYTES = 4 * 1024 * 1024


def read_bytes(root: Path, rel: str) -> bytes:
    path = root / rel
    check_no_symlink(root, rel, "params file")
    data = path.read_bytes()
    if len(data) > MAX_BYTES:
        raise OverrideError(f"params file {rel!r} is larger than {MAX_BYTES >> 20} MiB")
    return data


def with_values(rel: str, original: bytes, values: Mapping[str, Any]) -> bytes:
    """ORIGINAL (the file REL) with each dotted key of VALUES set; a key the file does not have is
    refused, so a typo cannot make a run that silently ignores its setting."""
    suffix = Path(rel).suffix.lower()
    if suffix in (".yaml", ".yml"):
        from ruamel.yaml import YAML

        yaml = YAML()  # round trip: comments, order and quoting stay as the user wrote them
        yaml.preserve_quotes = True
        doc = yaml.load(original.decode("utf-8"))
        _set_all(rel, doc, values)
        buffer = io.StringIO()
        yaml.dump(doc, buffer)
        return buffer.getvalue().encode("utf-8")
    if suffix == ".json":
        doc = json.loads(original)
        _set_all(rel, doc, values)
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")
    raise OverrideError(f"-S cannot edit {rel!r}: only YAML and JSON params files can be set from the command line",
                        hint="Edit the file by hand, or move these params to params.yaml.")


def _set_all(rel: str, doc: Any, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        parts = key.split(".")
        node = doc
        for depth, part in enumerate(parts):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(parts[:depth]) or "the top level"
                known = ", ".join(sorted(map(str, node))) if isinstance(node, dict) else "none (not a mapping)"
                raise OverrideError(f"{rel} has no param {key!r}", hint=f"Keys at {where}: {known}.")
            if depth == len(parts) - 1:
                if isinstance(node[part], (dict, list)):
                    kind = "mapping" if isinstance(node[part], dict) else "list"
                    raise OverrideError(f"{rel}: {key!r} is a {kind}, not a single value",
                                        hint="Set one of its keys: KEY.SUBKEY=VALUE.")
                node[part] = value
            else:
                node = node[part]


def write(root: Path, rel: str, data: bytes) -> None:
    """DATA into REL atomically (a temporary file beside it, then a rename), keeping its mode."""
    path = root / rel
    check_no_symlink(root, rel, "params file")
    mode = path.stat().st_mode & 0o7777
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".mlv-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
