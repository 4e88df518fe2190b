"""mlv's project configuration: `.mlv/config.yaml` at the repository root."""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlv.adapters import dvc
from mlv.data import pathsafety
from mlv.errors import ConfigError

CONFIG_FILE = ".mlv/config.yaml"
CONFIG_VERSION = 1
MAX_CONFIG_BYTES = 256 * 1024  # a real configuration is a few hundred bytes, a big registry a few KiB
KNOWN_KEYS = ("version", "data", "outputs", "params", "metrics", "command", "python", "hooks", "models", "gate",
              "data_check", "monitor", "watcher", "snapshot")
SNAPSHOT_KEYS = ("include_untracked", "inputs_modified")
INPUTS_MODIFIED = ("record", "refuse")  # what a snapshot does when the command rewrote its own input
_HEADER = """\
# mlv project configuration. Edit freely; `mlv init` never overwrites it.
#   data:     datasets tracked through DVC (files or folders)
#   outputs:  files the command produces (models) tracked through DVC
#   params:   parameter files recorded with each experiment (YAML, JSON, TOML)
#   metrics:  metric files recorded with each experiment (JSON, YAML)
#   command:  what `mlv snapshot` records and `mlv reproduce` re-runs
#   python:   the interpreter whose environment is captured (a name on PATH or a path)
#   models:   the model registry (`mlv model`): artifact path, stages and promotion gates per model
#   gate:     the rules `mlv gate` checks in CI (metrics, reproduced, data_check)
#   data_check: thresholds of `mlv data check` (docs/how-to/data-health.md)
#   monitor:  rules of `mlv monitor` on the prediction log (docs/reference/configuration.md)
#   snapshot: {include_untracked: false, inputs_modified: record | refuse}
"""


@dataclass
class ProjectConfig:
    data: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    command: str | None = None
    python: str = "python"
    hooks_strict: bool = False  # `hooks: {strict: true}`: pre-push refuses what it cannot upload
    # `watcher: off`: never ask Watchman what changed (mlv.data.watcher reads the line itself, as
    # the hooks load no YAML; this field validates it and keeps it in `to_yaml`).
    watcher: bool = True
    # `models: {NAME: {path, stages, gates}}`, kept raw here: mlv.registry.settings reads it.
    models: dict[str, Any] = field(default_factory=dict)
    # `gate: {metrics, reproduced, data_check}`, kept raw here: mlv.gate.gate reads it.
    gate: dict[str, Any] | None = None
    # `data_check: {p_value: 0.01, ...}`, kept raw here: mlv.datahealth.thresholds_from_config reads it.
    data_check: Any = None  # validated where it is used, so a typo fails `mlv data check` only
    # `monitor: {min_rows: 500, latency_p99_ms: {max: 50}, ...}`: a mapping checked here, its rules
    # by mlv.monitor.rules when `mlv monitor` runs.
    monitor: dict[str, Any] | None = None
    # `snapshot: {include_untracked: true}`: commit untracked, un-ignored files too (as `git add -A`).
    include_untracked: bool = False
    # `snapshot: {inputs_modified: refuse}`: a command that changes its own `data:` makes no commit.
    inputs_modified: str = "record"
    version: int = CONFIG_VERSION

    @property
    def tracked(self) -> list[str]:
        """Every path whose content lives in DVC rather than git."""
        return [*self.data, *self.outputs]

    def to_yaml(self) -> str:
        body = asdict(self)
        order = ["version", "data", "outputs", "params", "metrics", "command", "python"]
        ordered = {key: body[key] for key in order}
        if self.hooks_strict:
            ordered["hooks"] = {"strict": True}
        if not self.watcher:
            ordered["watcher"] = False
        if self.models:
            ordered["models"] = self.models
        if self.gate is not None:
            ordered["gate"] = self.gate
        if self.data_check is not None:
            ordered["data_check"] = self.data_check
        if self.monitor is not None:
            ordered["monitor"] = self.monitor
        snapshot = self._snapshot_settings()
        if snapshot:
            ordered["snapshot"] = snapshot
        return _HEADER + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True)


    def _snapshot_settings(self) -> dict[str, Any]:
        """The `snapshot:` settings that differ from the defaults."""
        found: dict[str, Any] = {}
        if self.include_untracked:
            found["include_untracked"] = True
        if self.inputs_modified != "record":
            found["inputs_modified"] = self.inputs_modified
        return found


def safe_relpath(value: str, what: str) -> str:
    """VALUE as a normalised posix path inside the repository, or a ConfigError."""
    try:
        return pathsafety.safe_relpath(value, what)
    except pathsafety.UnsafePathError as exc:
        if exc.absolute:
            raise ConfigError(f"{what} {value!r} must be a path relative to the repository root") from None
        raise ConfigError(f"{what} {value!r} points outside the repository") from None


def _str_list(doc: dict[str, Any], key: str) -> list[str]:
    value = doc.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{CONFIG_FILE}: `{key}` must be a list of paths")
    return [safe_relpath(v, f"{CONFIG_FILE}: `{key}` entry") for v in value]


def _load_yaml(text: str) -> Any:
    """The configuration's YAML, parsed with a size cap and no aliases: it may come from a clone."""
    try:
        return dvc.load_untrusted_yaml(text.encode("utf-8", "surrogateescape"), limit=MAX_CONFIG_BYTES)
    except ValueError as exc:
        mark = None
        try:
            yaml.safe_load(text[:MAX_CONFIG_BYTES])
        except yaml.YAMLError as syntax:
            mark = getattr(syntax, "problem_mark", None)
        except RecursionError:
            pass
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{CONFIG_FILE} is not valid YAML{where}: {exc}", hint="Fix or delete it.") from None


def _check_keys(doc: dict[Any, Any]) -> None:
    """A misspelt key (`datta:`) would silently mean "no data"; name the closest valid one."""
    for key in doc:
        if key in KNOWN_KEYS:
            continue
        close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
        guess = f"did you mean `{close[0]}`?" if close else f"valid keys: {', '.join(KNOWN_KEYS)}."
        raise ConfigError(f"{CONFIG_FILE}: unknown key `{key}`; {guess}",
                          hint="Fix the key, or remove it.")


def parse(text: str) -> ProjectConfig:
    doc = _load_yaml(text) or {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{CONFIG_FILE} must be a mapping of settings", hint="Fix or delete it.")
    _check_keys(doc)
    version = doc.get("version", CONFIG_VERSION)
    if not isinstance(version, int) or version > CONFIG_VERSION:
        raise ConfigError(f"{CONFIG_FILE} has version {version!r}; this mlv reads version {CONFIG_VERSION}",
                          hint="Upgrade mlv.")
    command = doc.get("command")
    python = doc.get("python") or "python"
    if command is not None and not isinstance(command, str):
        raise ConfigError(f"{CONFIG_FILE}: `command` must be a string")
    if not isinstance(python, str):
        raise ConfigError(f"{CONFIG_FILE}: `python` must be a string")
    hooks = doc.get("hooks") or {}
    if not isinstance(hooks, dict) or not isinstance(hooks.get("strict", False), bool):
        raise ConfigError(f"{CONFIG_FILE}: `hooks` must be a mapping like `{{strict: true}}`")
    watcher = doc.get("watcher", True)
    if not isinstance(watcher, bool):
        raise ConfigError(f"{CONFIG_FILE}: `watcher` must be `on` or `off`, not {watcher!r}")
    models = doc.get("models") or {}
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise ConfigError(f"{CONFIG_FILE}: `models` must map model names to mappings like `{{path: models}}`")
    gate = doc.get("gate")
    if gate is not None and not isinstance(gate, dict):
        raise ConfigError(f"{CONFIG_FILE}: `gate` must be a mapping like `{{metrics: {{r2: {{min: 0.7}}}}}}`")
    monitor = doc.get("monitor")
    if monitor is not None and not isinstance(monitor, dict):
        raise ConfigError(f"{CONFIG_FILE}: `monitor` must be a mapping like `{{latency_p99_ms: {{max: 50}}}}`")
    include_untracked, inputs_modified = _parse_snapshot(doc.get("snapshot"))
    config = ProjectConfig(
        data=_str_list(doc, "data"),
        outputs=_str_list(doc, "outputs"),
        params=_str_list(doc, "params"),
        metrics=_str_list(doc, "metrics"),
        command=command,
        python=python,
        hooks_strict=hooks.get("strict", False),
        watcher=watcher,
        models={str(k): v for k, v in models.items()},
        gate=gate,
        data_check=doc.get("data_check"),
        monitor=monitor,
        include_untracked=include_untracked,
        inputs_modified=inputs_modified,
    )
    _check_overlaps(config.tracked)
    return config


def _parse_snapshot(value: Any) -> tuple[bool, str]:
    """(include_untracked, inputs_modified) from the `snapshot:` mapping, checked."""
    example = "`{include_untracked: true, inputs_modified: refuse}`"
    if value is None:
        return False, "record"
    if not isinstance(value, dict):
        raise ConfigError(f"{CONFIG_FILE}: `snapshot` must be a mapping like {example}")
    for key in value:
        if key not in SNAPSHOT_KEYS:
            raise ConfigError(f"{CONFIG_FILE}: unknown key `snapshot.{key}`; valid keys: {', '.join(SNAPSHOT_KEYS)}",
                              hint="Fix the key, or remove it.")
    include = value.get("include_untracked", False)
    if not isinstance(include, bool):
        raise ConfigError(f"{CONFIG_FILE}: `snapshot.include_untracked` must be true or false")
    modified = value.get("inputs_modified", "record")
    if modified not in INPUTS_MODIFIED:
        raise ConfigError(f"{CONFIG_FILE}: `snapshot.inputs_modified` must be one of {', '.join(INPUTS_MODIFIED)}",
                          hint="`record` pins the input as the command read it and flags it; "
                               "`refuse` makes no commit.")
    return include, str(modified)


def _check_overlaps(paths: list[str]) -> None:
    for a in paths:
        for b in paths:
            if a != b and (b + "/").startswith(a + "/"):
                raise ConfigError(f"{CONFIG_FILE}: {b!r} lies inside {a!r}; list only one of them")
    if len(set(paths)) != len(paths):
        raise ConfigError(f"{CONFIG_FILE}: a path is listed twice in `data`/`outputs`")


def load(root: Path) -> ProjectConfig:
    path = root / CONFIG_FILE
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # a cap before parsing: the file may come from a clone
    except FileNotFoundError:
        raise ConfigError("this repository is not an mlv project", hint="Run `mlv init` first.") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{CONFIG_FILE} is larger than {MAX_CONFIG_BYTES // 1024} KiB",
                          hint="Fix or delete it.")
    try:
        return parse(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{CONFIG_FILE} is not UTF-8 text", hint="Fix or delete it.") from None


def check_before_run(root: Path, cfg: ProjectConfig, will_run: bool) -> None:
    """Refuse, before a command runs for minutes, what would make the snapshot fail afterwards.

    The data a command reads must exist and the params files must exist; outputs and metrics are
    written by the command, so only their place is checked: not inside a data folder (it would be
    recorded as input) and not under a file.
    """
    nothing_run = "; the command was not run" if will_run else ""
    for rel in cfg.params:
        if not (root / rel).is_file():
            raise ConfigError(f"params file {rel!r} does not exist{nothing_run}",
                              hint=f"Create it, or remove it from `params` in {CONFIG_FILE}.")
    for rel in cfg.data:
        if not (root / rel).exists():
            raise ConfigError(f"data path {rel!r} does not exist{nothing_run}",
                              hint=f"Create or restore it, or remove it from `data` in {CONFIG_FILE}.")
    for key, paths in (("outputs", cfg.outputs), ("metrics", cfg.metrics)):
        for rel in paths:
            _check_written_path(root, cfg, key, rel)


def _check_written_path(root: Path, cfg: ProjectConfig, key: str, rel: str) -> None:
    inside = next((d for d in cfg.data if (rel + "/").startswith(d + "/")), None)
    if inside is not None:
        raise ConfigError(f"{CONFIG_FILE}: `{key}` entry {rel!r} lies inside the data path {inside!r}, "
                          "so it would be recorded as input", hint="Write it outside the data folder.")
    parent = Path(rel).parent
    while parent != Path("."):
        if (root / parent).exists() and not (root / parent).is_dir():
            raise ConfigError(f"{CONFIG_FILE}: `{key}` entry {rel!r} cannot be written: {parent.as_posix()!r} "
                              "is a file, not a folder", hint=f"Fix `{key}` in {CONFIG_FILE}.")
        parent = parent.parent


def exists(root: Path) -> bool:
    return (root / CONFIG_FILE).is_file()


def detect_defaults(root: Path) -> ProjectConfig:
    """A configuration guessed from the usual file names in ROOT."""
    def present(*names: str) -> list[str]:
        return [n for n in names if (root / n).exists()]

    data = present("data")
    outputs = present("models", "model")
    params = present("params.yaml", "params.yml", "params.json", "params.toml")
    metrics = present("metrics.json", "metrics.yaml", "metrics.yml")
    command = None
    for script in ("train.py", "src/train.py", "main.py"):
        if (root / script).is_file():
            command = f"python {script}"
            break
    # A training script that has not run yet will create these; expect them.
    if command and not outputs:
        outputs = ["models"]
    if command and not metrics:
        metrics = ["metrics.json"]
    return ProjectConfig(data=data, outputs=outputs, params=params, metrics=metrics, command=command)
