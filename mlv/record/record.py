"""The experiment record: what an experiment commit pins, stored in the commit message.

The record is JSON between two marker lines at the end of the commit message. That keeps it
inside the commit (covered by its sha), readable with plain `git log`, versioned, and free of merge
conflicts (messages are never merged). The environment's package list lives in the commit's
lockfile (`.mlv/env/requirements-<sha>.txt`) so the message stays short; readers join the two.
Format and JSON contract: docs/reference/record-format.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from mlv.errors import NotAnExperimentError

SCHEMA_VERSION = 1
BEGIN = "--- mlv experiment record v{version} ---"
END = "--- end mlv experiment record ---"
_BEGIN_RE = re.compile(r"^--- mlv experiment record v(\d+) ---$", re.MULTILINE)
# The same marker for `git log -E --grep`, so git filters experiment commits itself.
GIT_GREP = "^--- mlv experiment record v[0-9]+ ---$"


@dataclass
class EnvironmentInfo:
    python: str
    implementation: str
    os: str
    platform: str
    machine: str
    interpreter: str
    lockfile: str  # path inside the commit
    lockfile_sha256: str
    project_lockfiles: dict[str, str] = field(default_factory=dict)  # path -> sha256


@dataclass
class Record:
    """One experiment. Field names are the JSON contract of `mlv show --json`."""

    created: str
    command: str | None
    run_by_mlv: bool
    exit_code: int | None
    started: str | None
    duration_s: float | None
    params: dict[str, Any]  # params file -> its content
    metrics: dict[str, Any]  # metrics file -> its content
    data: list[dict[str, Any]]  # [{path, md5, size, nfiles}]
    outputs: list[dict[str, Any]]
    environment: EnvironmentInfo
    mlv_version: str
    reproduces: dict[str, Any] | None = None  # {"commit": sha, "verdict": ...} for `reproduce --save`
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Record:
        env = EnvironmentInfo(**doc["environment"])
        fields = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__ and k != "environment"}
        return cls(environment=env, **fields)


def summary_line(record: Record) -> str:
    """One human line for `git log`: command, outcome, metrics."""
    parts = [f"mlv: {record.command or '(no command)'}"]
    if record.run_by_mlv:
        parts.append(f"exit {record.exit_code} in {record.duration_s:.1f}s")
    else:
        parts.append("not run by mlv")
    metrics = flatten(record.metrics, single_root=True)
    if metrics:
        parts.append(", ".join(f"{k}={_short(v)}" for k, v in list(metrics.items())[:4]))
    return " | ".join(parts)


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def render_message(message: str, record: Record) -> str:
    body = json.dumps(record.to_dict(), indent=1, sort_keys=False, ensure_ascii=False)
    return (f"{message.strip()}\n\n{summary_line(record)}\n\n"
            f"{BEGIN.format(version=record.schema)}\n{body}\n{END}\n")


def has_record(message: str) -> bool:
    return _BEGIN_RE.search(message) is not None


def split_message(message: str) -> tuple[str, dict[str, Any] | None]:
    """(the user's message, the record's JSON) from a commit message; JSON None if absent."""
    match = _BEGIN_RE.search(message)
    if not match:
        return message.strip(), None
    end = message.find(END, match.end())
    if end < 0:
        return message.strip(), None
    try:
        doc = json.loads(message[match.end():end])
    except ValueError:
        return message.strip(), None
    user = message[: match.start()].strip()
    user = "\n".join(line for line in user.splitlines() if not line.startswith("mlv: ")).strip()
    if not isinstance(doc, dict):
        return user, None
    doc.setdefault("schema", int(match.group(1)))
    return user, doc


def parse(message: str, sha: str) -> tuple[str, Record]:
    """The user's message and the record of commit SHA; raises when it is not an experiment."""
    user, doc = split_message(message)
    if doc is None:
        raise NotAnExperimentError(
            f"commit {sha[:10]} is not an mlv experiment commit",
            hint="`mlv log` lists the experiment commits of this branch.",
        )
    schema = doc.get("schema")
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise NotAnExperimentError(
            f"commit {sha[:10]} has an experiment record of schema {schema}; this mlv reads up to "
            f"{SCHEMA_VERSION}",
            hint="Upgrade mlv (`pip install -U mlv`).",
        )
    try:
        return user, Record.from_dict(doc)
    except (KeyError, TypeError) as exc:
        raise NotAnExperimentError(f"commit {sha[:10]} has a damaged experiment record ({exc})") from None


def flatten(tree: Any, prefix: str = "", single_root: bool = False) -> dict[str, Any]:
    """Nested dicts as dotted keys. With SINGLE_ROOT, a lone top-level file name is dropped."""
    if single_root and isinstance(tree, dict) and len(tree) == 1:
        tree = next(iter(tree.values()))
    flat: dict[str, Any] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                flat.update(flatten(value, name))
            else:
                flat[name] = value
    elif prefix:
        flat[prefix] = tree
    return flat
