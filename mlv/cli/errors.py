"""The one place the command line turns an exception into a line on stderr and an exit code.

The mapping itself is `mlv.errors.failure`, shared with the git hooks; this module only adds what
is particular to a terminal: the traceback of a bug (`MLV_DEBUG=1` or `--traceback`), and a reader
that went away (`mlv log | head`).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from mlv.errors import EXIT_BROKEN_PIPE, debugging, failure
from mlv.text import visible

_show_traceback = False


def show_tracebacks(enabled: bool) -> None:
    """Set once per invocation from the global `--traceback` option."""
    global _show_traceback  # noqa: PLW0603 - one process-wide switch set once per invocation
    _show_traceback = enabled


@contextmanager
def handle_errors() -> Iterator[None]:
    """Map every failure to one line on stderr and a documented exit code."""
    try:
        yield
    except typer.Exit:
        raise
    except BrokenPipeError:
        _quiet_broken_pipe()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the last line of defence
        from mlv.errors import MlvError

        if (_show_traceback or debugging()) and not isinstance(exc, (MlvError, KeyboardInterrupt)):
            traceback.print_exc()
        code, line = failure(exc)
        typer.echo(visible(line), err=True)  # messages quote paths, revisions and commands
        raise typer.Exit(code) from None


def _quiet_broken_pipe() -> None:
    """The reader of our stdout went away (`mlv log | head`): stop quietly, as git does."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
    raise typer.Exit(EXIT_BROKEN_PIPE)
