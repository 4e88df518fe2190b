"""The `models:` section of `.mlv/config.yaml`: per model its artifact path, allowed stages and
promotion gates (docs/reference/configuration.md).

```yaml
models:
  churn:
    path: models            # remembered by the first `mlv model register`
    stages: [staging, prod]  # optional: only these stages may be assigned
    gates:
      prod: {from: [staging], branches: [main], reproduced: true, metrics: {r2: {min: 0.7}}}
```
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv.data.safe_write import TEMP_MARK
from mlv.errors import ConfigError
from mlv.faults import crash_point
from mlv.gates import GatePolicy, parse_policy
from mlv.project import config
from mlv.registry import names

_KEYS = {"path", "stages", "gates"}


@dataclass(frozen=True)
class ModelSettings:
    path: str | None = None
    stages: tuple[str, ...] | None = None  # None: any stage name is allowed (as in GTO without `.gto`)
    gates: dict[str, GatePolicy] = field(default_factory=dict)


def _raw(root: Path) -> dict[str, Any]:
    return config.load(root).models if config.exists(root) else {}


def model_settings(root: Path, name: str) -> ModelSettings:
    doc = _raw(root).get(name)
    if doc is None:
        return ModelSettings()
    where = f"{config.CONFIG_FILE}: models.{name}"
    unknown = set(doc) - _KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_KEYS))}")
    path = doc.get("path")
    if path is not None and not isinstance(path, str):
        raise ConfigError(f"{where}.path must be a path")
    stages = doc.get("stages")
    if stages is not None and (not isinstance(stages, list) or not all(isinstance(s, str) for s in stages)):
        raise ConfigError(f"{where}.stages must be a list of stage names")
    gates_doc = doc.get("gates") or {}
    if not isinstance(gates_doc, dict):
        raise ConfigError(f"{where}.gates must map stage names to rules")
    gates = {str(stage): parse_policy(rules, f"{where}.gates.{stage}") for stage, rules in gates_doc.items()}
    return ModelSettings(
        path=config.safe_relpath(path, f"{where}.path") if path else None,
        stages=tuple(names.check_name(s, "stage") for s in stages) if stages is not None else None,
        gates=gates,
    )


def remember_path(root: Path, name: str, path: str) -> bool:
    """Write `models.NAME.path: PATH` into the config; False when it was there already.

    The file is rewritten through YAML, keeping its leading comment block (where `mlv init` puts its
    explanations); comments further down are not preserved, which the how-to says.
    """
    import yaml

    file = root / config.CONFIG_FILE
    text = file.read_text("utf-8")
    doc = yaml.safe_load(text) or {}
    models = doc.setdefault("models", {})
    entry = models.setdefault(name, {})
    if entry.get("path") == path:
        return False
    entry["path"] = path
    header = "".join(itertools.takewhile(lambda line: line.startswith("#"), text.splitlines(keepends=True)))
    tmp = file.with_name(f".{file.name}{TEMP_MARK}{os.getpid()}")  # never committed by a snapshot
    tmp.write_text(header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "utf-8")
    crash_point("config-before-rename")
    os.replace(tmp, file)
    return True
