"""The one walk of a tracked data path, shared by hashing, restoring, diffing and the git hooks.

Builtins only (os, and mlv.errors which is builtins-only too): the git hooks import this on their
fast path, where pathlib or re would cost more than the walk.

What a walk sees, as DVC sees it: regular files, and symlinks to files, which are followed; a
symlink to a folder inside a data folder is not descended into (DVC does not either). The tracked
path itself may be a symlink to a folder inside the repository. A cloned repository is untrusted
input, so a symlink leading outside the repository is refused rather than followed: following it
would store (and `mlv push` upload) whatever it points to, /etc/passwd or ~/.ssh included.

`follow_links=False` is the restore view: nothing is followed, a symlink is reported as itself
(with its lstat), so it can be refused or replaced but is never read through.
"""

from __future__ import annotations

import os
import stat
import zlib
from array import array

from mlv.data.ignore import IgnoreFilter
from mlv.errors import MlvError

TYPE_CHECKING = False  # typing and collections.abc cost milliseconds to import; mypy reads the block
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


class StatChecksum:
    """A checksum of the (inode, mtime, size) of every file and folder a walk yields: equal
    checksums mean nothing walked changed (the bet git's index and DVC's state database make on
    the same fields). Folder mtimes make a rename or a deleted file change it too.

    A change detector, not a content hash: two independent 32-bit checksums (zlib, builtin) and the
    count. A change confined to 32 consecutive bits (a new mtime within four seconds) always
    changes the CRC."""

    def __init__(self) -> None:
        self._values = array("q")

    def add(self, st: os.stat_result) -> None:
        self._values.extend((st.st_ino, st.st_mtime_ns, st.st_size))

    def digest(self) -> str:
        raw = self._values.tobytes()
        return f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}-{len(self._values)}"


class EscapingSymlinkError(MlvError):
    """A tracked path, or a file in a tracked folder, is a symlink leading outside the repository."""


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root if real_root.endswith("/") else real_root + "/")


def _allowed(real: str, real_root: str, also: tuple[str, ...]) -> bool:
    return _inside(real, real_root) or any(_inside(real, extra) for extra in also)


def _refuse(shown: str, real: str) -> EscapingSymlinkError:
    return EscapingSymlinkError(
        f"{shown} leads outside the repository through a symlink (to {real}); refusing to store "
        "data from outside the repository",
        hint="Replace the symlink with a copy of the data, or remove it.",
    )


def _followed(entry: os.DirEntry[str], shown: str, real_root: str,
              also: tuple[str, ...]) -> os.stat_result | None:
    """The stat of the file a symlink in a folder leads to; None to skip it (broken, or a folder)."""
    try:
        target = entry.stat()
    except OSError:
        return None  # a broken symlink: there is nothing to store, wherever it points
    real = os.path.realpath(entry.path)
    if not _allowed(real, real_root, also):
        raise _refuse(shown, real)
    # A symlink to a folder is skipped, as DVC skips it (and a loop of them cannot trap us).
    return target if stat.S_ISREG(target.st_mode) else None


def _top(root: str, path: str, base: str, follow_links: bool,
         also: tuple[str, ...]) -> tuple[os.stat_result, str]:
    """The stat of the tracked path itself, and the repository's real path when following."""
    st = os.lstat(base)
    if not follow_links:
        return st, ""
    real_root = os.path.realpath(root)
    # One realpath per tracked path: catches the path itself, or any folder above it, being a
    # symlink that leaves the repository.
    real = os.path.realpath(base)
    if not _allowed(real, real_root, also):
        raise _refuse(path or ".", real)
    return (os.stat(base) if stat.S_ISLNK(st.st_mode) else st), real_root


def _check_in(ignored: Callable[[str, bool], bool] | None, folder: str) -> Callable[[str, bool], bool] | None:
    """IGNORED for the entries of FOLDER (repository-relative), or None when no pattern applies there."""
    if isinstance(ignored, IgnoreFilter) and not ignored.applies_in(folder):
        return None
    return ignored


def walk(root: str, path: str, *, follow_links: bool = True, folders: bool = False,
         also_inside: tuple[str, ...] = (),
         ignored: Callable[[str, bool], bool] | None = None,
         followed: list[str] | None = None) -> Iterator[tuple[str, str, os.stat_result]]:
    """(relative path inside PATH, full path, stat) of every file under ROOT/PATH.

    PATH is relative to the repository ROOT; a file PATH yields itself with relative path "".
    FOLDERS adds each folder too (PATH itself as "", the others as "sub/"), for callers that
    notice a rename through folder mtimes. Raises FileNotFoundError when PATH does not exist and
    EscapingSymlinkError (naming the link) when following would leave the repository.

    ALSO_INSIDE: real paths of folders outside ROOT that a followed symlink may lead into (the DVC
    cache, when `cache.type` is symlink and `cache.dir` is elsewhere: its objects are data).
    IGNORED(repository-relative path, is_folder): True to leave a file or folder out, as
    `.dvcignore` does (a folder left out is not descended into).
    FOLLOWED: when given, gets the full path of each symlink followed (PATH itself included), for
    callers that must know a change elsewhere can change what they walked.

    Costs one stat per file, as `os.scandir` does anyway; only symlinks cost more (a realpath).
    """
    base = os.path.join(root, path) if path else root
    st, real_root = _top(root, path, base, follow_links, also_inside)
    if followed is not None and follow_links and (
            os.path.realpath(base) != (os.path.join(real_root, path) if path else real_root)):
        followed.append(base)  # PATH or a folder above it is a symlink (or PATH is not normalised)
    if not stat.S_ISDIR(st.st_mode):
        yield "", base, st
        return
    if folders:
        yield "", base, st
    stack = [(base, "")]
    while stack:
        folder, prefix = stack.pop()
        check = _check_in(ignored, f"{path}/{prefix}".rstrip("/") if path else prefix.rstrip("/"))
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if check is not None and check(f"{path}/{rel}" if path else rel,
                                               entry.is_dir(follow_symlinks=False)):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                    if folders:
                        yield rel + "/", entry.path, entry.stat(follow_symlinks=False)
                elif not follow_links or entry.is_file(follow_symlinks=False):
                    yield rel, entry.path, entry.stat(follow_symlinks=False)
                elif entry.is_symlink():
                    target = _followed(entry, f"{path}/{rel}" if path else rel, real_root, also_inside)
                    if followed is not None:
                        followed.append(entry.path)
                    if target is not None:
                        yield rel, entry.path, target
                # Else a socket, FIFO or device: not data (and reading a FIFO would block).
