"""`mlv registry event`: what a pushed tag means to the registry, for tag-triggered CI workflows."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

registry_app = typer.Typer(
    name="registry",
    help="The model registry seen from CI: parse a pushed tag into a registry event.\n\n"
         "Example: mlv registry event \"$GITHUB_REF\" --json",
    no_args_is_help=True, rich_markup_mode=None,
)


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")


def event_of(ref: str, root: Path | None) -> dict[str, Any]:
    """{event, name, version, stage, counter, tag}; event None for a tag that is not the registry's.

    In ROOT's repository, a register or assign tag is checked before a deploy job acts on it: its
    version is read from the registry, and a version whose tag disagrees with its record, or that
    the signing policy does not trust, raises UntrustedVersionError."""
    from mlv.adapters import git
    from mlv.registry import names
    from mlv.registry.names import RegistryError

    tag = ref.removeprefix("refs/tags/")
    parsed = names.parse_tag(tag)
    if parsed is None:
        return {"event": None, "name": None, "version": None, "stage": None, "counter": None, "tag": tag}
    if root is not None and git.ref_sha(root, f"refs/tags/{tag}") is None:
        raise RegistryError(f"tag {tag} is not in this repository",
                            hint="Fetch tags first (`git fetch --tags`), or check the name.")
    version = parsed.version
    if root is not None and parsed.action in (names.REGISTER, names.ASSIGN):
        version = _checked_version(root, parsed.model, tag) or version
    if version is None and parsed.action == "assign":  # a deploy step must never build NAME@null
        raise RegistryError(f"the version {tag} assigns is unknown outside the repository that has the tag",
                            hint="Run it inside a clone with the tag (`git fetch --tags` in CI).")
    return {"event": parsed.action, "name": parsed.model, "version": version, "stage": parsed.stage,
            "counter": parsed.counter, "tag": tag}


def _checked_version(root: Path, model: str, tag: str) -> str | None:
    from mlv.registry import state, trust

    found = state.load(root).get(model)
    event = next((e for e in found.events if e.tag == tag), None) if found is not None else None
    if found is None or event is None or event.version not in found.versions:
        return None
    version = found.versions[event.version]
    stage_events = (event,) if event is not version.event else ()
    trust.require(root, found, version, f"act on {tag}", stage_events)
    return version.version


@registry_app.command("event")
def event_command(
    ref: Annotated[str, typer.Argument(metavar="REF", help="The pushed ref: refs/tags/churn#prod#3 or a bare tag name.", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print {event, name, version, stage, counter, tag}; event is null for a tag that is not a registry tag.")] = False,
) -> None:
    """Parse a pushed tag into a registry event: register, deregister, assign, unassign, deprecate.

    A tag that is not a registry tag is not an error: exit 0 with event null, so a deploy job can
    skip it. A registry tag that is not in the repository, or a stage assignment whose version
    cannot be read (outside the repository), exits 1: a deploy must never act on a guess. A
    register or assign tag whose version is invalid (its tag disagrees with its record) or
    untrusted (unsigned under a signing policy) exits 6.

    Examples:

        mlv registry event "refs/tags/$(git tag --list '*#*' | tail -n 1)" --json

        [ "$(mlv registry event "$GITHUB_REF" --json | jq -r .stage)" = prod ] && ./deploy.sh
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        from mlv.adapters import git
        from mlv.errors import GitError

        try:
            root: Path | None = git.find_root(Path.cwd())
        except GitError:
            root = None  # outside a repository the tag name alone still says most
        doc = event_of(ref, root)
        if json_output:
            output.emit_json(doc)
        elif doc["event"] is None:
            typer.echo(output.visible(f"{doc['tag']}: not a registry tag"))
        else:
            parts = [doc["event"], doc["name"], doc["version"], doc["stage"] and f"stage {doc['stage']}"]
            typer.echo(output.visible(" ".join(p for p in parts if p)))
