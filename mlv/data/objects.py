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
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlv import cachefile
from mlv.adapters import dvc
from mlv.data.safe_write import SafeTree
from mlv.errors import DvcError

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
