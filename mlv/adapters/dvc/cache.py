"""All of mlv's access to DVC: its file formats, its cache, and its in-process API.

The hot path (hashing and storing data on `mlv snapshot`) writes DVC's own formats directly:
`.dvc` pointer files, `.dir` manifests and `.dvc/cache/files/md5/XX/REST` objects, byte for byte
as DVC 3 writes them, so `dvc status`, `dvc checkout` and `dvc push` keep working on an mlv repo.
Doing it here lets us hash and store a file in one read (DVC reads it twice) and skip importing
DVC (0.4 s) when nothing changed. Remote transfers and `dvc init` go through DVC's own Python API.
"""

from __future__ import annotations

import configparser
import contextlib
import errno
import hashlib
import json
import os
import posixpath
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from mlv.adapters.paths import repo_path_problem
from mlv.errors import DvcError

CHUNK = 1024 * 1024
CACHE_FILE_MODE = 0o444  # DVC protects cache objects read-only; so do we.
Progress = Callable[[int], None]  # called with the number of bytes just read


# -- untrusted input: hashes and paths ---------------------------------------------------------------
#
# Pointer files, records and `.dir` manifests come from other people's commits and from the DVC
# remote. A hash is used to build a cache path and a pointer's path is read (hashed by the hooks)
# or written, so both are checked where they are parsed: a hash like `../../../../dev/zero` once
# made checkout and the hooks read forever, and `path: /usr` made the pre-commit hook hash /usr.

_MD5 = re.compile(r"[0-9a-f]{32}")
_OBJECT_HASH = re.compile(r"[0-9a-f]{32}(\.dir)?")


def is_file_hash(value: object) -> bool:
    """True for a file's md5 as DVC writes it: 32 lowercase hex digits."""
    return isinstance(value, str) and _MD5.fullmatch(value) is not None


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


# -- pointer files -------------------------------------------------------------------------------


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


# -- cache ---------------------------------------------------------------------------------------


# DVC reads four config files, each overriding the one before: system, global, the repository's
# committed `.dvc/config`, and its private `.dvc/config.local`. Paths in a file (`cache.dir`, a
# local remote's `url`) are relative to that file's folder. Reading them here, not through
# dvc.config.Config, keeps DVC (0.4 s to import) off the no-op snapshot.
_PATH_KEYS = {"cache": ("dir",), "remote": ("url",)}
DvcConfig = dict[str, dict[str, str]]  # section ("core", "cache", 'remote "NAME"') -> key -> value


def config_files(root: Path) -> list[Path]:
    """DVC's config files for ROOT, lowest precedence first, where DVC itself looks for them."""
    return [_level_dir("DVC_SYSTEM_CONFIG_DIR", "site_config_dir") / "config",
            _level_dir("DVC_GLOBAL_CONFIG_DIR", "user_config_dir") / "config",
            root / ".dvc" / "config", root / ".dvc" / "config.local"]


def _level_dir(variable: str, platform_dir: str) -> Path:
    """DVC's system or global config folder: its environment variable, else platformdirs' choice
    for app "dvc" by "iterative" (what dvc.dirs does)."""
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(getattr(platformdirs, platform_dir)("dvc", "iterative"))


def _resolve_config_path(conf_dir: Path, value: str) -> str:
    """A path setting as DVC resolves it: URLs and absolute paths as they are, `~` expanded,
    anything else relative to the folder of the file that sets it."""
    if re.match(r"\w+://", value) or os.path.isabs(value):
        return value
    expanded = os.path.expanduser(value)
    return expanded if os.path.isabs(expanded) else os.path.abspath(conf_dir / value)


def read_dvc_config(root: Path) -> DvcConfig:
    """DVC's merged configuration for ROOT (all four levels), path settings made absolute."""
    merged: DvcConfig = {}
    for path in config_files(root):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            if not parser.read(path, encoding="utf-8"):
                continue
        except (configparser.Error, UnicodeDecodeError) as exc:
            detail = (exc.message if isinstance(exc, configparser.Error) else str(exc)).splitlines()[0]
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            raise DvcError(f"{shown} cannot be parsed: {detail}",
                           hint="Fix it (DVC cannot read it either), e.g. with `dvc config`.") from None
        for section in parser.sections():
            name = section.strip("'").strip()  # DVC writes ['remote "x"']; configparser keeps the quotes
            values = merged.setdefault(name, {})
            path_keys = _PATH_KEYS.get(name.split(" ", 1)[0], ())
            for key, raw in parser.items(section):
                value = _unquoted(raw)
                values[key] = _resolve_config_path(path.parent, value) if key in path_keys else value
    return merged


def _unquoted(value: str) -> str:
    """A value as configobj (DVC's reader) gives it: `dvc config` quotes a value holding a comma or
    a quote (`type = "a,b"`), and configparser would keep those quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def cache_dir(root: Path) -> Path:
    """The DVC cache folder: `cache.dir` from DVC's config files (system, global, repository,
    local; the last one setting it wins), else `.dvc/cache`."""
    configured = read_dvc_config(root).get("cache", {}).get("dir")
    if configured:
        return Path(configured).resolve()
    return root / ".dvc" / "cache"


LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")


def cache_link_types(root: Path) -> list[str]:
    """`cache.type` as DVC reads it (e.g. ["reflink", "copy"], ["symlink"]); DVC's default when
    unset. A type DVC does not know is refused as DVC refuses it (config_schema.supported_cache_type)."""
    configured = read_dvc_config(root).get("cache", {}).get("type")
    if configured is None:
        return ["reflink", "copy"]
    kinds = [k.strip() for k in configured.split(",")]
    unknown = [k for k in kinds if k not in LINK_TYPES]
    if unknown:
        raise DvcError(f"DVC's config sets cache.type to {configured[:200]!r}, and "
                       f"{', '.join(repr(k) for k in unknown[:5])} is not a cache type",
                       hint=f"Set it to types from {', '.join(LINK_TYPES)}, in order of preference, "
                       "e.g. `dvc config cache.type hardlink,copy`.")
    return kinds


def default_remote(root: Path) -> str | None:
    value = read_dvc_config(root).get("core", {}).get("remote")
    return value.strip() if value else None


def remote_url(root: Path, name: str) -> str | None:
    """The remote's URL, a local folder made absolute as DVC does (relative to its config file)."""
    return read_dvc_config(root).get(f'remote "{name}"', {}).get("url")


def object_path(cache: Path, md5: str) -> Path:
    """Where object MD5 is read from: DVC 3's `files/md5/XX/REST`, or else, when only there, the
    DVC 2 layout `XX/REST` that pointer files without `hash: md5` use. New objects are always
    written to DVC 3's layout (`new_object_path`)."""
    return Path(object_file(cache, md5))


def new_object_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def object_file(cache: Path | str, md5: str) -> str:
    """`object_path` as a plain string, for loops over every file (pathlib costs ~50 us a call)."""
    current = f"{cache}/files/md5/{md5[:2]}/{md5[2:]}"
    if os.path.exists(current):
        return current
    legacy = f"{cache}/{md5[:2]}/{md5[2:]}"
    return legacy if os.path.exists(legacy) else current


def objects_dir(cache: Path) -> Path:
    """The folder of the `XX/` object folders; half-written objects live here until renamed."""
    return cache / "files" / "md5"


# A half-written object is `.mlv-tmp-PID-...` in objects_dir, so a later write can tell a killed
# writer's leftover (its process is gone, or nothing wrote to it for a day) from a live one's.
CACHE_TEMP_PREFIX = ".mlv-tmp-"
_STALE_AFTER = 60  # seconds unwritten, with its writer gone (a live writer writes far more often)
_ABANDONED_AFTER = 24 * 3600  # seconds unwritten, whatever the pid says (pids are reused)
_swept: set[str] = set()


def cache_temp_prefix() -> str:
    return f"{CACHE_TEMP_PREFIX}{os.getpid()}-"


def sweep_stale_temps(cache: Path) -> list[str]:
    """Delete half-written objects that killed writers left in CACHE (once per process); names."""
    key = str(cache)
    if key in _swept:
        return []
    _swept.add(key)
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(objects_dir(cache)))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(CACHE_TEMP_PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            pid = int(entry.name[len(CACHE_TEMP_PREFIX):].split("-", 1)[0])
        except (OSError, ValueError):
            continue
        if not stat.S_ISREG(st.st_mode) or pid == os.getpid():
            continue
        age = now - st.st_mtime
        if age > _ABANDONED_AFTER or (age > _STALE_AFTER and not _process_alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def has_object(cache: Path, md5: str, *, legacy: bool = True) -> bool:
    """MD5 is in the cache (LEGACY: in either layout; else in DVC 3's, where DVC 3 pointers look)."""
    return os.path.exists(object_file(cache, md5) if legacy else new_object_path(cache, md5))


def _atomic_store(cache: Path, md5: str, write: Callable[[Any], None]) -> None:
    target = new_object_path(cache, md5)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(cache)
    import tempfile  # only when an object is written: a no-op snapshot writes none

    fd, tmp = tempfile.mkstemp(dir=objects_dir(cache), prefix=cache_temp_prefix())
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, CACHE_FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def hash_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


PARALLEL_COPY_MIN = 16 * 1024 * 1024
COPY_STEP = 8 * 1024 * 1024  # the kernel copies this much, then the hasher reads it back


def hash_and_store_file(path: Path, cache: Path, progress: Progress | None = None,
                        size: int | None = None) -> str:
    """md5 of PATH, with its content stored in the cache (DVC reads the data twice, hash then copy).

    The md5 is always that of the bytes written to the cache object, never of a second read of
    PATH: a file written to while it is being stored must not leave an object whose content does
    not hash to its name. At most SIZE bytes are read (PATH's size when the caller took its stat;
    default: now), so a file that keeps growing cannot keep us reading. Whether PATH changed
    meanwhile is for the caller to check, by comparing its stat before and after.

    Small files are read once into memory. Large files are copied by the kernel (copy_file_range,
    no trip through Python) on a worker thread while this one hashes the copy as it lands (from
    the page cache), so the two overlap on two cores.
    """
    if size is None:
        size = os.stat(path).st_size
    if size <= SMALL_FILE:
        with open(path, "rb") as handle:
            data = handle.read(size)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        _store_bytes(cache, md5, data)
        if progress:
            progress(len(data))
        return md5
    parent = objects_dir(cache)
    parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(cache)
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=parent, prefix=cache_temp_prefix())
    try:
        with os.fdopen(fd, "r+b") as dst, open(path, "rb") as src:
            if size >= PARALLEL_COPY_MIN:
                md5 = _copy_then_hash(src.fileno(), dst.fileno(), size, progress)
            else:
                md5 = _hash_and_copy(src, dst, size, progress)
        target = new_object_path(cache, md5)
        if target.exists():
            Path(tmp).unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, CACHE_FILE_MODE)
            os.replace(tmp, target)
        return md5
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


SMALL_FILE = 1024 * 1024
_made_dirs: set[str] = set()  # object folders known to exist: saves a mkdir per small file


def _store_bytes(cache: Path, md5: str, data: bytes) -> None:
    """Write DATA as object MD5 unless present: temp file in the object's folder, then rename."""
    folder = os.path.join(cache, "files", "md5", md5[:2])
    target = os.path.join(folder, md5[2:])
    if os.path.exists(target):
        return
    if folder not in _made_dirs:
        os.makedirs(folder, exist_ok=True)
        _made_dirs.add(folder)
        sweep_stale_temps(cache)
    tmp = f"{cache}/files/md5/{cache_temp_prefix()}{threading.get_ident()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, CACHE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _hash_and_copy(src: Any, dst: Any, size: int, progress: Progress | None) -> str:
    """Read up to SIZE bytes of SRC once, hashing and writing each chunk."""
    digest = hashlib.md5(usedforsecurity=False)
    left = size
    while left > 0 and (chunk := src.read(min(CHUNK, left))):
        digest.update(chunk)
        dst.write(chunk)
        left -= len(chunk)
        if progress:
            progress(len(chunk))
    return digest.hexdigest()


# copy_file_range cannot copy between these file systems or is missing: copy through Python.
_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM, errno.ETXTBSY}


def _copy_then_hash(src: int, dst: int, size: int, progress: Progress | None) -> str:
    """Copy up to SIZE bytes of SRC into DST on a worker thread; hash DST's bytes as they land.

    Hashing the copy, not the source, is what makes the name match the content even if the
    source is rewritten meanwhile (two reads of a changing file can differ).
    """
    import queue

    landed: queue.SimpleQueue[int | BaseException | None] = queue.SimpleQueue()

    def copy() -> None:
        offset, kernel = 0, True
        try:
            while offset < size:
                step = min(COPY_STEP, size - offset)
                copied = -1
                if kernel:
                    try:
                        copied = os.copy_file_range(src, dst, step, offset, offset)
                    except OSError as exc:
                        if exc.errno not in _NO_KERNEL_COPY:
                            raise
                        kernel = False
                    if copied == 0:  # some file systems say "nothing copied" rather than refuse
                        kernel, copied = False, -1
                if copied < 0:
                    copied = os.pwrite(dst, os.pread(src, step, offset), offset)
                if copied == 0:
                    break  # the file shrank: the caller's stat comparison will notice
                offset += copied
                landed.put(offset)
            landed.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the hashing thread, which re-raises
            landed.put(exc)

    digest = hashlib.md5(usedforsecurity=False)
    worker = threading.Thread(target=copy, name="mlv-copy", daemon=True)
    worker.start()
    hashed = 0
    try:
        while (item := landed.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            while hashed < item:
                chunk = os.pread(dst, min(CHUNK, item - hashed), hashed)
                digest.update(chunk)
                hashed += len(chunk)
                if progress:
                    progress(len(chunk))
    finally:
        worker.join()
    return digest.hexdigest()


def manifest_bytes(entries: Iterable[ManifestEntry]) -> bytes:
    """A `.dir` manifest exactly as DVC serialises it (its md5 is the folder's hash)."""
    listing = sorted(({"md5": e.md5, "relpath": e.relpath} for e in entries), key=lambda d: d["relpath"])
    return json.dumps(listing, sort_keys=True).encode("utf-8")


def dir_hash(entries: Iterable[ManifestEntry]) -> tuple[str, bytes]:
    data = manifest_bytes(entries)
    return hashlib.md5(data, usedforsecurity=False).hexdigest() + ".dir", data


def store_manifest(cache: Path, md5: str, data: bytes) -> None:
    _atomic_store(cache, md5, lambda handle: handle.write(data))


def load_manifest(cache: Path, md5: str) -> list[ManifestEntry] | None:
    """The entries of a `.dir` object, or None when it is not in the cache."""
    listing = load_manifest_map(cache, md5)
    return None if listing is None else [ManifestEntry(rel, md5) for rel, md5 in listing.items()]


def verify_object(cache: Path, md5: str) -> bool:
    """True when the cache object's content still hashes to its name."""
    path = object_path(cache, md5)
    if md5.endswith(".dir"):
        return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() + ".dir" == md5
    return hash_file(path) == md5


# -- DVC's own API (imported lazily: it costs ~0.4 s) ----------------------------------------------


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def init_dvc(root: Path) -> None:
    """`dvc init` in ROOT (which must be a git repository)."""
    import contextlib
    import io

    from dvc.repo import Repo

    try:
        # DVC's welcome banner goes through its logging (to the stdout it saw at import) and print.
        with quiet_dvc_logs(), contextlib.redirect_stdout(io.StringIO()):
            Repo.init(str(root))
    except Exception as exc:  # noqa: BLE001 - DVC raises many types; all mean the same to the user
        raise DvcError(f"dvc init failed: {exc}") from None


@contextlib.contextmanager
def quiet_dvc_logs() -> Iterator[None]:
    """Mute DVC's multi-line WARNING/ERROR log blocks: mlv reports each failure in one line."""
    import logging

    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # process-wide: DVC logs through many child loggers
    try:
        yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def _open_repo(root: Path) -> Iterator[Any]:
    """DVC's Repo for ROOT, with its logging muted for as long as it is open."""
    from dvc.repo import Repo

    with quiet_dvc_logs(), Repo(str(root)) as repo:
        yield repo


class TransferProgress(Protocol):
    """Hears a transfer to or from a DVC remote as it happens: objects (files) and bytes."""

    def transfer_started(self, objects: int, description: str) -> None: ...
    def transfer_advanced(self, objects: int, nbytes: int) -> None: ...
    def transfer_finished(self) -> None: ...


def _sink_callback(sink: TransferProgress, description: str) -> Any:
    """An fsspec callback that tells SINK each object done and each byte moved.

    DVC sizes its callback once with the objects to transfer, then again for every batch it
    hands the file system (a folder's files, its manifest, the rest), so only the first size is
    the total; the value counts objects across all batches. Each object's bytes arrive through
    the callback it branches for that file.
    """
    from fsspec.callbacks import Callback  # type: ignore[import-untyped]

    class _Bytes(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._seen = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self.value > self._seen:
                sink.transfer_advanced(0, self.value - self._seen)
                self._seen = self.value

    class _Objects(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._total: int | None = None
            self._done = 0

        def set_size(self, size: int | None) -> None:
            if self._total is None and size is not None:
                self._total = size
                sink.transfer_started(size, description)

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self.value > self._done:
                sink.transfer_advanced(self.value - self._done, 0)
                self._done = self.value

        def branched(self, path_1: Any, path_2: Any, **kwargs: Any) -> Callback:
            return _Bytes()

    return _Objects()


def _transfer(repo: Any, verb: str, hash_infos: list[Any], remote: str | None, sink: TransferProgress) -> Any:
    """`repo.cloud.pull/push` for md5 objects, as DVC does it, with SINK hearing the progress
    (DVC's own methods make a tqdm bar of their own, in decimal units, and take no callback)."""
    from dvc.data_cloud import get_index

    odb = repo.cloud.get_remote_odb(remote, verb)
    cache = repo.cache.local
    if verb == "pull":
        callback = _sink_callback(sink, "Downloading data")
        try:
            return repo.cloud.transfer(odb, cache, hash_infos, src_index=get_index(odb), cache_odb=cache,
                                       verify=odb.verify, callback=callback)
        finally:
            sink.transfer_finished()
    callback = _sink_callback(sink, "Uploading data")
    try:
        return repo.cloud.transfer(cache, odb, hash_infos, dest_index=get_index(odb), cache_odb=cache,
                                   callback=callback)
    finally:
        sink.transfer_finished()


def _cloud(root: Path, verb: str, md5s: Sequence[str], remote: str | None, failure: str,
           progress: TransferProgress | None = None) -> Any:
    """DVC's `repo.cloud.VERB` (push, pull or status) on objects by hash, errors as DvcError."""
    from dvc.exceptions import DvcException
    from dvc_data.hashfile.hash_info import HashInfo

    if remote is None and default_remote(root) is None:
        raise DvcError("no DVC remote is configured", hint="Add one with `dvc remote add -d NAME URL`.")
    try:
        with _open_repo(root) as repo:
            hash_infos = [HashInfo("md5", md5) for md5 in md5s]
            if progress is not None and verb in ("pull", "push"):
                return _transfer(repo, verb, hash_infos, remote, progress)
            return getattr(repo.cloud, verb)(hash_infos, remote=remote)
    except (DvcException, OSError) as exc:
        raise DvcError(
            f"{failure}: {_one_line(exc)}",
            hint="Check the DVC remote with `dvc remote list` and that it is reachable.",
        ) from None
    except Exception as exc:  # noqa: BLE001 - each remote's client library raises its own types
        # (botocore's EndpointConnectionError, asyncssh's PermissionDenied, ...), none of them OSError.
        raise DvcError(
            f"{failure}: {type(exc).__name__}: {_one_line(exc)}",
            hint="Check the DVC remote with `dvc remote list` and that it is reachable.",
        ) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def fetch_objects(root: Path, md5s: Sequence[str], remote: str | None,
                  progress: TransferProgress | None = None) -> int:
    """Download cache objects by hash from the DVC remote (a `.dir` brings its files); count fetched.

    Unlike `dvc fetch`, this needs no pointer file in the work tree, so it can fetch the data of
    any revision (`mlv reproduce`, `mlv checkout`, the git hooks).
    """
    if not md5s:
        return 0
    result = _cloud(root, "pull", md5s, remote, "dvc fetch failed", progress)
    drop_corrupt_downloads(cache_dir(root), [h.value for h in result.transferred])
    return len(result.transferred)


def drop_corrupt_downloads(cache: Path, md5s: Iterable[str]) -> None:
    """Check that each file object just downloaded hashes to its name; delete it and raise if not.

    DVC does not check what it downloads (its remote `verify` option is off by default), so a
    damaged or tampered object on the remote would otherwise sit in the cache looking valid, and
    a later fetch would never replace it. `.dir` manifests are left to the manifest checks.
    """
    bad = [m for m in sorted(set(md5s))
           if not m.endswith(".dir") and has_object(cache, m) and not verify_object(cache, m)]
    for md5 in bad:
        object_path(cache, md5).unlink(missing_ok=True)
    if bad:
        raise DvcError(
            f"{len(bad)} object(s) downloaded from the DVC remote do not match their hash, e.g. {bad[0]}; "
            "they were not kept",
            hint="The copy on the remote is damaged: push it again from a machine that has it (`mlv push`).",
        )


@dataclass(frozen=True)
class PushReport:
    """What `push_objects` did: objects uploaded, and those it could not (absent from the cache)."""

    uploaded: int
    failed: list[str]


def push_objects(root: Path, md5s: Sequence[str], remote: str | None,
                 progress: TransferProgress | None = None) -> PushReport:
    """Upload cache objects by hash to the DVC remote (a `.dir` sends its files); skip those there.

    Unlike `dvc push`, this needs no pointer file in the work tree, so the pre-push hook and
    `mlv push` can send the data of every commit being pushed, not only of the checked-out one.
    """
    if not md5s:
        return PushReport(0, [])
    result = _cloud(root, "push", md5s, remote, "dvc push failed", progress)
    return PushReport(len(result.transferred), sorted(h.value for h in result.failed))


def share_cache_with(worktree: Path, main_root: Path, private_cache: Path | None = None) -> None:
    """Make DVC in a linked WORKTREE use MAIN_ROOT's cache and remotes (in its `.dvc/config.local`).

    A new worktree has no `.dvc/cache` (it is git-ignored) and no `config.local`; without this,
    DVC there would see an empty cache and maybe no remote. Relative local remote URLs are made
    absolute because DVC resolves them against the config file's folder, which moved.

    With PRIVATE_CACHE, DVC there uses that (empty) folder as its cache instead, remotes still
    shared: `dvc repro` then finds no run-cache entry and no cached output, so every stage runs.
    """
    main = read_dvc_config(main_root)
    out = configparser.ConfigParser(interpolation=None)
    for name, values in main.items():
        if name.startswith('remote "'):
            out[name] = dict(values)  # local URLs are absolute already (see read_dvc_config)
    remote = default_remote(main_root)
    if remote:
        out["core"] = {"remote": remote}
    out["cache"] = {"dir": str((private_cache or cache_dir(main_root)).resolve())}
    target = worktree / ".dvc" / "config.local"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        out.write(handle)



_MD5_LINES = re.compile(r"(?:[0-9a-f]{32}\n)*")


def load_manifest_map(cache: Path, md5: str) -> dict[str, str] | None:
    """relpath -> md5 of a `.dir` object, or None when it is not in the cache.

    The same data as `load_manifest` without one object per entry: comparing two 10,000-file
    folders (`mlv diff`) then costs two JSON parses and two dict builds, about 3x less.

    The object may have come from a DVC remote or been edited in the cache, so it is used only
    if its bytes hash to its name (as DVC computes a folder's hash: the md5 of the manifest
    exactly as stored) and every entry's hash is well formed. DVC itself trusts the manifest.
    """
    try:
        raw = object_path(cache, md5).read_bytes()
    except FileNotFoundError:
        return None
    if hashlib.md5(raw, usedforsecurity=False).hexdigest() + ".dir" != md5:
        raise DvcError(
            f"cache object {md5} does not match its hash (a changed or corrupt folder manifest, "
            f"{object_path(cache, md5)}); refusing to use it",
            hint="Delete that cache file and run `dvc fetch` (or `mlv pull`) to download it again.",
        )
    try:
        listing = {d["relpath"]: d["md5"] for d in json.loads(raw)}
        # One regex over all the hashes (a 10,000-file folder: ~1 ms); join also rejects non-strings.
        ok = _MD5_LINES.fullmatch("\n".join(listing.values()) + "\n" if listing else "") is not None
        ok = ok and all(isinstance(rel, str) for rel in listing)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise DvcError(
            f"cache object {md5} is not a valid DVC folder manifest; refusing to use it",
            hint="Delete it from the cache and run `dvc fetch` to download it again.",
        ) from None
    return listing


def missing_everywhere(root: Path, md5s: Sequence[str], remote: str | None) -> list[str]:
    """Which of MD5S (objects the local cache lacks) the DVC remote lacks too.

    DVC's push skips an object that is in neither place without counting it as failed, so a
    caller that must know the remote is complete asks this for the objects it could not send.
    """
    if not md5s:
        return []
    status = _cloud(root, "status", md5s, remote, "cannot query the DVC remote")
    return sorted(h.value for h in status.missing)
