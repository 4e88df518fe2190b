"""The one exception family mlv raises for anything a user can act on, and the one way from an
exception to an exit code and a line on stderr.

Core modules raise `MlvError` with a message prepared where the problem is understood. The CLI
(`mlv.cli.errors`) and the git hook runtime (`mlv.hooks.run`) both turn any exception into output
through `failure()`, so a given failure exits with the same code and the same words everywhere.
This module imports nothing beyond builtins: the hooks load it on every commit.
"""

from __future__ import annotations

import errno
import os

# Documented exit codes (docs/reference/exit-codes.md).
EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_CANNOT_RUN = 2
EXIT_UNEXPECTED = 3
EXIT_USAGE = 64  # sysexits.h EX_USAGE: a wrong option or argument; click's own 2 is `reproduce could not run`
# Refused because something is not trusted: a DVC remote URL this clone's user has not trusted
# (nothing was sent there), or a registry version whose tag disagrees with its record or is unsigned
# under a signing policy (nothing was written or deployed).
EXIT_UNTRUSTED = 6
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what git and shells report when the reader goes away

DEBUG_VARIABLE = "MLV_DEBUG"


def debugging() -> bool:
    """`MLV_DEBUG=1`: an unexpected error (a bug in mlv) also shows its traceback, in the CLI and
    in the git hooks alike."""
    return os.environ.get(DEBUG_VARIABLE) == "1"


class MlvError(Exception):
    """A failure the user can fix; `hint` says how."""

    exit_code: int = EXIT_USER_ERROR

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def one_line(self) -> str:
        """The message and hint on one line, as printed by the CLI."""
        text = self.message.rstrip(".")
        return f"{text}. {self.hint}" if self.hint else f"{text}."

    def with_context(self, prefix: str = "", suffix: str = "", hint: str | None = None) -> MlvError:
        """The same error (same class, exit code and attributes) with words added around its
        message, for callers that know what the failure interrupted."""
        # Not copy.copy: it rebuilds the exception as `cls(*args)`, which fails for a subclass whose
        # constructor takes more than the message (UnsafePathError's `absolute`).
        clone = self.__class__.__new__(self.__class__)
        clone.__dict__.update(self.__dict__)
        clone.message = f"{prefix}{self.message.rstrip('.')}{suffix}"
        clone.args = (clone.message,)
        if hint is not None:
            clone.hint = hint
        return clone


class MlvWarning(UserWarning):
    """Something the user should know that does not stop the command; the CLI prints it as one
    `warning:` line, and Python callers get it through the `warnings` module."""


class GitError(MlvError):
    """git is missing, the folder is not a repository, or a git command failed."""


class DvcError(MlvError):
    """The DVC cache, a pointer file or a DVC remote is not usable."""


class ConfigError(MlvError):
    """mlv's configuration, or a params/metrics file, cannot be read."""


class NotAnExperimentError(MlvError):
    """A revision exists but carries no mlv experiment record."""


class CommandFailedError(MlvError):
    """The experiment command could not be started or exited non-zero."""


class UntrustedRemoteError(DvcError):
    """A DVC remote whose URL the user has not trusted in this clone; nothing was sent to it."""

    exit_code = EXIT_UNTRUSTED

    def __init__(self, message: str, hint: str | None = None, *, name: str = "", url: str = "",
                 previous: str | None = None):
        super().__init__(message, hint)
        self.name = name
        self.url = url
        self.previous = previous


class UnsafeFileError(MlvError):
    """A file whose contents mlv would copy into a record or commit is a symlink (or lies behind
    one) that leads out of the work tree; it was not read."""


class Interrupted(MlvError):  # noqa: N818 - reads naturally at raise sites: `raise Interrupted(...)`
    """The user pressed Ctrl-C; the operation was rolled back."""

    exit_code = EXIT_INTERRUPTED


def failure(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line (without a prefix) that report EXC.

    Anything that is not an MlvError, Ctrl-C or a fault of the machine is a bug in mlv (exit 3),
    whose line says how to see the traceback. A disk that is full or read-only is not a bug: it
    gets one line naming the path.
    """
    if isinstance(exc, MlvError):
        return exc.exit_code, f"error: {exc.one_line()}"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "error: interrupted."
    if isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS:
        where = f": {exc.filename}" if exc.filename else ""
        what = exc.strerror or exc.__class__.__name__
        return EXIT_USER_ERROR, f"error: {what}{where}. {_ENVIRONMENT_ERRNOS[exc.errno]}"
    first = (str(exc).splitlines() or [""])[0]
    return EXIT_UNEXPECTED, (f"error: unexpected {exc.__class__.__name__}: {first} "
                             f"(a bug in mlv; rerun with {DEBUG_VARIABLE}=1 to see the traceback, and report it).")


def name_path(exc: BaseException, path: object) -> None:
    """Make an OSError that names no file name PATH: `write()` on a full disk names none, and
    "No space left on device" alone does not say which disk to free."""
    if isinstance(exc, OSError) and exc.filename is None:
        exc.filename = str(path)


# OS failures that come from the machine, not from mlv: errno -> what to do.
_ENVIRONMENT_ERRNOS = {
    errno.EACCES: "Check the permissions of that path, then run the command again.",
    errno.EPERM: "Check the permissions of that path, then run the command again.",
    errno.ENOSPC: "Free some disk space, then run the command again.",
    errno.EROFS: "That file system is read-only; make it writable or point mlv elsewhere.",
    errno.EDQUOT: "A disk quota is exceeded; free some space, then run the command again.",
}
