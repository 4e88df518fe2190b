"""`mlv hooks install | uninstall | status | run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HOOK_NAMES_HELP = "Hooks to act on (pre-commit, post-checkout, post-merge, pre-push); all four when omitted."


hooks_app = typer.Typer(
    help="Install, remove or inspect mlv's git hooks (pre-commit, post-checkout, post-merge, pre-push).\n\n"
         "Example: mlv hooks install && mlv hooks status",
    no_args_is_help=True,
)

@hooks_app.command("install")
def install_command(
    names: Annotated[list[str] | None, typer.Argument(help=HOOK_NAMES_HELP, show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Install mlv's git hooks, keeping any hook already there (it runs first).

    pre-commit refuses a commit whose pointer files do not match the data; post-checkout and
    post-merge bring the data in line with the new HEAD; pre-push uploads the pushed commits'
    data to the DVC remote. The hooks run the Python that installed them. A hook you already
    had is kept as HOOK.mlv-chained and restored by `mlv hooks uninstall`. Refused when
    core.hooksPath is set. Running it again refreshes the hooks.

    Examples:

        mlv hooks install

        mlv hooks install pre-commit pre-push
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.hooks import hooks

    with handle_errors():
        root = git.find_root(Path.cwd())
        changes = hooks.install(root, names)
        if (note := hooks.not_a_project_warning(root)) is not None:
            output.warn(note)
        if json_output:
            output.emit_json([c.to_json() for c in changes])
            return
        for change in changes:
            note = " (your existing hook is kept and runs first)" if change.action == "chained" else ""
            typer.echo(f"{change.name:<14} {change.action}{note}")

@hooks_app.command("uninstall")
def uninstall_command(
    names: Annotated[list[str] | None, typer.Argument(help=HOOK_NAMES_HELP, show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print what was done as JSON.")] = False,
) -> None:
    """Remove mlv's git hooks and put back the hooks they had kept.

    Hooks that are not mlv's are left untouched.

    Examples:

        mlv hooks uninstall

        mlv hooks uninstall post-checkout
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.hooks import hooks

    with handle_errors():
        changes = hooks.uninstall(git.find_root(Path.cwd()), names)
        if json_output:
            output.emit_json([c.to_json() for c in changes])
            return
        labels = {"left-foreign": "not mlv's, left as is", "absent": "not installed",
                  "restored": "removed, previous hook restored"}
        for change in changes:
            typer.echo(f"{change.name:<14} {labels.get(change.action, change.action)}")

@hooks_app.command("status")
def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the hooks' state as JSON.")] = False,
) -> None:
    """Show which git hooks are installed and whether each is mlv's, foreign, or chained.

    States: absent; mlv (mlv's hook); chained (mlv's hook, running a kept hook first);
    foreign (another tool's hook). An mlv hook whose Python no longer exists is flagged.

    Examples:

        mlv hooks status

        mlv hooks status --json
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.hooks import hooks

    with handle_errors():
        states = hooks.status(git.find_root(Path.cwd()))
        if json_output:
            output.emit_json([s.to_json() for s in states])
            return
        for state in states:
            extra = ""
            if state.state in ("mlv", "chained"):
                extra = f"  runs {output.visible(str(state.interpreter))}" + ("" if state.interpreter_ok else " (MISSING: reinstall)")
            typer.echo(f"{state.name:<14} {state.state:<8}{extra}".rstrip())  # no padding at the end of a line

@hooks_app.command(
    "run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def run_command(
    hook: Annotated[str, typer.Argument(help="The hook to run: pre-commit, post-checkout, post-merge or pre-push.")],
    args: Annotated[list[str] | None, typer.Argument(help="The arguments git gave the hook.", show_default=False)] = None,
) -> None:
    """Run one of mlv's hooks by hand, or from another hook manager.

    This is what the pre-commit framework entries in .pre-commit-hooks.yaml call, and what a
    script in a core.hooksPath folder can call. Exits with the hook's status.

    Examples:

        mlv hooks run pre-commit

        mlv hooks run post-checkout OLD_SHA NEW_SHA 1
    """
    from mlv.hooks import run

    raise typer.Exit(run.main([hook, *(args or [])]))


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")
