"""`mlv snapshot`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def snapshot_command(
    message: Annotated[str | None, typer.Option("-m", "--message", help="The commit message (default: 'Experiment: COMMAND').")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Run this command first (through the shell, output live) and record it.")] = None,
    allow_failure: Annotated[bool, typer.Option("--allow-failure", help="Record the run even when the command exits non-zero.")] = False,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip the repository's pre-commit and commit-msg hooks.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON (the command's own output goes to stderr).")] = False,
    allow_empty: Annotated[bool, typer.Option("--allow-empty", help="Make a commit even when nothing changed since the last experiment and nothing ran.")] = False,
) -> None:
    """Record code, data, environment, command, params and metrics as one experiment commit.

    With --run, the command runs first; a failing command makes no commit unless
    --allow-failure. Without --run nothing is run: the current state is recorded with the
    configured default command, marked as not run by mlv; when nothing changed since HEAD's
    experiment, no commit is made (exit 0) unless --allow-empty.

    Examples:

        mlv snapshot --run "python train.py" -m "baseline"

        mlv snapshot -m "record what is on disk now"

        mlv snapshot --run "python train.py" --json | jq -r .commit
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.snapshot import take as snapshot

    with handle_errors():
        options = snapshot.SnapshotOptions(message=message, run=run, allow_failure=allow_failure,
                                           verify=not no_verify, json_output=json_output,
                                           allow_empty=allow_empty)
        result = snapshot.take_snapshot(Path.cwd(), options, output.BarProgress())
        for line in result.warnings:
            output.warn(line)
        if not result.made:
            note = (f"nothing changed since {result.commit[:10]}; no commit was made "
                    "(--allow-empty makes one anyway)")
            if json_output:
                output.info(note)
            else:
                typer.echo(note)
        if json_output:
            output.emit_json({"commit": result.commit, "message": result.message,
                              "warnings": result.warnings, "record": result.record.to_json(),
                              "created": result.made})
            return
        if not result.made:
            return
        _render(result)


def register(app: typer.Typer) -> None:
    app.command("snapshot")(snapshot_command)


def _render(result: object) -> None:
    from mlv.cli import output
    from mlv.record.record import flatten
    from mlv.snapshot.take import SnapshotResult

    assert isinstance(result, SnapshotResult)  # noqa: S101
    rec = result.record
    lines = [f"[{result.commit[:10]}] {result.message.splitlines()[0] if result.message else ''}".rstrip()]
    ran = (f"exit {rec.exit_code}, {rec.duration_s:.1f}s" if rec.run_by_mlv else "not run by mlv")
    lines.append(f"  command  {rec.command or '-'} ({ran})")
    for label, items in (("data", rec.data), ("output", rec.outputs)):
        for item in items:
            files = f", {output.plural(item.nfiles, 'file')}" if item.nfiles is not None else ""
            lines.append(f"  {label:<8} {item.path}  {item.md5[:12]}  {output.fmt_size(item.size)}{files}")
    env = rec.environment
    lines.append(f"  env      Python {env.python} on {env.os} {env.machine}, lockfile {env.lockfile}")
    params = flatten(rec.params, single_root=True)
    metrics = flatten(rec.metrics, single_root=True)
    if params:
        lines.append("  params   " + ", ".join(f"{k}={output.fmt_value(v)}" for k, v in params.items()))
    if metrics:
        lines.append("  metrics  " + ", ".join(f"{k}={output.fmt_value(v)}" for k, v in metrics.items()))
    # Paths, names and values come from the project's files: their control characters are shown.
    typer.echo("\n".join(output.visible(line) for line in lines))
