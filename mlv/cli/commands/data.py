"""`mlv data profile` and `mlv data check`: data health and drift of datasets in the work tree."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mlv.health import Profile

data_app = typer.Typer(name="data", help="Profile a tabular dataset, and check its health and drift against another.\n\nExample: mlv data check data/current.csv --against-file data/reference.csv",
                       no_args_is_help=True, rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("profile")
def profile_command(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A CSV or Parquet file, or a folder of them with the same columns.", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print the profile as JSON (docs/reference/data-profile.md); save it to check against later.")] = False,
) -> None:
    """Profile a dataset: rows; per column its type, missing and distinct values, quantiles, top values.

    One streaming pass in bounded memory. Needs the optional extra: pip install 'mlv[data]'.

    Examples:

        mlv data profile data/train.csv

        mlv data profile data/ --json > reference-profile.json
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        profile = _load(path)
        if json_output:
            output.emit_json(profile.to_json())
        else:
            from mlv.cli.render.data_health import render_profile

            render_profile(profile, output.stdout())


@data_app.command("check")
def check_command(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="The current dataset: a CSV or Parquet file, a folder of them, or a saved profile (.json).", show_default=False)],
    against_file: Annotated[Path, typer.Option("--against-file", metavar="REF_PATH", help="The reference: a dataset on disk or a profile saved with `mlv data profile --json`.", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document (mlv/schemas/data-check.schema.json).")] = False,
    markdown: Annotated[bool, typer.Option("--md", help="Print Markdown tables, ready to paste into a pull request.")] = False,
    psi: Annotated[bool, typer.Option("--psi", help="Decide drift with the population stability index (>= 0.1) for every column.")] = False,
) -> None:
    """Check a dataset against a reference: schema, missing values, row count, and drift per column.

    Exit code 0: healthy. 1: dataset drift (at least half of the tested columns drifted) or a
    health rule failed (a column removed or retyped, missing values grew). 2: could not run.
    Defaults follow Evidently's: see docs/how-to/data-health.md.

    Examples:

        mlv data check data/current.csv --against-file data/reference.csv

        mlv data check data/ --against-file reference-profile.json --md >> report.md
    """
    from dataclasses import replace

    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.errors import MlvError

    with handle_errors():
        if json_output and markdown:
            raise MlvError("--json and --md cannot be combined", hint="Pick one output format.")
        from mlv.health import Thresholds, check
        from mlv.health.errors import require_extra

        require_extra()
        result = check(_load(path), _load(against_file), replace(Thresholds(), method="psi") if psi else Thresholds())
        if json_output:
            output.emit_json({**result.to_json(), "current": str(path), "reference": str(against_file)})
        elif markdown:
            from mlv.cli.render.data_health import markdown_check

            typer.echo(markdown_check(result, str(path), str(against_file)), nl=False)
        else:
            from mlv.cli.render.data_health import render_check

            render_check(result, str(path), str(against_file), output.stdout())
    if not result.ok:
        raise typer.Exit(1)


def _load(path: Path) -> Profile:
    """A saved profile (.json) as it is; anything else profiled now."""
    from mlv.health import Profile, profile_dataset

    if path.suffix.lower() == ".json" and path.is_file():
        import json

        from mlv.health.errors import DataHealthError

        try:
            return Profile.from_json(json.loads(path.read_text("utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataHealthError(f"{path} is not a data profile: {exc}") from None
    return profile_dataset(path)
