"""DVC's cache: objects and `.dir` manifests, hashed and stored byte for byte as DVC 3 does.

The hot path (hashing and storing data on `mlv snapshot`) writes DVC's own formats directly, so
`dvc status`, `dvc checkout` and `dvc push` keep working on an mlv repo. Doing it here lets us hash
and store a file in one read (DVC reads it twice) and skip importing DVC (0.4 s) when nothing changed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mlv.adapters.dvc.pointers import ManifestEntry
from mlv.errors import DvcError, name_path
from mlv.process import is_alive

CHUNK = 1024 * 1024
CACHE_FILE_MODE = 0o444  # DVC protects cache objects read-only; so do we.
Progress = Callable[[int], None]  # called with the number of bytes just read


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
        if age > _ABANDONED_AFTER or (age > _STALE_AFTER and not is_alive(pid)):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed



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
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        name_path(exc, cache)
        raise


def hash_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


_TEXT_BYTES = bytes(range(32, 127)) + b"\n\r\t\f\b"


def dos2unix_md5(path: Path | str) -> str:
    """DVC 2's md5 of a file (`md5-dos2unix`): a text file (no NUL and at most 30% other control
    bytes in its first 512 bytes, dvc_data's istextblock) is hashed with CRLF read as LF."""
    with open(path, "rb") as handle:
        head = handle.read(512)
        text = b"\x00" not in head and (not head or len(head.translate(None, _TEXT_BYTES)) / len(head) <= 0.30)
        if not text:
            return hash_file(Path(path))
        handle.seek(0)
        data = handle.read()
    return hashlib.md5(data.replace(b"\r\n", b"\n"), usedforsecurity=False).hexdigest()


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
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        name_path(exc, cache)
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
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        name_path(exc, cache)
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
    """True when the cache object's content still hashes to its name (an object in DVC 2's layout
    may be named by DVC 2's hash, which reads a text file's CRLF as LF)."""
    path = object_path(cache, md5)
    if md5.endswith(".dir"):
        return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() + ".dir" == md5
    if hash_file(path) == md5:
        return True
    return path != new_object_path(cache, md5) and dos2unix_md5(path) == md5


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


_MD5_LINES = re.compile(r"(?:[0-9a-f]{32}\n)*")


def manifest_may_name(cache: Path, md5: str, suffix: str) -> bool:
    """Whether the `.dir` object MD5 may list a file whose name ends in SUFFIX (plain ASCII).

    A substring test on the raw bytes, before paying for a JSON parse of a 100,000-entry manifest:
    False only when SUFFIX cannot be there (not in the bytes, and no JSON escape could spell it);
    True (and a missing object) leaves the answer to `load_manifest_map`, which verifies it.
    """
    try:
        raw = object_path(cache, md5).read_bytes()
    except FileNotFoundError:
        return True
    return suffix.encode() in raw or b"\\u" in raw


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
