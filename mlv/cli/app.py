"""The `mlv` command line: parse, call the core, render. Nothing else lives here.

Each command is a module in `mlv/cli/commands/` with a `register(app)` function, listed in
`COMMANDS` below. Every command body runs inside `mlv.cli.errors.handle_errors()`, the single
place that turns exceptions into exit codes (docs/reference/exit-codes.md).
"""

from __future__ import annotations

import copy
import sys
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperArgument, TyperCommand
from typer.exceptions import TyperException  # the public base of click's errors in typer's own click

from mlv._version import __version__
from mlv.cli.commands import (
    checkout,
    data,
    diff,
    gate,
    hooks,
    init,
    log,
    model,
    monitor,
    registry,
    remote,
    report,
    reproduce,
    serve,
    share,
    snapshot,
    status,
)
from mlv.cli.errors import handle_errors, show_tracebacks
from mlv.errors import EXIT_INTERRUPTED, EXIT_USAGE

COMMANDS = (checkout, data, diff, gate, hooks, init, log, model, monitor, registry, remote, report, reproduce, serve,
            snapshot, status, share)

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
    traceback_: Annotated[bool, typer.Option("--traceback", help="Print the full traceback of an unexpected error (as MLV_DEBUG=1 does).")] = False,
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


class _Command(TyperCommand):
    """A command whose arguments print as `REV` and `[REV]`, as in man pages, not typer's `{rev}`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar is None and param.name:
                param.metavar = param.name.upper()  # also names it in "Missing argument 'REV'"

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # click's Context: a typer-private type
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument) and param.metavar:
                var = param.metavar
                if not var.startswith("["):  # a metavar such as "[A] [B]" is written out already
                    var = (var if param.required else f"[{var}]") + ("..." if param.nargs != 1 else "")
                pieces.append(var)
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


def _use_plain_metavars(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.cls in (None, TyperCommand):  # not a command that chose its own class
            info.cls = _Command
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _use_plain_metavars(group.typer_instance)


for _command in COMMANDS:
    _command.register(app)
_use_plain_metavars(app)


def _command_name(info: Any) -> str | None:
    if info.name:
        return str(info.name)
    return typer.main.get_command_name(info.callback.__name__) if info.callback else None


def app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command ARGV names (`mlv snapshot ...`: snapshot alone), else the whole
    app. typer inspects every command's parameters each time it builds the command line, about
    80 ms for all of them; a command needs only its own. Help, completion and a mistyped command
    get the whole app, so they list or suggest every command."""
    name = next((arg for arg in argv if not arg.startswith("-")), None)
    commands = [info for info in app.registered_commands if _command_name(info) == name]
    groups = [info for info in app.registered_groups if info.name == name]
    if not commands and not groups:
        return app
    slim = copy.copy(app)
    slim.registered_commands, slim.registered_groups = commands, groups
    return slim


def _exit_for_command_line_error(exc: Any) -> None:
    """Plain `mlv` or `mlv model`: the help, as asked (exit 0). A wrong option or argument: one
    line and exit 64, never click's 2 (see exit-codes.md). Anything else click says: as click says it.
    typer exposes only the base class of its click's errors, so the kind is read off the instance."""
    kind = type(exc).__name__
    if kind == "NoArgsIsHelpError":
        sys.stdout.write(exc.format_message() + "\n")
        sys.exit(0)
    if hasattr(exc, "ctx") and exc.exit_code == 2:  # UsageError and its subclasses
        where = exc.ctx.command_path if exc.ctx else "mlv"
        text = exc.format_message().rstrip(".")
        sys.stderr.write(f"error: {text}{'' if text.endswith('?') else '.'} See `{where} -h`.\n")
        sys.exit(EXIT_USAGE)
    exc.show()
    sys.exit(exc.exit_code)


def _show_mlv_warnings() -> None:
    """Print the core's MlvWarnings as `warning:` lines; other warnings keep Python's handling."""
    import warnings

    from mlv.errors import MlvWarning

    default = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        if issubclass(category, MlvWarning):
            from mlv.cli import output

            output.warn(str(message))
            return
        default(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def main() -> None:
    import warnings

    with warnings.catch_warnings():  # an in-process caller gets its own warning display back
        _show_mlv_warnings()
        try:
            code = app_for(sys.argv[1:])(prog_name="mlv", standalone_mode=False)
        except TyperException as exc:
            _exit_for_command_line_error(exc)
        except (KeyboardInterrupt, typer.Abort):  # Ctrl-C outside a command body (while parsing)
            sys.stderr.write("error: interrupted.\n")
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else 0)
