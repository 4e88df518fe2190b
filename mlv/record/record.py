"""The experiment record: what an experiment commit pins, stored in the commit message.

The record is JSON between two marker lines at the end of the commit message. That keeps it
inside the commit (covered by its sha), readable with plain `git log`, versioned, and free of merge
conflicts (messages are never merged). The environment's package list lives in the commit's
lockfile (`.mlv/env/requirements-<sha>.txt`) so the message stays short; readers join the two.
Format and JSON contract: docs/reference/record-format.md.

A commit message is anyone's text, so reading one is defensive: the block is capped in size and
nesting, checked against mlv/schemas/experiment.schema.json, and every path in it is checked
once here, so the typed `Record` that comes out can be used without further doubt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlv.data.pathsafety import UnsafePathError, data_path
from mlv.env.environment import Environment
from mlv.errors import MlvError, NotAnExperimentError
from mlv.record import validate

if TYPE_CHECKING:
    from mlv.adapters.dvc import Pointer

SCHEMA_VERSION = 1
BEGIN = "--- mlv experiment record v{version} ---"
END = "--- end mlv experiment record ---"
# At most 9 digits: int() of a hostile 5000-digit version would raise instead of refusing.
_BEGIN_RE = re.compile(r"^--- mlv experiment record v([0-9]{1,9}) ---$", re.MULTILINE)
# The same marker for `git log -E --grep`, so git filters experiment commits itself.
GIT_GREP = "^--- mlv experiment record v[0-9]+ ---$"

# Limits on what a reader accepts (docs/reference/record-format.md). Real records are a few KB
# and a few levels deep; the limits keep a hostile commit from costing minutes or the stack.
MAX_RECORD_BYTES = 1024 * 1024  # the JSON between the marker lines, UTF-8
MAX_DEPTH = 100  # objects and lists nested inside each other, the record itself being level 1

_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?")
_MAX_PATH = 4096
# Fields a reader adds to the record for `mlv show --json`; a record must not bring its own.
_READER_FIELDS = ("commit", "message", "status", "differences", "lockfiles_in_tree")


class InvalidRecordError(NotAnExperimentError):
    """A commit carries an experiment record that cannot be read (damaged, hostile or too large)."""


class _UnreadableError(ValueError):
    """Why a record block cannot be read; becomes an InvalidRecordError naming the commit."""


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
    data: list[Pointer]  # as in each path's `.dvc` file
    outputs: list[Pointer]
    environment: Environment
    mlv_version: str
    reproduces: dict[str, Any] | None = None  # {"commit": sha, "verdict": ...} for `reproduce --save`
    schema: int = SCHEMA_VERSION
    # Optional, additive (absent from older records): the git tree the record was made with, the
    # command's standard output as evidence, and where the metrics came from ("stdout" when they
    # were read from `name: number` lines because no metrics file is declared).
    tree: str | None = None
    stdout: dict[str, Any] | None = None  # {"sha256", "bytes", "tail": [last lines, capped]}
    metrics_from: str | None = None
    # Where data files came from, when a tool that wrote them said so (mlv/record/lineage.py).
    lineage: list[dict[str, Any]] | None = None
    # The `data:` paths the command itself changed: the record pins them as the command read them.
    modified_by_run: list[str] | None = None
    # A pipeline's plots files, and path -> dvc.yaml stage for each result dvc.lock certifies.
    plots: list[Pointer] | None = None
    from_lock: dict[str, str] | None = None

    def to_json(self, with_packages: bool = False) -> dict[str, Any]:
        """The record as written to the commit (key order included); WITH_PACKAGES adds the
        environment's package versions, as `mlv show --json` does."""
        return {
            "created": self.created, "command": self.command, "run_by_mlv": self.run_by_mlv,
            "exit_code": self.exit_code, "started": self.started, "duration_s": self.duration_s,
            "params": self.params, "metrics": self.metrics,
            "data": [p.to_json() for p in self.data], "outputs": [p.to_json() for p in self.outputs],
            "environment": self.environment.to_json(with_packages=with_packages),
            "mlv_version": self.mlv_version, "reproduces": self.reproduces, "schema": self.schema,
            **self._optional_json(),
        }

    def _optional_json(self) -> dict[str, Any]:
        """The optional fields that are set: a record without them reads and writes as before."""
        optional = {"tree": self.tree, "stdout": self.stdout, "metrics_from": self.metrics_from,
                    "lineage": self.lineage, "modified_by_run": self.modified_by_run,
                    "plots": [p.to_json() for p in self.plots] if self.plots is not None else None,
                    "from_lock": self.from_lock}
        return {key: value for key, value in optional.items() if value is not None}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Record:
        """A record from its JSON, already checked against the schema; raises _UnreadableError for an
        unsafe path or md5."""
        env = doc["environment"]
        return cls(
            created=doc["created"], command=doc["command"], run_by_mlv=doc["run_by_mlv"],
            exit_code=doc["exit_code"], started=doc["started"], duration_s=doc["duration_s"],
            params=_checked_keys(doc["params"], "params file"),
            metrics=_checked_keys(doc["metrics"], "metrics file"),
            data=[_pointer(item, "data path") for item in doc["data"]],
            outputs=[_pointer(item, "output path") for item in doc["outputs"]],
            environment=Environment(
                python=env["python"], implementation=env["implementation"], os=env["os"],
                platform=env["platform"], machine=env["machine"], interpreter=env["interpreter"],
                packages=None, lockfile=_checked_path(env["lockfile"], "lockfile"),
                lockfile_sha256=env["lockfile_sha256"],
                project_lockfiles=_checked_keys(env["project_lockfiles"], "project lockfile"),
            ),
            mlv_version=doc["mlv_version"], reproduces=doc.get("reproduces"), schema=doc["schema"],
            tree=_checked_tree(doc.get("tree")), stdout=doc.get("stdout"),
            metrics_from=_checked_metrics_from(doc.get("metrics_from")),
            lineage=_checked_lineage(doc.get("lineage")),
            modified_by_run=_checked_list(doc.get("modified_by_run"), "modified_by_run path"),
            plots=[_pointer(item, "plots path") for item in doc["plots"]] if "plots" in doc else None,
            from_lock=_checked_keys(doc["from_lock"], "from_lock path") if "from_lock" in doc else None,
        )


# -- writing -------------------------------------------------------------------------------------


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
    """The commit message for RECORD; refuses a record that no mlv would read back."""
    doc = record.to_json()
    body = json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False)
    size = len(body.encode("utf-8"))
    if size > MAX_RECORD_BYTES:
        raise MlvError(
            f"the experiment record would be {size / 1024 / 1024:.1f} MiB, over the "
            f"{MAX_RECORD_BYTES // 1024 // 1024} MiB mlv reads; params or metrics files are too large to record",
            hint="Keep params and metrics files small; track large results as `outputs`.",
        )
    if _deeper_than(doc, MAX_DEPTH):
        raise MlvError(f"the experiment record would nest deeper than {MAX_DEPTH} levels, more than mlv reads",
                       hint="Flatten the params or metrics files.")
    return (f"{message.strip()}\n\n{summary_line(record)}\n\n"
            f"{BEGIN.format(version=record.schema)}\n{body}\n{END}\n")


# -- reading -------------------------------------------------------------------------------------


def parse(message: str, sha: str) -> tuple[str, Record]:
    """The user's message and the record of commit SHA; raises when it is not a valid experiment."""
    user, rec = parse_if_present(message, sha)
    if rec is None:
        raise NotAnExperimentError(
            f"commit {sha[:10]} is not an mlv experiment commit",
            hint="`mlv log` lists the experiment commits of this branch.",
        )
    return user, rec


def parse_if_present(message: str, sha: str) -> tuple[str, Record | None]:
    """The user's message and the record of commit SHA, None for a commit without a record block;
    raises InvalidRecordError (naming the commit) for a block that cannot be read."""
    try:
        user, doc = split_message(message)
        if doc is None:
            return user, None
        _refuse_newer(doc, sha)
        _check_schema(doc)
        return user, Record.from_dict(doc)
    except _UnreadableError as exc:
        raise InvalidRecordError(f"commit {sha[:10]} is not a valid experiment: {exc}",
                                 hint="Other experiments are unaffected; `mlv log` marks it invalid.") from None


def split_message(message: str) -> tuple[str, dict[str, Any] | None]:
    """(the user's message, the record block's JSON object); None when there is no block.

    Raises _UnreadableError for a block that cannot be loaded (no end marker, too large, too deep,
    not a JSON object). The object is not checked against the schema yet: `parse` does that.
    """
    match = last_marker(message)
    if match is None:
        return message.strip(), None
    end = message.find(END, match.end())
    if end < 0:
        raise _UnreadableError("its record has no end marker")
    return user_text(message[: match.start()]), _load(message[match.end():end], int(match.group(1)))


def last_marker(message: str) -> re.Match[str] | None:
    """The last opening marker: mlv appends its record after the user's text, so an earlier block
    is part of what the user wrote (and must not pass for the record)."""
    last = None
    for last in _BEGIN_RE.finditer(message):  # noqa: B007 - the loop is how we reach the last one
        pass
    return last


def user_text(before_marker: str) -> str:
    """The user's message: what precedes the record, without mlv's summary line."""
    lines = before_marker.strip().split("\n")  # not splitlines(): it also splits at \x1c-\x1e and \x85
    return "\n".join(line for line in lines if not line.startswith("mlv: ")).strip()


def _load(block: str, marker_version: int) -> dict[str, Any]:
    """The block's JSON object, after the size cap and before anything walks it recursively."""
    if len(block) > MAX_RECORD_BYTES or len(block.encode("utf-8")) > MAX_RECORD_BYTES:
        raise _UnreadableError(f"its record is larger than {MAX_RECORD_BYTES // 1024 // 1024} MiB")
    try:
        doc = json.loads(block)
    except RecursionError:
        raise _UnreadableError(f"its record nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise _UnreadableError(f"its record is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(doc, dict):
        raise _UnreadableError("its record is not a JSON object")
    if _deeper_than(doc, MAX_DEPTH):
        raise _UnreadableError(f"its record nests deeper than {MAX_DEPTH} levels")
    doc.setdefault("schema", marker_version)
    doc.setdefault("reproduces", None)  # records from before `reproduce --save` existed
    return doc


def _deeper_than(doc: Any, limit: int) -> bool:
    """Whether DOC nests more than LIMIT levels; iterative, so depth itself cannot hurt."""
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _refuse_newer(doc: dict[str, Any], sha: str) -> None:
    schema = doc["schema"]
    if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
        raise InvalidRecordError(
            f"commit {sha[:10]} has an experiment record of schema {schema}; this mlv reads up to "
            f"{SCHEMA_VERSION}",
            hint="Upgrade mlv (`pip install -U mlv-vcs`).",
        )


def _check_schema(doc: dict[str, Any]) -> None:
    """DOC against the schema of `mlv show --json`, which is the record plus what the reader adds."""
    brought = [name for name in _READER_FIELDS if name in doc]
    if brought:
        raise _UnreadableError(f"its record has a field {brought[0]!r}, which only a reader adds")
    env = doc.get("environment")
    if isinstance(env, dict) and "packages" in env:
        raise _UnreadableError("its record lists packages, which belong in the lockfile")
    view = {"commit": "0" * 40, "message": "", **doc}
    if isinstance(env, dict):
        view["environment"] = {**env, "packages": {}}
    try:
        validate.check(view)
    except validate.SchemaViolationError as exc:
        raise _UnreadableError(f"its record does not match the schema ({exc})") from None


def _checked_path(value: str, what: str) -> str:
    """VALUE under the one path-safety rule for data (mlv/data/pathsafety.py `data_path`)."""
    if len(value) > _MAX_PATH:
        raise _UnreadableError(f"its {what} is longer than {_MAX_PATH} characters")
    try:
        return data_path(value, what)
    except UnsafePathError as exc:
        raise _UnreadableError(exc.message) from None


_TREE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def _checked_tree(value: str | None) -> str | None:
    if value is not None and not _TREE.fullmatch(value):
        raise _UnreadableError(f"its tree is not a git object id: {value[:80]!r}")
    return value


def _checked_metrics_from(value: str | None) -> str | None:
    if value not in (None, "stdout"):
        raise _UnreadableError(f"its metrics_from is not 'stdout': {str(value)[:80]!r}")
    return value


def _checked_lineage(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if entries is None:
        return None
    for entry in entries:
        _checked_path(entry["path"], "lineage path")
        if not _MD5.fullmatch(entry["md5"]):
            raise _UnreadableError(f"its lineage entry has an md5 that is not one: {entry['md5'][:40]!r}")
    return entries


def _checked_list(paths: list[str] | None, what: str) -> list[str] | None:
    return None if paths is None else [_checked_path(path, what) for path in paths]


def _checked_keys(files: dict[str, Any], what: str) -> dict[str, Any]:
    return {_checked_path(name, what): content for name, content in files.items()}


def _pointer(item: dict[str, Any], what: str) -> Pointer:
    # Imported here: the dvc adapter imports PyYAML, which `mlv log` and `mlv show` never need.
    from mlv.adapters.dvc import Pointer

    md5 = item["md5"]
    if not _MD5.fullmatch(md5):
        raise _UnreadableError(f"its {what} entry has an md5 that is not one: {md5[:40]!r}")
    return Pointer(path=_checked_path(item["path"], what), md5=md5, size=item["size"], nfiles=item["nfiles"],
                   stage=item.get("stage"))


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
