"""Param overrides as `dvc exp run -S` writes them: `[FILE:]KEY=VALUE[,VALUE...]`, and their
combinations; values are YAML scalars (`0.1` a float, `true` a bool, `'0.1'` a string)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mlv.errors import EXIT_USAGE, ConfigError

MAX_RUNS = 1000  # a sweep larger than this is a typo (a comma too many), not a plan


class OverrideError(ConfigError):
    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Override:
    file: str  # the params file, as in `params:` of .mlv/config.yaml
    key: str  # dotted: train.alpha
    values: tuple[Any, ...]


def parse(specs: Sequence[str], params_files: Sequence[str]) -> list[Override]:
    """The overrides SPECS name; a spec without FILE: sets the first params file's key."""
    overrides: list[Override] = []
    for spec in specs:
        head, equals, raw = spec.partition("=")
        if not equals or not head.strip():
            raise OverrideError(f"-S {spec!r} is not KEY=VALUE", hint="Write it as `-S train.alpha=0.1` "
                                "(or `-S params.yaml:train.alpha=0.1,0.2` for a file and a sweep).")
        file, colon, key = head.rpartition(":")
        if not colon:
            if not params_files:
                raise OverrideError("-S sets params, and this project has no params file",
                                    hint="List one under `params:` in .mlv/config.yaml.")
            file = params_files[0]
        elif file not in params_files:
            raise OverrideError(f"-S {spec!r} names {file!r}, which is not a params file of this project",
                                hint=f"Params files: {', '.join(params_files) or 'none'} "
                                     "(`params:` in .mlv/config.yaml).")
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise OverrideError(f"-S {spec!r} has an empty key", hint="Write it as `-S train.alpha=0.1`.")
        if any(o.file == file and o.key == key for o in overrides):
            raise OverrideError(f"-S sets {file}:{key} twice", hint="Give every value in one list: KEY=A,B,C.")
        overrides.append(Override(file, key, tuple(_value(v) for v in raw.split(","))))
    count = 1
    for override in overrides:
        count *= len(override.values)
    if count > MAX_RUNS:
        raise OverrideError(f"-S makes {count:,} runs, more than {MAX_RUNS:,}", hint="Sweep fewer values at a time.")
    return overrides


def _value(text: str) -> Any:
    try:
        value = yaml.safe_load(text.strip()) if text.strip() else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, (dict, list)):  # `-S a=[1` is text, not a structure: a param is a scalar
        return text
    return value


def combinations(overrides: Sequence[Override]) -> list[dict[tuple[str, str], Any]]:
    """Every combination, the last override varying fastest (as nested loops would)."""
    keys = [(o.file, o.key) for o in overrides]
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(o.values for o in overrides))]


def describe(combination: dict[tuple[str, str], Any]) -> str:
    """`train.alpha=0.1, train.seed=2`: how a run's settings read in messages and commits."""
    return ", ".join(f"{key}={_text(value)}" for (_file, key), value in combination.items())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)
