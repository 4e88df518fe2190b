"""Write and delete data files inside a work tree without ever following a symlink out of it.

A cloned repository is untrusted: a commit can add a symlink `g -> .git` or `data -> /etc` and a
pointer or record that names `g/config`. Checking paths once, before `git checkout` brings such a
symlink in, is not enough, so every write and delete is checked again as it happens, by the
kernel: the work tree's folder is opened once, each folder below it is opened from its parent's
file descriptor with O_NOFOLLOW (a symlink fails to open instead of being followed) and created
the same way when missing, and the file itself is written to a new temporary name (O_EXCL,
O_NOFOLLOW) in that folder and renamed over the final name (a rename replaces a symlink, never
the file it points to). No path string is resolved after the check, so nothing can be swapped in
between the check and the write.

`link_at` writes a symlink or hardlink into the DVC cache (`cache.type`) the same way: a new link
under a temporary name, renamed over the final one, and only to a regular file that is really
inside the cache folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from mlv.data.pathsafety import symlink_error
from mlv.errors import MlvError

TEMP_MARK = ".mlv-tmp-"  # in the names of half-written files; a restore removes any it finds


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what a plain `open(path, "w")` would have created

Copier = Callable[[int, int, int], None]  # (source fd, target fd, size): see objects.clone_or_copy

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_A_DIR = (errno.ELOOP, errno.ENOTDIR)
# The failures after which DVC tries the next `cache.type` (dvc_objects.fs.generic._try_links):
# this kind of link cannot be made here (another file system, no support), not a broken disk.
LINK_FALLBACK_ERRNOS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.ENOTTY, errno.ENOSYS,
                                  errno.EINVAL, errno.EAGAIN})
PROTECTED_MODE = 0o444  # DVC's mode for cache objects (dvc_data LocalHashFileDB.CACHE_MODE)

# A full disk or a read-only folder is the machine's state, not a bug: say which path and what to do.
_OS_HINTS = {
    errno.ENOSPC: "Free some disk space, then run the command again.",
    errno.EDQUOT: "A disk quota is exceeded; free some space, then run the command again.",
    errno.EROFS: "That file system is read-only; make it writable, then run the command again.",
    errno.EACCES: "Check the permissions of that folder, then run the command again.",
    errno.EPERM: "Check the permissions of that folder, then run the command again.",
}


def _os_failure(exc: OSError, path: str, verb: str = "write") -> OSError | MlvError:
    """An OSError from the machine (full disk, read-only) as one line naming PATH."""
    hint = _OS_HINTS.get(exc.errno or 0)
    if hint is None:
        if exc.filename is None:
            exc.filename = path
        return exc
    return MlvError(f"cannot {verb} {path}: {exc.strerror or exc.__class__.__name__}", hint=hint)


class SafeTree:
    """A work tree opened once; every write and delete below it goes through folder descriptors."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)  # ROOT itself is ours (the work tree, or the pool)
            self.fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise _os_failure(exc, str(root)) from None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> SafeTree:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- folders ---------------------------------------------------------------------------------

    def open_dir(self, rel: str, *, create: bool, what: str = "data path") -> int | None:
        """A new descriptor of folder REL (created if CREATE), or None when it does not exist.

        Each component is opened from its parent's descriptor with O_NOFOLLOW: a symlink anywhere
        on the way is refused, never followed.
        """
        current = os.dup(self.fd)
        if not rel:
            return current
        parts = rel.split("/")
        try:
            for index, part in enumerate(parts):
                child = self._open_child(current, part, create, rel, "/".join(parts[:index + 1]), what)
                os.close(current)
                current = -1
                if child is None:
                    return None
                current = child
            return current
        except BaseException:
            if current >= 0:
                os.close(current)
            raise

    def _open_child(self, parent: int, name: str, create: bool, rel: str, shown: str, what: str) -> int | None:
        for _attempt in range(3):  # a concurrent writer may create the folder between our calls
            try:
                return os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(name, 0o777, dir_fd=parent)
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise _os_failure(exc, f"{self.root}/{shown}") from None
            except OSError as exc:
                if exc.errno not in _NOT_A_DIR:
                    raise _os_failure(exc, f"{self.root}/{shown}") from None
                st = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    raise symlink_error(self.root, rel, shown, what) from None
                raise MlvError(f"cannot restore {rel}: the file {shown} is in the way of a folder",
                               hint="Move that file away, then run the command again.") from None
        raise MlvError(f"cannot restore {rel}: the folder {shown} keeps changing while it is written")

    # -- files -----------------------------------------------------------------------------------

    def write_at(self, folder: int, name: str, source: str, shown: str,
                 copy: Copier) -> os.stat_result:
        """Copy the file SOURCE to NAME in the open FOLDER atomically; SHOWN names it in errors."""
        tmp = f".{name}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}"
        fd = -1
        try:
            fd = os.open(tmp, _NEW_FILE_FLAGS, 0o600, dir_fd=folder)
            src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
            try:
                copy(src, fd, os.fstat(src).st_size)
            finally:
                os.close(src)
            os.fchmod(fd, FILE_MODE)
            os.close(fd)
            fd = -1
            # A rename replaces a symlink (or anything) at NAME itself, never what it points to.
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
            return os.stat(name, dir_fd=folder, follow_symlinks=False)
        except BaseException as exc:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            if isinstance(exc, OSError):
                raise _os_failure(exc, f"{self.root}/{shown}") from None
            raise

    def link_at(self, folder: int, name: str, kind: str, target: str, cache: str,
                shown: str) -> os.stat_result:
        """Make NAME in the open FOLDER a KIND ("symlink" or "hardlink") of the cache object TARGET.

        TARGET must be a regular file inside the folder CACHE (both resolved, so a symlinked
        object or cache folder cannot lead elsewhere). The object is made read-only first, as DVC
        protects it: a command that writes in place then fails instead of corrupting the cache
        (except as root, which no file mode stops; so DVC's advice holds: `dvc unprotect` before
        editing). Returns the stat of the object, the content the work tree now shows. An OSError
        whose errno is in LINK_FALLBACK_ERRNOS is raised as it is: DVC then tries the next type.
        """
        real = self._cache_object(target, cache, shown)
        _protect(real)
        tmp = f".{name}{TEMP_MARK}{os.getpid()}-{threading.get_ident()}"
        try:
            if kind == "symlink":
                # DVC writes the object's absolute path, unresolved (`dvc checkout --relink` checks it).
                os.symlink(os.path.abspath(target), tmp, dir_fd=folder)
            elif kind == "hardlink":
                os.link(real, tmp, dst_dir_fd=folder, follow_symlinks=False)
            else:
                raise ValueError(f"not a link type: {kind}")
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
            return os.stat(real)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            if isinstance(exc, OSError) and exc.errno not in LINK_FALLBACK_ERRNOS:
                raise _os_failure(exc, f"{self.root}/{shown}") from None
            raise

    @staticmethod
    def _cache_object(target: str, cache: str, shown: str) -> str:
        real = os.path.realpath(target)
        base = os.path.realpath(cache)
        try:
            regular = stat.S_ISREG(os.stat(real).st_mode)
        except OSError:
            regular = False
        if not real.startswith(base.rstrip("/") + "/") or not regular:
            raise MlvError(f"cannot link {shown} to {target}: it is not a file in the DVC cache {cache}; "
                           "nothing was linked",
                           hint=f"Delete {target} and download it again with `mlv pull` or `dvc fetch`.")
        return real

    def unlink(self, rel: str, what: str = "data path") -> None:
        """Delete the file (or symlink itself) REL; a missing one is fine, a symlinked folder is not."""
        folder, _, name = rel.rpartition("/")
        fd = self.open_dir(folder, create=False, what=what)
        if fd is None:
            return
        try:
            os.unlink(name, dir_fd=fd)
        except FileNotFoundError:
            pass  # a hook may have been first
        except OSError as exc:
            raise _os_failure(exc, f"{self.root}/{rel}", "delete") from None
        finally:
            os.close(fd)

    def prune_empty_dirs(self, rel: str) -> None:
        """Remove folders left empty at and under REL, never entering a symlink."""
        folder, _, name = rel.rpartition("/")
        try:
            fd = self.open_dir(folder, create=False)
        except MlvError:
            return  # nothing of ours to prune behind a symlink
        if fd is None:
            return
        try:
            _prune(fd, name)
        finally:
            os.close(fd)


def _protect(path: str) -> None:
    """Make a cache object read-only, as DVC does before it links one; a file system that refuses
    (a shared cache owned by someone else, Samba) is not fatal to DVC, nor to us."""
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.stat(path).st_mode) != PROTECTED_MODE:
            os.chmod(path, PROTECTED_MODE)


def _prune(parent: int, name: str) -> None:
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError:
        return  # gone, a file, or a symlink: not a folder of ours
    try:
        with os.scandir(fd) as entries:
            children = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        for child in children:
            _prune(fd, child)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):  # not empty: it still holds wanted files
        os.rmdir(name, dir_fd=parent)
