"""`mlv init`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init_command(
    git: Annotated[bool, typer.Option("--git", help="Run `git init` first when this folder is not a git repository.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Make this git repository an mlv project.

    Initialises DVC when absent (an existing DVC setup is reused untouched) and writes
    .mlv/config.yaml with defaults detected from the repository: a data/ folder, params.yaml,
    metrics.json, models/ and a train.py. Running it again changes nothing.

    Example:

        mlv init            # in an existing git repository

        mlv init --git      # in a plain folder
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.project import init, undeclared

    with handle_errors():
        result = init.init_project(Path.cwd(), run_git_init=git)
        cfg = result.config
        if json_output:
            output.emit_json({"root": str(result.root), "created_config": result.created_config,
                              "initialised_dvc": result.initialised_dvc,
                              "config": {"data": cfg.data, "outputs": cfg.outputs,
                                         "params": cfg.params, "metrics": cfg.metrics,
                                         "command": cfg.command, "python": cfg.python},
                              "pipeline_outputs": [{"path": out.path, "stage": out.stage, "kind": out.kind}
                                                   for out in result.pipeline_outputs]})
            return
        state = "created" if result.created_config else "already present, left as is"
        # The configuration may come from a cloned repository: its control characters are shown.
        show = output.visible
        typer.echo(f"mlv project at {show(str(result.root))} (.mlv/config.yaml {state})")
        if result.initialised_dvc:
            typer.echo("  initialised DVC (.dvc/)")
        typer.echo(f"  data:    {show(', '.join(cfg.data)) or '-'}")
        typer.echo(f"  outputs: {show(', '.join(cfg.outputs)) or '-'}")
        if result.pipeline_outputs:
            described = ", ".join(f"{out.path} ({out.stage})" for out in result.pipeline_outputs)
            typer.echo(f"  pipeline: {show(described)}; recorded from dvc.lock by every snapshot")
        typer.echo(f"  params:  {show(', '.join(cfg.params)) or '-'}")
        typer.echo(f"  metrics: {show(', '.join(cfg.metrics)) or '-'}")
        typer.echo(f"  command: {show(cfg.command or '-')}")
        missing = undeclared.missing_declarations(cfg, pipeline=bool(result.pipeline_outputs))
        for note in missing:
            typer.echo(f"  {note}")
        if not cfg.tracked and not result.pipeline_outputs:
            # A snapshot now would commit the data and models to git as code, once they exist.
            typer.echo("Next: declare your data and outputs in .mlv/config.yaml, then "
                       f"mlv snapshot --run '{show(cfg.command or 'python train.py')}' -m 'baseline'")
        else:
            typer.echo(f"Next: mlv snapshot --run '{show(cfg.command or 'python train.py')}' -m 'baseline'")


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)
