"""Write DVC cache objects into a work tree: verified, atomically, by reflink or copy.

Why never a hardlink or symlink: we run as root, so the 0444 mode of a cache object does not stop
a training command from writing through a link into the cache and corrupting every experiment that
shares the object. A reflink (copy-on-write clone, on btrfs/XFS) shares blocks safely; elsewhere we
copy with copy_file_range, which stays in the kernel.

Verification: every object is hashed before it is written out; a large one (1 MiB and up) only
once, its (inode, mtime, ctime, size) remembered, and trusted while that stat is unchanged, the
same bet git's index makes. ctime cannot be set by a
program, so any write to the object (even one that restores its mtime) forces a re-hash.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mlv.adapters import dvc
from mlv.errors import DvcError

_FICLONE = 0x40049409  # linux/fs.h: clone a whole file (reflink)
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EPERM}
_VERSION = 1
# Below this size an object is simply hashed each time it is restored (microseconds); only large
# ones are remembered, which keeps the trust file small enough to load in no time.
TRUST_MIN_BYTES = 1024 * 1024


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what a plain `open(path, "w")` would have created


@dataclass
class ObjectTrust:
    """Cache objects whose content has been hashed, keyed by object path -> stat signature."""

    path: Path
    entries: dict[str, list[int]] = field(default_factory=dict)
    dirty: bool = False

    @classmethod
    def load(cls, path: Path) -> ObjectTrust:
        try:
            doc = json.loads(path.read_text("utf-8"))
            if doc.get("version") == _VERSION and isinstance(doc.get("entries"), dict):
                return cls(path, doc["entries"])
        except (OSError, ValueError, AttributeError):
            pass  # losing this file only costs a re-hash
        return cls(path)

    def verify(self, cache: Path, md5: str) -> bool:
        """True when the object's content hashes to MD5 (hashing only if its stat changed)."""
        key = f"{cache}/files/md5/{md5[:2]}/{md5[2:]}"  # = dvc.object_path, without pathlib's cost
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
        if not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": _VERSION, "entries": self.entries}), "utf-8")
        os.replace(tmp, self.path)
        self.dirty = False


def corrupt_object_error(cache: Path, md5: str, target: str) -> DvcError:
    return DvcError(
        f"cache object {md5} for {target} does not match its hash (corrupt cache file "
        f"{dvc.object_path(cache, md5)}); nothing was restored",
        hint="Delete that cache file and run `dvc fetch` (or `mlv pull`) to download it again.",
    )


def _clone_or_copy(src: int, dst: int, size: int) -> None:
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


TEMP_MARK = ".mlv-tmp-"  # in the names of half-written files; a restore removes any it finds


def write_object_at(source: str, target: str) -> os.stat_result:
    """Copy the cache file SOURCE to TARGET atomically. Plain strings: this runs for every file."""
    folder, name = os.path.split(target)
    tmp = f"{folder}/.{name}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _clone_or_copy(src, fd, os.fstat(src).st_size)
        finally:
            os.close(src)
        os.fchmod(fd, FILE_MODE)
        os.close(fd)
        fd = -1
        # os.replace swaps a symlink itself, never the file it points to.
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return os.stat(target)
