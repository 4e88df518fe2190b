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
    set_params: Annotated[list[str] | None, typer.Option("-S", "--set-param", metavar="[FILE:]KEY=VALUE[,VALUE...]", help="Set a param for this run only, as `dvc exp run -S` does; a comma list, or several -S, run one experiment per combination (a sweep). The params file is put back afterwards.", show_default=False)] = None,
    include_untracked: Annotated[bool, typer.Option("--include-untracked", help="Commit untracked, un-ignored files too (by default they are listed and left out).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be committed and recorded; change nothing (not with --run).")] = False,
    allow_secret: Annotated[list[str] | None, typer.Option("--allow-secret", metavar="FILE", help="Commit FILE even though the secret scan flags it (repeatable).")] = None,
) -> None:
    """Record code, data, environment, command, params and metrics as one experiment commit.

    With --run, the command runs first; a failing command makes no commit unless
    --allow-failure. -S sets params for the run (the commit records them; the work tree's params
    file is put back as it was); comma lists and several -S make a sweep, one experiment commit
    per combination, run one after another, stopping at the first failure. Without --run nothing is run: the current state is recorded with the
    configured default command, marked as not run by mlv; when nothing changed since HEAD's
    experiment, no commit is made (exit 0) unless --allow-empty.

    The commit holds the changes to files git tracks (staged or not), the project's own files
    (.mlv/config.yaml, DVC's files, params and metrics files) and the pointer files of the data
    and outputs. Untracked files are listed and left out: `git add` them, or pass
    --include-untracked. Every file about to be committed is scanned for secrets (keys, tokens);
    a finding refuses the snapshot with FILE:LINE, and --allow-secret FILE accepts it.

    Examples:

        mlv snapshot --run "python train.py" -m "baseline"

        mlv snapshot -m "record what is on disk now"

        mlv snapshot --run "python train.py" --json | jq -r .commit

        mlv snapshot --run "python train.py" -S train.test_size=0.2,0.3 -S train.seed=1,2

        mlv snapshot --dry-run

        mlv snapshot --run "python train.py" --include-untracked
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.snapshot import take

    with handle_errors():
        options = take.SnapshotOptions(message=message, run=run, allow_failure=allow_failure,
                                           verify=not no_verify, json_output=json_output,
                                           allow_empty=allow_empty, include_untracked=include_untracked,
                                           dry_run=dry_run, allowed_secrets=list(allow_secret or []))
        if set_params:
            _sweep(set_params, options)
            return
        result = take.take_snapshot(Path.cwd(), options, output.BarProgress())
        for line in result.warnings:
            output.warn(line)
        if result.plan is not None:
            _render_dry_run(result, json_output)
            return
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


def _sweep(specs: list[str], options: object) -> None:
    """One experiment per combination of -S values: a line each as it starts (stderr), then the
    commits, and the `mlv diff` that compares them."""
    from mlv.cli import output
    from mlv.snapshot.take import SnapshotOptions
    from mlv.sweep import sweep

    assert isinstance(options, SnapshotOptions)  # noqa: S101

    def announce(index: int, total: int, setting: str) -> None:
        if total > 1:
            output.info(f"[{index}/{total}] {setting}")

    done = sweep.run(Path.cwd(), specs, options, output.BarProgress(), announce)
    if options.json_output:
        output.emit_json(done.to_json())
        return
    for setting, result in zip(done.settings, done.results, strict=True):
        if result.made:
            _render(result)
        else:
            typer.echo(output.visible(f"{setting}: nothing changed, no commit"))
    commits = [r.commit[:10] for r in done.results if r.made]
    if len(commits) > 1:
        typer.echo(f"compare them: mlv diff {' '.join(commits)}")


def register(app: typer.Typer) -> None:
    app.command("snapshot")(snapshot_command)


def _render_dry_run(result: object, json_output: bool) -> None:
    from mlv.cli import output
    from mlv.snapshot.take import SnapshotResult

    assert isinstance(result, SnapshotResult) and result.plan is not None  # noqa: S101
    if json_output:
        output.emit_json({"dry_run": True, "message": result.message, "warnings": result.warnings,
                          **result.plan.to_json(), "record": result.record.to_json()})
        return
    lines = ["dry run: nothing was changed", "would commit:"]
    lines += [f"  {status}  {path}" for status, path in result.plan.changes] or ["  (no file changes)"]
    if result.plan.left_out:
        lines.append("left out (untracked; `git add` them or pass --include-untracked):")
        lines += [f"  {path}" for path in result.plan.left_out]
    lines.append("would record:")
    typer.echo("\n".join(output.visible(line) for line in lines))
    _render(result, header=False)


def _render(result: object, header: bool = True) -> None:
    from mlv.cli import output
    from mlv.record.record import flatten
    from mlv.snapshot.take import SnapshotResult

    assert isinstance(result, SnapshotResult)  # noqa: S101
    rec = result.record
    lines = [f"[{result.commit[:10]}] {result.message.splitlines()[0] if result.message else ''}".rstrip()]
    if not header:
        lines = [f"  message  {result.message.splitlines()[0] if result.message else ''}"]
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
