"""Write DVC cache objects into a work tree: verified, atomically, as DVC's `cache.type` asks.

By default (DVC's default `reflink,copy`) a reflink (copy-on-write clone, on btrfs/XFS) shares
blocks safely; elsewhere we copy with copy_file_range, which stays in the kernel. When DVC's config
asks for `symlink` or `hardlink`, the work tree gets links into the cache, each type tried in the
configured order with DVC's fallbacks (see `Linker`). A link shares the cache object itself: the
object is made read-only as DVC does, which stops a command that writes in place, unless it runs as
root. So only the commands that work in the user's own work tree (checkout, pull, the git hooks)
honour `cache.type`; `mlv reproduce` always copies, so a re-run cannot write into the cache.

Verification: every object is hashed before it is written out; a large one (1 MiB and up) only
once, its (inode, mtime, ctime, size) remembered, and trusted while that stat is unchanged, the
same bet git's index makes. ctime cannot be set by a
program, so any write to the object (even one that restores its mtime) forces a re-hash.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlv import cachefile
from mlv.adapters import dvc
from mlv.data.safe_write import LINK_FALLBACK_ERRNOS, TEMP_MARK, SafeTree
from mlv.errors import DvcError, MlvError

_FICLONE = 0x40049409  # linux/fs.h: clone a whole file (reflink)
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM}
_VERSION = 1
# Below this size an object is simply hashed each time it is restored (microseconds); only large
# ones are remembered, which keeps the trust file small enough to load in no time.
TRUST_MIN_BYTES = 1024 * 1024


@dataclass
class ObjectTrust:
    """Cache objects whose content has been hashed, keyed by object path -> stat signature."""

    path: Path
    entries: dict[str, list[int]] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> ObjectTrust:
        entries = (cachefile.read(path, _VERSION) or {}).get("entries")  # lost: only a re-hash
        return cls(path, entries) if isinstance(entries, dict) else cls(path)

    def verify(self, cache: Path, md5: str) -> bool:
        """True when the object's content hashes to MD5 (hashing only if its stat changed)."""
        key = dvc.object_file(cache, md5)
        st = os.stat(key)
        signature = [st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size]
        if self.entries.get(key) == signature:
            return True
        if not dvc.verify_object(cache, md5):
            return False
        if st.st_size < TRUST_MIN_BYTES:
            return True  # hashing it again is cheaper than remembering it
        self.entries[key] = signature
        self.dirty = True
        return True

    def save(self) -> None:
        if self.dirty and cachefile.write(self.path, {"entries": self.entries}, _VERSION):
            self.dirty = False


def corrupt_object_error(cache: Path, md5: str, target: str) -> DvcError:
    return DvcError(
        f"cache object {md5} for {target} does not match its hash (corrupt cache file "
        f"{dvc.object_path(cache, md5)}); nothing was restored",
        hint="Delete that cache file and run `dvc fetch` (or `mlv pull`) to download it again.",
    )


def clone_or_copy(src: int, dst: int, size: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(dst, _FICLONE, src)
        return
    offset = 0
    try:
        while offset < size:
            copied = os.copy_file_range(src, dst, size - offset)
            if copied == 0:
                break
            offset += copied
    except OSError as exc:
        if exc.errno not in _NO_CLONE:
            raise
        os.lseek(src, offset, os.SEEK_SET)
        os.lseek(dst, offset, os.SEEK_SET)
        with os.fdopen(os.dup(src), "rb") as fsrc, os.fdopen(os.dup(dst), "wb") as fdst:
            shutil.copyfileobj(fsrc, fdst, 1024 * 1024)


def write_object(tree: SafeTree, folder: int, name: str, md5: str, cache: Path, shown: str) -> os.stat_result:
    """Write cache object MD5 as NAME in TREE's open FOLDER (atomically, never through a symlink)."""
    return tree.write_at(folder, name, dvc.object_file(cache, md5), shown, clone_or_copy)


class _NoReflinkError(Exception):
    """A reflink cannot be made here: DVC tries the next `cache.type`."""


def reflink_only(src: int, dst: int, size: int) -> None:
    """`cache.type = reflink`: a copy-on-write clone or nothing (DVC does not copy instead)."""
    try:
        fcntl.ioctl(dst, _FICLONE, src)
    except OSError as exc:
        if exc.errno in LINK_FALLBACK_ERRNOS:
            raise _NoReflinkError(exc.strerror) from None
        raise


COPIES = ("reflink", "copy")  # DVC's default `cache.type`: what every copying caller gets


class Linker:
    """Writes cache objects the way DVC's `cache.type` asks: each type in order, and a type that
    cannot be made here (another file system, no support) is dropped for the rest of the restore,
    as DVC drops it (dvc_objects.fs.generic._try_links)."""

    def __init__(self, kinds: Sequence[str] = COPIES) -> None:
        self.kinds = list(kinds)
        self._lock = threading.Lock()  # the restore's writer threads share one Linker

    def write(self, tree: SafeTree, folder: int, name: str, md5: str, cache: Path,
              shown: str) -> os.stat_result:
        """Write object MD5 as NAME in TREE's open FOLDER with the first type that works."""
        target = dvc.object_file(cache, md5)
        for kind in list(self.kinds):
            try:
                return self._write_as(kind, tree, folder, name, target, cache, shown)
            except _NoReflinkError:
                pass
            except OSError as exc:
                if kind == "copy" or exc.errno not in LINK_FALLBACK_ERRNOS:
                    raise
            with self._lock:
                if kind in self.kinds:
                    self.kinds.remove(kind)
        raise no_link_type_error(shown, cache, changed=True)

    @staticmethod
    def _write_as(kind: str, tree: SafeTree, folder: int, name: str, target: str, cache: Path,
                  shown: str) -> os.stat_result:
        if kind == "copy":
            return tree.write_at(folder, name, target, shown, clone_or_copy)
        if kind == "reflink":
            return tree.write_at(folder, name, target, shown, reflink_only)
        if kind == "hardlink" and os.stat(target).st_size == 0:
            # DVC writes an empty file instead: every empty file has the same md5, and one object
            # with thousands of links would hit the file system's link limit.
            return tree.write_at(folder, name, target, shown, clone_or_copy)
        return tree.link_at(folder, name, kind, target, os.fspath(cache), shown)

    def probe(self, tree: SafeTree, md5: str, cache: Path) -> None:
        """Keep only the types that work from CACHE to TREE's folder, trying each with object MD5
        under a temporary name, as DVC tests them before a checkout; refuse when none does, before
        anything is written."""
        working = []
        for kind in self.kinds:
            if kind == "copy":
                working.append(kind)
                continue
            folder = tree.open_dir("", create=False)
            if folder is None:  # cannot happen: the tree's own folder is open
                break
            probe_name = f"{TEMP_MARK}probe-{os.getpid()}-{threading.get_ident()}"
            try:
                self._write_as(kind, tree, folder, probe_name, dvc.object_file(cache, md5), cache, probe_name)
                working.append(kind)
            except _NoReflinkError:
                pass
            except OSError as exc:
                if exc.errno not in LINK_FALLBACK_ERRNOS:
                    raise
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(probe_name, dir_fd=folder)
                os.close(folder)
        if not working:
            raise no_link_type_error(str(tree.root), cache, self.kinds)
        self.kinds = working


def no_link_type_error(shown: str, cache: Path, kinds: Sequence[str] = (), *, changed: bool = False) -> MlvError:
    """DVC's "No possible cache link types" as one line (CHANGED: some files were written already)."""
    tried = f" ({','.join(kinds)})" if kinds else ""
    outcome = "" if changed else "; nothing was changed"
    return MlvError(
        f"cannot restore data into {shown}: no link type of DVC's cache.type{tried} can be made "
        f"from the DVC cache {cache} there{outcome}",
        hint="Add copy as the last choice (`dvc config cache.type reflink,hardlink,copy`), "
        "or move the cache to the same file system (`dvc cache dir`).")



def unlink_from_cache(root: Path, paths: Sequence[str]) -> list[str]:
    """Make every file under PATHS that is a link into ROOT's DVC cache a private copy; their paths.

    `cache.type: symlink` or `hardlink` leaves a restored file sharing the cache object itself:
    a command that opens it with "w" would write into the object (root ignores its read-only
    mode) and corrupt every experiment that pins it. DVC removes a stage's outputs before it runs
    the stage; a private copy does the same for the cache, and the command still finds the files
    it would find under `cache.type: copy` (a fine-tuning script reads the previous model).
    """
    from mlv.data.walk import walk

    cache = dvc.cache_dir(root)
    if not cache.is_dir():
        return []
    base = os.path.realpath(cache)
    replaced: list[str] = []
    with SafeTree(root) as tree:
        for rel in paths:
            pinned = _pinned_objects(root, cache, rel)
            try:
                found = list(walk(os.fspath(root), rel, follow_links=False))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for sub, full, st in found:
                key = f"{rel}/{sub}" if sub else rel
                source = _cache_object_behind(full, st, base, pinned.get(key), cache)
                if source is None:
                    continue
                folder, _, name = key.rpartition("/")
                fd = tree.open_dir(folder, create=False, what="output")
                if fd is None:
                    continue
                try:
                    tree.write_at(fd, name, source, key, clone_or_copy)
                finally:
                    os.close(fd)
                replaced.append(key)
    return replaced


def _pinned_objects(root: Path, cache: Path, rel: str) -> dict[str, str]:
    """Work-tree path -> md5 of each file REL's pointer file in the work tree pins (empty when
    there is none, or it cannot be read: then only symlinks are recognised)."""
    try:
        pointer = dvc.parse_pointer((root / dvc.pointer_path(rel)).read_bytes(), dvc.pointer_path(rel))
    except (OSError, MlvError):
        return {}
    if not pointer.is_dir:
        return {rel: pointer.md5}
    try:
        listing = dvc.load_manifest_map(cache, pointer.md5) or {}
    except MlvError:
        return {}
    return {f"{rel}/{sub}": md5 for sub, md5 in listing.items()}


def _cache_object_behind(full: str, st: os.stat_result, base: str, md5: str | None,
                         cache: Path) -> str | None:
    """The cache object FULL shares (a symlink into the cache, or a hardlink of the object MD5
    its pointer pins), else None."""
    if stat.S_ISLNK(st.st_mode):
        real = os.path.realpath(full)
        return real if real.startswith(base.rstrip("/") + "/") and os.path.isfile(real) else None
    if not stat.S_ISREG(st.st_mode) or st.st_nlink < 2 or md5 is None:
        return None
    obj = dvc.object_file(cache, md5)
    try:
        ost = os.stat(obj)
    except OSError:
        return None
    return obj if (ost.st_dev, ost.st_ino) == (st.st_dev, st.st_ino) else None
