"""DVC's `.dvc` pointer files: parsing them (untrusted input) and writing them as DVC does."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlv.adapters.paths import repo_path_problem
from mlv.errors import DvcError

# Pointer files, records and `.dir` manifests come from other people's commits and from the DVC
# remote. A hash is used to build a cache path and a pointer's path is read (hashed by the hooks)
# or written, so both are checked where they are parsed: a hash like `../../../../dev/zero` once
# made checkout and the hooks read forever, and `path: /usr` made the pre-commit hook hash /usr.

_OBJECT_HASH = re.compile(r"[0-9a-f]{32}(\.dir)?")


def is_object_hash(value: object) -> bool:
    """True for a file's md5, or a folder's (the md5 of its manifest followed by `.dir`)."""
    return isinstance(value, str) and _OBJECT_HASH.fullmatch(value) is not None


@dataclass(frozen=True)
class Pointer:
    """What a `.dvc` file pins: one output's hash, size and (for a folder) file count.

    A Pointer with a malformed hash cannot be made, whatever it was read from (a pointer file, a
    record). Its path is checked by `parse_pointer` and, for records, by the restore that uses it.
    """

    path: str  # relative to the repository root, posix separators
    md5: str  # ends in ".dir" for a folder
    size: int
    nfiles: int | None = None
    stage: str | None = None  # the `dvc.yaml` stage that outputs it (pinned in `dvc.lock`), if any

    def __post_init__(self) -> None:
        if not is_object_hash(self.md5):
            raise DvcError(f"{self.path}: {self.md5!r} is not a DVC md5 hash (32 hex digits, "
                           "plus .dir for a folder); refusing to use it")

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"path": self.path, "md5": self.md5, "size": self.size, "nfiles": self.nfiles}
        if self.stage is not None:
            found["stage"] = self.stage
        return found


@dataclass(frozen=True)
class ManifestEntry:
    relpath: str
    md5: str


def pointer_path(path: str) -> str:
    return f"{path}.dvc"


def render_pointer(pointer: Pointer, existing: bytes | None = None) -> bytes:
    """The `.dvc` file for POINTER, byte for byte as DVC 3 writes it (ruamel.yaml, as DVC uses it:
    a name such as `1e3`, `null` or `012` is quoted, exactly where DVC quotes it).

    When the pointer file exists already (a repository that used DVC before mlv), it is kept
    byte for byte if nothing changed, and otherwise only its hash fields are updated, so keys
    such as `desc`, `remote` or `cache` survive. A DVC 2 file (no `hash: md5`) that changes gets
    `hash: md5` appended, as `dvc add` does when it moves it to DVC 3's cache layout. An imported
    output (a `.dvc` file with `deps`) is never rewritten: DVC's `dvc update` would undo the edit.
    """
    fields: dict[str, Any] = {"md5": pointer.md5, "size": pointer.size}
    if pointer.nfiles is not None:
        fields["nfiles"] = pointer.nfiles
    if existing is not None:
        updated = _update_existing(existing, fields, pointer.path)
        if updated is not None:
            return updated
    out = {**fields, "hash": "md5", "path": Path(pointer.path).name}
    return dump_dvc_yaml({"outs": [out]})


def dump_dvc_yaml(doc: Any) -> bytes:
    """DOC serialised as DVC serialises its files (dvc.utils.serialize: round-trip ruamel.yaml,
    block style). Imported here, not at the top: only a changed pointer needs it."""
    import io

    from ruamel.yaml import YAML

    dumper = YAML()
    dumper.default_flow_style = False
    stream = io.StringIO()
    dumper.dump(doc, stream)
    return stream.getvalue().encode("utf-8")


def imported_error(path: str) -> DvcError:
    return DvcError(
        f"{path} is imported data ({path}.dvc has `deps`), and it was changed; mlv does not record "
        "an edited import, because `dvc update` would silently undo it",
        hint=f"Discard the edit with `dvc checkout {path}`, get a newer version with `dvc update "
        f"{path}.dvc`, or make it your own data with `dvc remove {path}.dvc` then `dvc add {path}`.",
    )


def _update_existing(existing: bytes, fields: dict[str, Any], path: str) -> bytes | None:
    try:
        doc = load_untrusted_yaml(existing, pointer=True)  # the work tree's file: maybe a cloned alias bomb
        out = doc["outs"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None  # unreadable: write a fresh one
    if not isinstance(out, dict) or out.get("hash", "md5") != "md5":
        return None
    now = {k: str(v) for k, v in fields.items()}
    if all(out.get(k) == v for k, v in now.items()) and ("nfiles" in fields or "nfiles" not in out):
        return existing
    if doc.get("deps"):
        raise imported_error(path)
    from ruamel.yaml import YAML

    # Edited in place, as DVC does (dvc.stage.serialize.to_single_stage_file): the round-trip
    # document keeps every other key, its order and its comments.
    full = YAML().load(existing.decode("utf-8"))
    target = full["outs"][0]
    for key, value in fields.items():
        target[key] = value
    if "nfiles" not in fields:
        target.pop("nfiles", None)
    if "hash" not in target:
        target["hash"] = "md5"  # a DVC 2 file: its new object is in DVC 3's layout
    return dump_dvc_yaml(full)


MAX_POINTER_BYTES = 64 * 1024  # a real `.dvc` file is a few hundred bytes; DVC's biggest are ~1 KiB


class _NoAliases:
    """Refuse anchors and aliases while composing (mixed into PyYAML loaders).

    A few hundred bytes of nested aliases expand into billions of nodes (the "billion laughs");
    DVC never writes an alias, so a pointer file that has one is refused before it is expanded.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[attr-defined]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "YAML anchors and aliases are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)  # type: ignore[misc]


class _NoAliasLoader(_NoAliases, yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases."""


class _NoAliasStringLoader(_NoAliases, yaml.BaseLoader):
    """Every scalar as the string it is, without anchors or aliases: how a pointer file is read.

    DVC writes YAML 1.2 (ruamel.yaml), where `on`, `yes` or `1:20` are plain strings; PyYAML's
    YAML 1.1 resolvers would read a file named `on` as True. The numeric fields are converted by
    the caller instead.
    """


def load_untrusted_yaml(data: bytes, limit: int = MAX_POINTER_BYTES, *, pointer: bool = False) -> Any:
    """Parse DATA (a file from a repository or a DVC remote) as YAML, with bounded cost.

    ValueError when it is larger than LIMIT, uses an anchor or alias, nests too deeply, or is
    not YAML. The size cap also bounds nesting depth, whose recursion would otherwise end in a
    RecursionError. POINTER: every scalar is returned as a string (see _NoAliasStringLoader).
    """
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 1024} KiB")
    try:
        loader = _NoAliasStringLoader if pointer else _NoAliasLoader
        return yaml.load(data, Loader=loader)  # noqa: S506 - SafeLoader/BaseLoader subclasses
    except yaml.YAMLError as exc:
        raise ValueError(str(getattr(exc, "problem", None) or exc.__class__.__name__)) from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


class UnhashedPointerError(DvcError):
    """A valid pointer file that pins no hash yet (`dvc import-url --no-download`): there is no
    data to compare, push or restore, so callers skip it with one line."""


def _count(value: object) -> int | None:
    """A size or file count read as a string (see _NoAliasStringLoader); TypeError if not one."""
    if value is None:
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise TypeError("wrong field types")


def parse_pointer(data: bytes, pointer_file: str) -> Pointer:
    """Read a `.dvc` file's single output; PATH is resolved relative to the pointer's folder.

    The file is untrusted: it is size-capped, parsed without YAML aliases, and its hash and path
    are checked before anything uses them; any problem is one DvcError naming the file.
    """
    try:
        doc = load_untrusted_yaml(data, pointer=True)
        out = doc["outs"][0]
        if not isinstance(out, dict):
            raise TypeError("wrong field types")
        if "md5" not in out and isinstance(out.get("path"), str):
            raise UnhashedPointerError(
                f"{pointer_file} pins no md5 (e.g. `dvc import-url --no-download`); skipped it",
                hint=f"Download its data with `dvc pull {pointer_file}` or `dvc update {pointer_file}`.")
        md5, rel = out["md5"], out["path"]
        size, nfiles = _count(out.get("size", "0")), _count(out.get("nfiles"))
        if not isinstance(rel, str) or size is None:
            raise TypeError("wrong field types")
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        detail = str(exc) if isinstance(exc, ValueError) else exc.__class__.__name__
        raise DvcError(
            f"{pointer_file} is not a valid DVC pointer file ({detail})",
            hint="Restore it with `git checkout -- FILE` or re-create it with `mlv snapshot`.",
        ) from None
    if not is_object_hash(md5):
        raise DvcError(f"{pointer_file}: md5 {str(md5)[:80]!r} is not a DVC hash (32 hex digits, plus "
                       ".dir for a folder); refusing to use it")
    parent = os.path.dirname(pointer_file)
    # DVC resolves an output path against the pointer file's folder; the result must be a data
    # path inside the repository, whatever the file says.
    path = posixpath.normpath(f"{parent}/{rel}" if parent else rel) if rel else ""
    problem = "is an absolute path" if rel.startswith("/") else repo_path_problem(path)
    if problem:
        raise DvcError(f"{pointer_file}: output path {rel[:200]!r} {problem}; refusing to use it")
    return Pointer(path=path, md5=md5, size=size, nfiles=nfiles)


def dvc2_pointer(data: bytes, pointer_file: str) -> Pointer | None:
    """The pointer a DVC 2 `.dvc` file pins (one without `hash: md5`), else None."""
    try:
        doc = load_untrusted_yaml(data, pointer=True)
        legacy = isinstance(doc["outs"][0], dict) and "hash" not in doc["outs"][0]
    except (ValueError, KeyError, IndexError, TypeError, DvcError):
        return None
    if not legacy:
        return None
    try:
        return parse_pointer(data, pointer_file)
    except DvcError:
        return None
