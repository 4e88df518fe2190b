"""`mlv checkout`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlv.cli.commands.remote import YES_HELP, run_trusting


def checkout_command(
    rev: Annotated[str, typer.Argument(help="The commit to check out (an experiment, or a plain DVC commit): sha, short sha, branch, tag, HEAD~N, or - for the previous one.")],
    force: Annotated[bool, typer.Option("--force", "-f", help="Discard uncommitted changes to code and unsaved changes to data.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=YES_HELP)] = False,
) -> None:
    """Put an experiment's code and data into the work tree.

    Runs `git checkout` as git reads REV (a branch name switches to the branch, HEAD stays
    on it, - goes back to the branch or commit checked out before, anything else detaches
    HEAD; leaving commits that no branch holds prints git's warning) and restores the
    experiment's DVC-tracked data and outputs, fetching what the local
    cache lacks from the DVC remote. Refuses when there are uncommitted changes, or data
    changes not saved in the DVC cache, unless --force; nothing is changed when it refuses.
    A commit without an mlv record (made with DVC alone) is checked out too, with the data
    its tree pins: its `.dvc` files and the stage outputs of its `dvc.lock`. A DVC remote URL
    this clone has not trusted is shown and asked about before anything is fetched (`--yes` in CI).

    Examples:

        mlv checkout HEAD~1

        mlv checkout -

        mlv checkout baseline --force

        mlv checkout a1b2c3d --json
    """
    from mlv.checkout import checkout
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        from mlv.adapters import git

        root = git.find_root(Path.cwd())
        result = run_trusting(root, yes, lambda: checkout.checkout_experiment(
            Path.cwd(), rev, force=force, progress=output.BarProgress()))
        for line in result.warnings:
            output.warn(line)
        if json_output:
            output.emit_json(result.to_json())
            return
        # Branch, message and paths come from the repository: control characters are shown.
        show = output.visible
        where = f"branch {show(result.branch)}" if result.branch else "detached HEAD"
        title = result.message.splitlines()[0] if result.message else ""
        typer.echo(f"[{result.commit[:10]}] {show(title)} ({where})".replace("]  (", "] ("))
        if not result.has_record:
            typer.echo("  no mlv record: restored the data its tree pins (.dvc files, dvc.lock)")
        if result.restored:
            fetched = f", {output.plural(result.fetched, 'object')} fetched from the DVC remote" if result.fetched else ""
            typer.echo(f"  restored   {show(', '.join(result.restored))}{fetched}")
        if result.unchanged:
            typer.echo(f"  unchanged  {show(', '.join(result.unchanged))}")


def register(app: typer.Typer) -> None:
    app.command("checkout")(checkout_command)
