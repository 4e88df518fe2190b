"""The one exception family mlv raises for anything a user can act on.

The CLI catches `MlvError` in a single place and prints `error: <message>` (plus the hint) as one
line on stderr, then exits with `exit_code`. Core modules raise it with a message prepared where
the problem is understood, so the CLI never has to guess what went wrong.
"""

from __future__ import annotations

# Documented exit codes (docs/reference/exit-codes.md).
EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_CANNOT_RUN = 2
EXIT_UNEXPECTED = 3
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what git and shells report when the reader goes away


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


class Interrupted(MlvError):  # noqa: N818 - reads naturally at raise sites: `raise Interrupted(...)`
    """The user pressed Ctrl-C; the operation was rolled back."""

    exit_code = EXIT_INTERRUPTED
