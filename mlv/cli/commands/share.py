"""`mlv push` and `mlv pull`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlv.cli.commands.remote import YES_HELP, run_trusting


def push_command(
    remote: Annotated[str | None, typer.Argument(help="The git remote (default: the branch's upstream, else origin).", show_default=False)] = None,
    dvc_remote: Annotated[str | None, typer.Option("--dvc-remote", help="The DVC remote for the data (default: DVC's default remote).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=YES_HELP)] = False,
) -> None:
    """Share the current branch: upload its experiments' data, then git push it.

    The DVC data of every commit the git remote does not have yet goes to the DVC remote
    first, so the commits never arrive without their data. Sets the upstream on first push.
    The model registry's tags and the saved verdicts (branches mlv/reproduced/...) go too.
    A DVC remote URL this clone has not trusted is shown and asked about first (`--yes` in CI).

    Examples:

        mlv push

        mlv push origin --dvc-remote storage
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.cli.render.progress import TransferBar
    from mlv.share import push
    from mlv.snapshot import publish

    with handle_errors():
        root = git.find_root(Path.cwd())
        if note := publish.recover(root):
            output.warn(note)
        bar = TransferBar(enabled=not json_output)
        result = run_trusting(root, yes, lambda: push.push(root, remote, dvc_remote, bar))
        for note in result.warnings:
            output.warn(note)
        if json_output:
            output.emit_json(result.to_json())
            return
        tags = f"; {output.plural(result.registry_tags, 'registry tag')}" if result.registry_tags else ""
        tags += f"; {output.plural(result.verdicts, 'saved verdict')}" if result.verdicts else ""
        typer.echo(output.visible(f"pushed {result.branch} to {result.remote} ({output.plural(result.commits, 'new commit')}); "
                                  f"data: {result.data.uploaded} of {output.plural(result.data.objects, 'object')} uploaded{tags}"))

def pull_command(
    remote: Annotated[str | None, typer.Argument(help="The git remote (default: the branch's upstream, else origin).", show_default=False)] = None,
    dvc_remote: Annotated[str | None, typer.Option("--dvc-remote", help="The DVC remote for the data (default: DVC's default remote).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help=YES_HELP)] = False,
) -> None:
    """Fast-forward the current branch from a git remote and bring its data into the work tree.

    Downloads the data the new HEAD needs before moving the branch (a DVC remote that lacks it
    refuses the pull with nothing changed), then makes DVC-tracked data match the new HEAD.
    Never overwrites data that is saved nowhere. In a fresh clone it fetches the data of HEAD; in
    a clone that checked out nothing (the remote's HEAD names a branch nobody pushed, such as
    git's default `master` beside a pushed `main`), it first checks out the remote's branch.
    The model registry's tags and the saved verdicts come too; a local one is never overwritten.
    A DVC remote URL this clone has not trusted is shown and asked about first (`--yes` in CI).

    Examples:

        git clone URL project && cd project && mlv pull

        mlv pull origin --json
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.cli.render.progress import TransferBar
    from mlv.share import pull
    from mlv.snapshot import publish

    with handle_errors():
        root = git.find_root(Path.cwd())
        if note := publish.recover(root):
            output.warn(note)
        # Progress on a terminal only, and never under --json: stdout is the document then.
        progress, bar = None if json_output else output.BarProgress(), TransferBar(enabled=not json_output)
        result = run_trusting(root, yes, lambda: pull.pull(root, remote, dvc_remote, progress, bar))
        if json_output:
            output.emit_json(result.to_json())
            return
        moved = (f"{result.old[:10]}..{result.new[:10]} ({output.plural(result.commits, 'commit')})" if result.commits
                 else f"checked out at {result.new[:10]}, tracking {result.remote}/{result.branch}" if result.started
                 else "already up to date")
        # Branch, remote and paths come from the repository: control characters are shown.
        typer.echo(output.visible(f"{result.branch} from {result.remote}: {moved}"))
        if result.restored:
            typer.echo(output.visible(f"  data restored: {', '.join(result.restored)} "
                                      f"({output.plural(result.fetched, 'object')} downloaded)"))


def register(app: typer.Typer) -> None:
    app.command("push")(push_command)
    app.command("pull")(pull_command)
