"""Read params and metrics files (YAML, JSON, TOML) into plain data for the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from mlv import toml
from mlv.adapters import dvc
from mlv.errors import ConfigError

MAX_FILE_BYTES = 4 * 1024 * 1024  # params and metrics are small; a bigger file is not one


def _parse(path: Path, text: str) -> Any:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return json.loads(text)
    if suffix == ".toml":
        return toml.loads(text)
    # Without aliases: a few hundred bytes of nested aliases in a cloned file expand into billions.
    return dvc.load_untrusted_yaml(text.encode("utf-8", "surrogateescape"), limit=MAX_FILE_BYTES)


def parse_text(rel: str, text: str) -> Any:
    """The parsed content of a params or metrics file named REL (from git, not disk)."""
    try:
        return _parse(Path(rel), text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{rel!r} cannot be parsed: {exc.__class__.__name__}") from None


def read_file(root: Path, rel: str, kind: str, required: bool) -> Any:
    """The parsed content of REL, None when it is absent and not REQUIRED."""
    from mlv.data.pathsafety import read_inside

    path = root / rel
    try:
        raw = read_inside(root, rel, MAX_FILE_BYTES, f"{kind} file")
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError(f"{kind} file {rel!r} is larger than {MAX_FILE_BYTES // 2**20} MiB",
                              hint="Keep params and metrics files small, or remove it from .mlv/config.yaml.")
        text = raw.decode("utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{kind} file {rel!r} does not exist",
                              hint="Create it, or remove it from .mlv/config.yaml.") from None
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"{kind} file {rel!r} is not UTF-8 text") from None
    try:
        return _parse(path, text)
    except (ValueError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise ConfigError(f"{kind} file {rel!r} cannot be parsed: {first}",
                          hint="Fix the file and run the command again.") from None


def read_all(root: Path, files: list[str], kind: str, required: bool) -> dict[str, Any]:
    found = {}
    for rel in files:
        content = read_file(root, rel, kind, required)
        if content is not None:
            found[rel] = content
    return found
