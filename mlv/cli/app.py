"""The `mlv` command line: parse, call the core, render. Nothing else lives here.

Each command is a module in `mlv/cli/commands/` with a `register(app)` function, listed in
`COMMANDS` below. Every command body runs inside `mlv.cli.errors.handle_errors()`, the single
place that turns exceptions into exit codes (docs/reference/exit-codes.md).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mlv import __version__
from mlv.cli.commands import (
    checkout,
    data,
    diff,
    gate,
    hooks,
    init,
    log,
    model,
    registry,
    reproduce,
    snapshot,
    status,
    sync,
)
from mlv.cli.errors import handle_errors, show_tracebacks
from mlv.errors import EXIT_INTERRUPTED

COMMANDS = (checkout, data, diff, gate, hooks, init, log, model, registry, reproduce, snapshot, status, sync)

app = typer.Typer(
    name="mlv",
    help=(
        "Git-native experiment commits: code, data, environment, params and metrics in one commit "
        "you can reproduce and diff.\n\n"
        "Start with `mlv init`, then `mlv snapshot --run 'python train.py'`."
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (typer's shell completion)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlv {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    traceback_: Annotated[bool, typer.Option("--traceback", help="Print the full traceback of an unexpected error.")] = False,
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Print mlv's version and exit.")] = False,
) -> None:
    show_tracebacks(traceback_)
    with handle_errors():
        _finish_interrupted_snapshot()


def _finish_interrupted_snapshot() -> None:
    """A snapshot killed after its commit point is completed before any other command runs."""
    from pathlib import Path

    from mlv.snapshot.publish import recover_in

    note = recover_in(Path.cwd())
    if note:
        from mlv.text import visible

        typer.echo(f"mlv: {visible(note)}", err=True)


for _command in COMMANDS:
    _command.register(app)


def main() -> None:
    try:
        app(prog_name="mlv")
    except KeyboardInterrupt:  # Ctrl-C outside a command body (while parsing)
        sys.stderr.write("error: interrupted.\n")
        sys.exit(EXIT_INTERRUPTED)
