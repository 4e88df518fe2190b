"""`mlv model ...`: the model registry in git tags (GTO's format), with lineage and promotion gates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlv.registry.actions import Written

model_app = typer.Typer(
    name="model",
    help="A model registry in git tags, compatible with GTO: register experiment commits as model versions, "
         "promote them through stages behind gates, and fetch them.\n\n"
         "Example: mlv model register churn && mlv model promote churn v0.0.1 prod",
    no_args_is_help=True, rich_markup_mode=None,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON (docs/reference/registry-tags.md).")]
MessageOption = Annotated[str | None, typer.Option("-m", "--message", help="The human line of the tag message.")]


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")


def _root() -> Path:
    from mlv.adapters import git

    return git.find_root(Path.cwd())


def _read(query: Callable[[Path], Any], json_output: bool, view: str, empty: str = "") -> None:
    """A read command: QUERY's answer as JSON, or drawn by the registry view named VIEW (imported
    only when drawing, so `--json` stays fast); EMPTY is said instead of an empty table."""
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        answer = query(_root())
        if json_output:
            output.emit_json(answer)
        elif empty and not answer:
            output.info(empty)
        else:
            from mlv.cli.render import registry

            typer.echo(getattr(registry, view)(answer))


def _report(written: Written, json_output: bool, verb: str) -> None:
    from mlv.cli import output

    if json_output:
        output.emit_json(written.to_json())
    else:
        typer.echo(f"{verb}: created tag {written.tag} on {written.commit[:10]}")
    for note in written.notes:
        output.info(note)


@model_app.command("register")
def register_command(
    name: Annotated[str, typer.Argument(help="The model's name (letters, digits, - _ /).", show_default=False)],
    rev: Annotated[str | None, typer.Argument(help="The experiment commit to register (default: the latest experiment on this branch).", show_default=False)] = None,
    version: Annotated[str | None, typer.Option("--version", help="The version, SemVer with a v: v1.2.0. Default: bump the patch of the highest (v0.0.1 first).", show_default=False)] = None,
    bump: Annotated[str | None, typer.Option("--bump", help="Which part to bump: major, minor or patch.", show_default=False)] = None,
    path: Annotated[str | None, typer.Option("--path", help="The model artifact: an output of the experiment (or a file in an output folder). Default: the remembered path, else the single output.", show_default=False)] = None,
    message: MessageOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register an experiment commit as a new version: annotated tag NAME@vX.Y.Z with its lineage.

    Examples:

        mlv model register churn

        mlv model register churn HEAD~2 --bump minor --path models/model.joblib -m "new features"
    """
    from mlv.cli.errors import handle_errors
    from mlv.registry import actions
    from mlv.registry.names import RegistryError

    with handle_errors():
        if bump is not None and bump not in ("major", "minor", "patch"):
            raise RegistryError(f"--bump {bump!r} is not major, minor or patch")
        written = actions.register(_root(), name, rev, version=version, bump=bump, path=path, message=message)
        _report(written, json_output, f"registered {name} {written.version}")


@model_app.command("promote")
def promote_command(
    name: Annotated[str, typer.Argument(help="The model.", show_default=False)],
    version: Annotated[str, typer.Argument(help="The version to promote (vX.Y.Z).", show_default=False)],
    stage: Annotated[str, typer.Argument(help="The stage, e.g. staging or prod.", show_default=False)],
    message: MessageOption = None,
    force: Annotated[bool, typer.Option("--force", help="Promote even when gate rules fail (needs --reason; both recorded in the tag).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the gates are overridden (with --force).", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Assign a stage to a version (tag NAME#STAGE#N), after its promotion gates pass.

    Gates are configured per model and stage in .mlv/config.yaml (docs/how-to/register-and-promote.md).
    A refusal prints one line per failed rule and exits 4.

    Examples:

        mlv model promote churn v0.0.3 prod

        mlv model promote churn v0.0.3 prod --force --reason "hotfix approved by J."
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.registry import actions

    with handle_errors():
        try:
            written = actions.promote(_root(), name, version, stage, message=message, force=force, reason=reason)
        except actions.GateRefusedError as exc:
            if json_output:
                output.emit_json({"refused": True, "gates": [r.to_json() for r in exc.failures]})
            for failure in exc.failures:
                output.info(f"refused: {failure.message}")
            raise typer.Exit(exc.exit_code) from None
        for result in written.gates:
            if result.skipped:
                output.info(f"skipped: {result.message}")
            elif not result.passed:
                output.warn(f"forced past: {result.message}")
        _report(written, json_output, f"promoted {name} {version} to {stage}")


@model_app.command("demote")
def demote_command(
    name: Annotated[str, typer.Argument(help="The model.", show_default=False)],
    stage: Annotated[str, typer.Argument(help="The stage to take its current version out of.", show_default=False)],
    message: MessageOption = None,
    json_output: JsonOption = False,
) -> None:
    """Take the current version out of a stage (tag NAME#STAGE!#N).

    Example:

        mlv model demote churn prod -m "rollback: drift in March data"
    """
    from mlv.cli.errors import handle_errors
    from mlv.registry import actions

    with handle_errors():
        written = actions.demote(_root(), name, stage, message=message)
        _report(written, json_output, f"demoted {name} {written.version} from {stage}")


@model_app.command("deprecate")
def deprecate_command(
    name: Annotated[str, typer.Argument(help="The model.", show_default=False)],
    message: MessageOption = None,
    json_output: JsonOption = False,
) -> None:
    """Deprecate a model (tag NAME@deprecated); `mlv model list` marks it.

    Example:

        mlv model deprecate churn -m "replaced by churn-v2"
    """
    from mlv.cli.errors import handle_errors
    from mlv.registry import actions

    with handle_errors():
        _report(actions.deprecate(_root(), name, message=message), json_output, f"deprecated {name}")


@model_app.command("deregister")
def deregister_command(
    name: Annotated[str, typer.Argument(help="The model.", show_default=False)],
    version: Annotated[str, typer.Argument(help="The version to deregister (vX.Y.Z).", show_default=False)],
    message: MessageOption = None,
    json_output: JsonOption = False,
) -> None:
    """Deregister a version (tag NAME@vX.Y.Z!); it stays in the history.

    Example:

        mlv model deregister churn v0.0.2 -m "trained on leaked labels"
    """
    from mlv.cli.errors import handle_errors
    from mlv.registry import actions

    with handle_errors():
        _report(actions.deregister(_root(), name, version, message=message), json_output, f"deregistered {name} {version}")


@model_app.command("list")
def list_command(json_output: JsonOption = False) -> None:
    """List every model: its latest version, the version in each stage, key metrics.

    Examples:

        mlv model list

        mlv model list --json | jq '.[] | {model, prod: .stages.prod}'
    """
    from mlv.registry import queries

    _read(queries.list_models, json_output, "model_list",
          empty="no models registered yet; register one with `mlv model register NAME`")


@model_app.command("show")
def show_command(
    ref: Annotated[str, typer.Argument(metavar="NAME[@vX.Y.Z|@latest|#STAGE]", help="The version: NAME (its latest), NAME@v1.2.3, NAME@latest or NAME#STAGE.", show_default=False)],
    json_output: JsonOption = False,
) -> None:
    """Show one version's lineage: experiment commit, message, command, data, params, metrics,
    lockfile and saved reproduce verdicts.

    Examples:

        mlv model show churn#prod

        mlv model show churn@v0.0.3 --json | jq .experiment.metrics
    """
    from mlv.registry import queries

    _read(lambda root: queries.show(root, ref), json_output, "model_show")


@model_app.command("history")
def history_command(
    name: Annotated[str, typer.Argument(help="The model.", show_default=False)],
    json_output: JsonOption = False,
) -> None:
    """Every event of a model, oldest first: time, who, what, message. Answers "what was in prod on date D".

    Examples:

        mlv model history churn

        mlv model history churn --json | jq '[.[] | select(.stage == "prod")]'
    """
    from mlv.registry import queries

    _read(lambda root: queries.model_history(root, name), json_output, "model_history")


@model_app.command("get")
def get_command(
    ref: Annotated[str, typer.Argument(metavar="NAME@vX.Y.Z|NAME#STAGE", help="The version whose artifact to write.", show_default=False)],
    out_dir: Annotated[Path | None, typer.Option("-o", "--out", help="The folder to write the artifact into. Default: a new folder NAME-vX.Y.Z.", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that exist in the folder already.")] = False,
    json_output: JsonOption = False,
) -> None:
    """Write a version's artifact into a folder, verified against the md5 its experiment's record
    gives, from the DVC cache or remote, without checking anything out. An existing file is never
    replaced without --force. Exit 2 when its data is in neither; 6 when the version is invalid
    or untrusted.

    Examples:

        mlv model get churn#prod

        mlv model get churn#prod -o deploy/ --force

        mlv model get churn@v0.0.3 -o /tmp/model --json
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.registry import fetch

    with handle_errors():
        got = fetch.get(_root(), ref, out_dir, force=force)
        if json_output:
            output.emit_json({"model": got.model, "version": got.version, "path": str(got.path), "md5": got.md5,
                              "files": got.files, "fetched": got.fetched})
        else:
            typer.echo(f"wrote {got.model} {got.version} to {got.path} ({output.plural(got.files, 'file')}, md5 {got.md5})")


@model_app.command("package")
def package_command(
    ref: Annotated[str, typer.Argument(metavar="NAME@vX.Y.Z|NAME#STAGE", help="The version to package.", show_default=False)],
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="The folder to create (new or empty).", show_default=False)],
    key: Annotated[Path | None, typer.Option("--key", metavar="PRIVATE.pem", help="Sign the package with this elliptic-curve private key (OpenSSF model-signing, offline; needs `pip install 'mlv-vcs[sign]'`).", show_default=False)] = None,
    reference: Annotated[Path | None, typer.Option("--reference", help="A CSV or Parquet table of reference rows (e.g. held-out data) for the reference predictions and the input types. Default: the experiment's recorded dataset.", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Package a version as a self-contained, verifiable folder: the artifact, the lockfile, the
    experiment record, the registry entry with its lineage, an in-toto/SLSA provenance statement,
    SHA256SUMS over every file, and with --key a model-signing signature (model.sig).

    When the artifact is a model with predict() (a pickle or joblib file: loading it runs its code),
    the package also holds input-schema.json and reference-predictions.parquet, for `mlv serve` and
    `mlv monitor` (docs/reference/serve.md says where names, types and rows come from).

    This is what a deploy step ships; `mlv model verify DIR --key PUBLIC.pem` checks it. The folder
    appears whole or not at all. Exit 2 when the artifact's data is in neither the DVC cache nor the
    remote (or the signing library is missing); 6 when the version is invalid or untrusted.

    Examples:

        mlv model package churn#prod -o dist/churn --key release.pem

        mlv model package churn@v0.0.3 -o /tmp/bundle --json
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.registry import package

    with handle_errors():
        done = package.package(_root(), ref, out_dir, key, reference)
        if json_output:
            output.emit_json(done.to_json())
        else:
            signed = ", signed" if done.signed else ""
            typer.echo(f"packaged {done.model} {done.version} into {done.path} ({done.files} files, "
                       f"{package.MANIFEST}{signed})")
        for note in done.notes:
            output.info(note)


@model_app.command("verify")
def verify_command(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A folder made by `mlv model package`.", show_default=False)],
    key: Annotated[Path | None, typer.Option("--key", metavar="PUBLIC.pem", help="Check the package's model-signing signature with this public key (needs `pip install 'mlv-vcs[sign]'`).", show_default=False)] = None,
    json_output: JsonOption = False,
) -> None:
    """Verify a packaged version: every file listed in SHA256SUMS is there with its checksum and
    nothing else is; the artifact and provenance statement agree with the bundle's record; with
    --key, the signature is valid for that key. FIFOs and special files are refused, never read.
    Needs no repository. Exit 0: verified; 1: one line per problem.

    Examples:

        mlv model verify dist/churn --key release.pub.pem

        mlv model verify dist/churn --json | jq .problems
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.errors import MlvError
    from mlv.registry import package

    with handle_errors():
        if folder.is_symlink() or not folder.is_dir():
            raise MlvError(f"{folder} is not a folder", hint="Give the folder `mlv model package -o` made.")
        problems = package.verify(folder, key)
        if json_output:
            output.emit_json({"path": str(folder), "verified": not problems, "problems": problems,
                              "signature": "checked" if key is not None else "not checked"})
        elif not problems:
            typer.echo(f"verified: {folder}" + ("" if key is not None else " (signature not checked: pass --key)"))
        for problem in problems:
            output.info(f"problem: {problem}")
    if problems:
        raise typer.Exit(1)
