"""Refuse paths from a record or a manifest that would make mlv write outside a work tree.

A record, a pointer or a `.dir` manifest may come from someone else's commit, so its paths are
untrusted input: an absolute path, a `..` that climbs out, a path into `.git/` or `.dvc/`, or a
symlink in the work tree (even one pointing inside it: `g -> .git`) could all turn a restore into
a write anywhere on the machine. These checks refuse early, with a clear message; the writes
themselves (mlv.data.safe_write) enforce the symlink rule again, in the kernel, as they happen.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from pathlib import Path

from mlv.adapters.paths import reserved_component
from mlv.errors import MlvError


class UnsafePathError(MlvError):
    """A path would lead outside the work tree (`absolute`: it is absolute, else it climbs out)."""

    def __init__(self, message: str, absolute: bool) -> None:
        super().__init__(message)
        self.absolute = absolute


_PLAIN = re.compile(r"[^/\\\0]+(/[^/\\\0]+)*")


def safe_relpath(value: str, what: str) -> str:
    """VALUE as a normalised posix path that stays inside its base folder, else UnsafePathError."""
    # Fast path (this runs for every file of a folder manifest): a plain relative path with no
    # `.` or `..` component is already normal and safe.
    if isinstance(value, str) and _PLAIN.fullmatch(value) and not any(
            part in (".", "..") for part in value.split("/")):
        return value
    if not isinstance(value, str) or not value or value.startswith(("/", "\\")) or os.path.isabs(value):
        raise UnsafePathError(f"{what} {value!r} is an absolute path; refusing to write outside the worktree",
                              absolute=True)
    norm = posixpath.normpath(value.replace("\\", "/"))
    if norm in (".", "..") or norm.startswith("../") or "\0" in norm:
        raise UnsafePathError(f"{what} {value!r} climbs out of the repository; refusing to write there",
                              absolute=False)
    return norm


def check_no_escaping_symlink(root: Path, rel: str, what: str) -> None:
    """Refuse when an existing component of REL under ROOT is a symlink leading out of ROOT."""
    real_root = root.resolve()
    current = root
    for part in rel.split("/"):
        current = current / part
        if not current.is_symlink():
            if not current.exists():
                return  # nothing further down can be a symlink yet
            continue
        target = current.resolve()
        if target != real_root and real_root not in target.parents:
            raise UnsafePathError(
                f"{what} {rel!r} goes through the symlink {current.relative_to(root).as_posix()} "
                f"which points outside the repository; refusing to write there",
                absolute=False,
            )


def checked_path(root: Path, value: str, what: str, *, file_may_be_link: bool = False) -> str:
    """A data path mlv may write: `data_path`, and no existing component under ROOT is a symlink.

    FILE_MAY_BE_LINK: the path names a file, which may itself be a symlink (`cache.type: symlink`
    leaves one into the cache, and a user may link a file). A restore replaces it by renaming over
    it in its folder, which never writes through it; only the folders above must be real.
    """
    rel = data_path(value, what)
    check_no_symlink(root, rel, what, folders_only=file_may_be_link)
    return rel


def data_path(value: str, what: str) -> str:
    """VALUE as a safe relative data path: inside the tree and not inside `.git/` or `.dvc/`."""
    rel = safe_relpath(value, what)
    part = reserved_component(rel)
    if part is not None:
        raise UnsafePathError(f"{what} {value!r} is inside {part}/, which belongs to "
                              f"{'git' if part.casefold() == '.git' else 'DVC'}; refusing to write there",
                              absolute=False)
    return rel


def symlink_error(root: Path, rel: str, link: str, what: str) -> UnsafePathError:
    """The refusal for REL under ROOT going through the symlink LINK (relative to ROOT)."""
    try:
        target = os.readlink(os.path.join(root, link))
        resolved = (root / link).resolve()
        real_root = root.resolve()
        inside = resolved == real_root or real_root in resolved.parents
        where = f"to {target!r}" if inside else f"outside the repository ({target!r})"
    except OSError:
        where = "somewhere else"
    return UnsafePathError(f"{what} {rel!r} goes through the symlink {link}, which points {where}; "
                           "refusing to write through a symlink", absolute=False)


def check_no_symlink(root: Path, rel: str, what: str, *, folders_only: bool = False) -> None:
    """Refuse when an existing component of REL under ROOT is a symlink (lstat, never followed);
    FOLDERS_ONLY: the last component may be one."""
    current = str(root)
    parts = rel.split("/")
    for index, part in enumerate(parts[:-1] if folders_only else parts):
        current = f"{current}/{part}"
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            return  # nothing further down exists; the write re-checks as it creates folders
        if stat.S_ISLNK(st.st_mode):
            raise symlink_error(root, rel, "/".join(parts[:index + 1]), what)


def read_inside(root: Path, rel: str, limit: int, what: str) -> bytes:
    """At most LIMIT + 1 bytes of the regular file ROOT/REL, read only if it is in the work tree.

    A params, metrics or `.gitignore` file is copied into a record or a commit, and it comes from
    the repository: a symlink committed as `params.yaml -> ~/.aws/credentials` would publish the
    credentials. So the path is resolved first and refused (UnsafeFileError, nothing read) when
    it leads out of ROOT or into `.git`; a FIFO or device is refused without blocking on it.
    FileNotFoundError when it does not exist.
    """
    from mlv.errors import UnsafeFileError

    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, rel))
    inside = os.path.relpath(real, base)
    if inside == ".." or inside.startswith(("../", "/")) or inside.split("/")[0] == ".git":
        raise UnsafeFileError(f"{what} {rel!r} is a symlink that leads out of the work tree (to {real}); "
                              "it was not read, and nothing was written",
                              hint="Replace the symlink with the file itself (`cp --remove-destination`).")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafeFileError(f"{what} {rel!r} is not a regular file; it was not read",
                                  hint="Replace it with a regular file.")
        chunks = []
        left = limit + 1
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
