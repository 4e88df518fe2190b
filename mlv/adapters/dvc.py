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
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlv.errors import DvcError

CHUNK = 1024 * 1024
CACHE_FILE_MODE = 0o444  # DVC protects cache objects read-only; so do we.
Progress = Callable[[int], None]  # called with the number of bytes just read


@dataclass(frozen=True)
class Pointer:
    """What a `.dvc` file pins: one output's hash, size and (for a folder) file count."""

    path: str  # relative to the repository root, posix separators
    md5: str  # ends in ".dir" for a folder
    size: int
    nfiles: int | None = None

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "md5": self.md5, "size": self.size, "nfiles": self.nfiles}


@dataclass(frozen=True)
class ManifestEntry:
    relpath: str
    md5: str


# -- pointer files -------------------------------------------------------------------------------


def pointer_path(path: str) -> str:
    return f"{path}.dvc"


def render_pointer(pointer: Pointer, existing: bytes | None = None) -> bytes:
    """The `.dvc` file for POINTER, as DVC 3 writes it.

    When the pointer file exists already (a repository that used DVC before mlv), it is kept
    byte for byte if nothing changed, and otherwise only its hash fields are updated, so keys
    such as `desc`, `remote` or `cache` survive.
    """
    fields: dict[str, Any] = {"md5": pointer.md5, "size": pointer.size}
    if pointer.nfiles is not None:
        fields["nfiles"] = pointer.nfiles
    if existing is not None:
        updated = _update_existing(existing, fields)
        if updated is not None:
            return updated
    out = {**fields, "hash": "md5", "path": Path(pointer.path).name}
    return yaml.safe_dump({"outs": [out]}, sort_keys=False, allow_unicode=True).encode()


def _update_existing(existing: bytes, fields: dict[str, Any]) -> bytes | None:
    try:
        doc = yaml.safe_load(existing)
        out = doc["outs"][0]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        return None  # unreadable: write a fresh one
    if not isinstance(out, dict) or out.get("hash", "md5") != "md5":
        return None
    if all(out.get(k) == v for k, v in fields.items()) and ("nfiles" in fields or "nfiles" not in out):
        return existing
    out.update(fields)
    if "nfiles" not in fields:
        out.pop("nfiles", None)
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def parse_pointer(data: bytes, pointer_file: str) -> Pointer:
    """Read a `.dvc` file's single output; PATH is resolved relative to the pointer's folder."""
    try:
        doc = yaml.safe_load(data)
        out = doc["outs"][0]
        md5 = str(out["md5"])
        size = int(out.get("size", 0))
        nfiles = out.get("nfiles")
        rel = str(out["path"])
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise DvcError(
            f"{pointer_file} is not a valid DVC pointer file ({exc.__class__.__name__})",
            hint="Restore it with `git checkout -- FILE` or re-create it with `mlv snapshot`.",
        ) from None
    parent = os.path.dirname(pointer_file)
    path = f"{parent}/{rel}" if parent else rel
    return Pointer(path=path, md5=md5, size=size, nfiles=int(nfiles) if nfiles is not None else None)


# -- cache ---------------------------------------------------------------------------------------


def _read_dvc_config(root: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    for name in ("config", "config.local"):
        try:
            parser.read(root / ".dvc" / name, encoding="utf-8")
        except configparser.Error as exc:
            raise DvcError(f".dvc/{name} cannot be parsed: {exc.message}") from None
    return parser


def cache_dir(root: Path) -> Path:
    """The DVC cache folder, honouring `cache.dir` in `.dvc/config` and `.dvc/config.local`."""
    parser = _read_dvc_config(root)
    configured = parser.get("cache", "dir", fallback=None)
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else (root / ".dvc" / path).resolve()
    return root / ".dvc" / "cache"


def default_remote(root: Path) -> str | None:
    parser = _read_dvc_config(root)
    value = parser.get("core", "remote", fallback=None)
    return value.strip() if value else None


def remote_url(root: Path, name: str) -> str | None:
    parser = _read_dvc_config(root)
    # DVC writes the section as ['remote "NAME"'], quotes included; accept both spellings.
    for section in (f"'remote \"{name}\"'", f'remote "{name}"'):
        if parser.has_option(section, "url"):
            return parser.get(section, "url")
    return None


def object_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def has_object(cache: Path, md5: str) -> bool:
    return object_path(cache, md5).exists()


def _atomic_store(cache: Path, md5: str, write: Callable[[Any], None]) -> None:
    target = object_path(cache, md5)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".mlv-tmp-")
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


def hash_and_store_file(path: Path, cache: Path, progress: Progress | None = None) -> str:
    """md5 of PATH, with its content stored in the cache (DVC reads the data twice, hash then copy).

    Small files are read once into memory. Large files are hashed here while a worker thread has
    the kernel copy them (copy_file_range, no trip through Python); both reads hit the page cache
    once it is warm, so the two overlap on two cores.
    """
    size = path.stat().st_size
    if size <= SMALL_FILE:
        data = path.read_bytes()
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        _store_bytes(cache, md5, data)
        if progress:
            progress(len(data))
        return md5
    parent = cache / "files" / "md5"
    parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".mlv-tmp-")
    try:
        if size >= PARALLEL_COPY_MIN:
            os.close(fd)
            md5 = _hash_while_copying(path, Path(tmp), progress)
        else:
            md5 = _hash_and_copy(path, fd, progress)
        target = object_path(cache, md5)
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
    tmp = f"{target}.mlv-tmp-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, CACHE_FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _hash_and_copy(path: Path, fd: int, progress: Progress | None) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def _hash_while_copying(path: Path, tmp: Path, progress: Progress | None) -> str:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        copying = pool.submit(shutil.copyfile, path, tmp)
        md5 = hash_file(path, progress)
        copying.result()
    return md5


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
        with contextlib.redirect_stdout(io.StringIO()):  # DVC prints a welcome banner
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


def _cloud(root: Path, verb: str, md5s: Sequence[str], remote: str | None, failure: str) -> Any:
    """DVC's `repo.cloud.VERB` (push, pull or status) on objects by hash, errors as DvcError."""
    from dvc.exceptions import DvcException
    from dvc_data.hashfile.hash_info import HashInfo

    if remote is None and default_remote(root) is None:
        raise DvcError("no DVC remote is configured", hint="Add one with `dvc remote add -d NAME URL`.")
    try:
        with _open_repo(root) as repo:
            return getattr(repo.cloud, verb)([HashInfo("md5", md5) for md5 in md5s], remote=remote)
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


def fetch_objects(root: Path, md5s: Sequence[str], remote: str | None) -> int:
    """Download cache objects by hash from the DVC remote (a `.dir` brings its files); count fetched.

    Unlike `dvc fetch`, this needs no pointer file in the work tree, so it can fetch the data of
    any revision (`mlv reproduce`, `mlv checkout`, the git hooks).
    """
    if not md5s:
        return 0
    result = _cloud(root, "pull", md5s, remote, "dvc fetch failed")
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


def push_objects(root: Path, md5s: Sequence[str], remote: str | None) -> PushReport:
    """Upload cache objects by hash to the DVC remote (a `.dir` sends its files); skip those there.

    Unlike `dvc push`, this needs no pointer file in the work tree, so the pre-push hook and
    `mlv push` can send the data of every commit being pushed, not only of the checked-out one.
    """
    if not md5s:
        return PushReport(0, [])
    result = _cloud(root, "push", md5s, remote, "dvc push failed")
    return PushReport(len(result.transferred), sorted(h.value for h in result.failed))


def share_cache_with(worktree: Path, main_root: Path) -> None:
    """Make DVC in a linked WORKTREE use MAIN_ROOT's cache and remotes (in its `.dvc/config.local`).

    A new worktree has no `.dvc/cache` (it is git-ignored) and no `config.local`; without this,
    DVC there would see an empty cache and maybe no remote. Relative local remote URLs are made
    absolute because DVC resolves them against the config file's folder, which moved.
    """
    main = _read_dvc_config(main_root)
    out = configparser.ConfigParser(interpolation=None)
    for section in main.sections():
        name = section.strip("'")  # DVC writes ['remote "x"']; configparser keeps the quotes
        if not name.startswith('remote "'):
            continue
        out[name] = dict(main[section])
        url = out[name].get("url", "")
        if url and "://" not in url and not os.path.isabs(url):
            out[name]["url"] = str((main_root / ".dvc" / url).resolve())
    remote = default_remote(main_root)
    if remote:
        out["core"] = {"remote": remote}
    out["cache"] = {"dir": str(cache_dir(main_root).resolve())}
    target = worktree / ".dvc" / "config.local"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        out.write(handle)



def load_manifest_map(cache: Path, md5: str) -> dict[str, str] | None:
    """relpath -> md5 of a `.dir` object, or None when it is not in the cache.

    The same data as `load_manifest` without one object per entry: comparing two 10,000-file
    folders (`mlv diff`) then costs two JSON parses and two dict builds, about 3x less.
    """
    try:
        raw = object_path(cache, md5).read_bytes()
    except FileNotFoundError:
        return None
    try:
        return {d["relpath"]: d["md5"] for d in json.loads(raw)}
    except (ValueError, KeyError, TypeError):
        raise DvcError(
            f"cache object {md5} is corrupt (not a DVC folder manifest)",
            hint="Delete it from the cache and run `dvc fetch` to download it again.",
        ) from None


def missing_everywhere(root: Path, md5s: Sequence[str], remote: str | None) -> list[str]:
    """Which of MD5S (objects the local cache lacks) the DVC remote lacks too.

    DVC's push skips an object that is in neither place without counting it as failed, so a
    caller that must know the remote is complete asks this for the objects it could not send.
    """
    if not md5s:
        return []
    status = _cloud(root, "status", md5s, remote, "cannot query the DVC remote")
    return sorted(h.value for h in status.missing)
