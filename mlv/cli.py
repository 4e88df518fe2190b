"""The `mlv` command line: parse, call the core, render. Nothing else lives here.

Each command is a module in `mlv/commands/` with a `register(app)` function; they are discovered
at start-up so commands can be added without touching this file. Every command body runs inside
`handle_errors()`, the single place that turns exceptions into exit codes:
  1 user error (MlvError, one line on stderr), 2 could not run (where a command documents it),
  3 unexpected error (hint to rerun with --traceback), 130 Ctrl-C.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer

from mlv import __version__
from mlv.errors import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_UNEXPECTED, MlvError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="mlv",
    help=(
        "Git-native experiment commits: code, data, environment, params and metrics in one commit "
        "you can reproduce and diff.\n\n"
        "Start with `mlv init`, then `mlv snapshot --run 'python train.py'`."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_show_traceback = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlv {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    traceback_: Annotated[bool, typer.Option("--traceback", help="Print the full traceback of an unexpected error.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print mlv's version and exit.")] = False,
) -> None:
    global _show_traceback  # noqa: PLW0603 - one process-wide switch set once per invocation
    _show_traceback = traceback_
    with handle_errors():
        _finish_interrupted_snapshot()


def _finish_interrupted_snapshot() -> None:
    """A snapshot killed after its commit point is completed before any other command runs."""
    from pathlib import Path

    from mlv.publish import recover_in

    note = recover_in(Path.cwd())
    if note:
        typer.echo(f"mlv: {note}", err=True)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Map every failure to one line on stderr and a documented exit code."""
    try:
        yield
    except MlvError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("error: interrupted.", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except typer.Exit:
        raise
    except BrokenPipeError:
        _quiet_broken_pipe()
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if _show_traceback:
            traceback.print_exc()
        first = str(exc).splitlines()[0] if str(exc) else ""
        typer.echo(
            f"error: unexpected {exc.__class__.__name__}: {first} "
            "(a bug in mlv; rerun with `mlv --traceback ...` and report it).",
            err=True,
        )
        raise typer.Exit(EXIT_UNEXPECTED) from None


def _quiet_broken_pipe() -> None:
    """The reader of our stdout went away (`mlv log | head`): stop quietly, as git does."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush cannot fail again
    raise typer.Exit(EXIT_BROKEN_PIPE)


def _register_commands() -> None:
    import mlv.commands as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"mlv.commands.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_commands()


def main() -> None:
    try:
        app(prog_name="mlv")
    except KeyboardInterrupt:  # Ctrl-C outside a command body (while parsing)
        sys.stderr.write("error: interrupted.\n")
        sys.exit(EXIT_INTERRUPTED)
