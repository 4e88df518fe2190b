"""`mlv remote trust | list`, and the question `mlv push`, `pull` and `checkout` ask about a DVC
remote the user has not trusted (see mlv/adapters/remote_trust.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from mlv.errors import UntrustedRemoteError

T = TypeVar("T")
YES_HELP = ("Trust the DVC remote's URL without asking when this clone has not trusted it yet (for CI; "
            "the URL is printed).")

remote_app = typer.Typer(
    help="The DVC remotes this clone trusts with its data and credentials.\n\n"
         "Example: mlv remote list && mlv remote trust storage",
    no_args_is_help=True,
)


@remote_app.command("trust")
def trust_command(
    name: Annotated[str | None, typer.Argument(help="The DVC remote (default: DVC's default remote).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the trusted remote as JSON.")] = False,
) -> None:
    """Trust a DVC remote's URL: let mlv and its git hooks send it data and credentials.

    A URL comes from the repository's committed `.dvc/config`, so whoever made a commit can
    change it; mlv (and its hooks) send nothing to a URL this clone has not trusted. Trust is
    kept in `.git/mlv/remotes.json`, never committed. A URL set in `.dvc/config.local`, by an
    unstaged edit of `.dvc/config` or by a commit made in this clone is trusted already.

    Examples:

        mlv remote list

        mlv remote trust storage
    """
    from mlv.adapters import git, remote_trust
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.errors import DvcError

    with handle_errors():
        root = git.find_root(Path.cwd())
        remote = remote_trust.resolve(root, name)
        if remote is None:
            raise DvcError(f"no DVC remote named {name!r}" if name else "no DVC remote is configured",
                           hint="See them with `mlv remote list`; add one with `dvc remote add -d NAME URL`.")
        remote_trust.trust(root, remote)
        if json_output:
            output.emit_json({"name": remote.name, "url": remote.url, "where": remote.where, "trusted": True})
            return
        typer.echo(output.visible(f"trusted the DVC remote {remote.name}: {remote.where}"))


@remote_app.command("list")
def list_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the remotes as JSON.")] = False,
) -> None:
    """List DVC's remotes, where each sends requests, and whether this clone trusts it.

    `trusted` is what an upload needs; a local folder is read from without trust, since
    reading it sends nothing anywhere.

    Examples:

        mlv remote list

        mlv remote list --json | jq '.[] | select(.trusted | not)'
    """
    from mlv.adapters import dvc, git, remote_trust
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        root = git.find_root(Path.cwd())
        default = dvc.default_remote(root)
        found = [remote_trust.status(root, r.name, upload=True, remember=False) for r in remote_trust.configured(root)]
        docs = [{**s.to_json(), "default": s.remote.name == default} for s in found if s is not None]
        if json_output:
            output.emit_json(docs)
            return
        if not docs:
            typer.echo("no DVC remote is configured (add one with `dvc remote add -d NAME URL`)")
        for doc in docs:
            mark = "*" if doc["default"] else " "
            trusted = f"trusted ({doc['why']})" if doc["trusted"] else f"NOT trusted: `mlv remote trust {doc['name']}`"
            typer.echo(output.visible(f"{mark} {doc['name']}  {doc['where']}  {trusted}"))


def run_trusting(root: Path, yes: bool, action: Callable[[], T]) -> T:
    """ACTION, asking (or, with YES, saying) before trusting a remote it refused to contact.

    Every transfer checks trust before it sends anything, and `mlv push`, `pull` and `checkout`
    change nothing before their first transfer, so running ACTION again is safe.
    """
    from mlv.adapters import remote_trust
    from mlv.cli import output

    asked: set[str] = set()
    while True:
        try:
            return action()
        except UntrustedRemoteError as exc:
            remote = remote_trust.resolve(root, exc.name)
            if remote is None or remote.where != exc.url or exc.url in asked:
                raise
            if yes:
                output.info(f"trusting the DVC remote {remote.name}: {remote.where} (--yes)")
            elif not sys.stdin.isatty():
                raise exc.with_context(hint=f"If you trust it, run `mlv remote trust {exc.name}`, "
                                            "or pass --yes.") from None
            elif not _confirm(exc):
                raise exc.with_context(hint=f"Nothing was sent. To trust it later: `mlv remote trust {exc.name}`.") from None
            asked.add(exc.url)
            remote_trust.trust(root, remote)


def _confirm(exc: UntrustedRemoteError) -> bool:
    from mlv.text import visible

    change = f" (it was {visible(exc.previous)})" if exc.previous else ""
    question = (f"The DVC remote {visible(exc.name)} is {visible(exc.url)}{change}, not trusted in this clone. "
                "Send it data and credentials?")
    return typer.confirm(question, default=False, err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(remote_app, name="remote")
