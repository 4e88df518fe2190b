"""`mlv log` and `mlv show`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("log")
    def log_command(
        number: Annotated[int | None, typer.Option("-n", "--max-count", min=1, help="Show at most N experiments.")] = None,
        rev: Annotated[str, typer.Argument(help="List experiments reachable from this revision.")] = "HEAD",
        json_output: Annotated[bool, typer.Option("--json", help="Print the experiments as a JSON list.")] = False,
    ) -> None:
        """List the experiment commits of the current branch, newest first.

        Examples:

            mlv log -n 10

            mlv log --json | jq '.[0].metrics'
        """
        from mlv.adapters import git
        from mlv.cli import output
        from mlv.cli.errors import handle_errors
        from mlv.record import history

        with handle_errors():
            root = git.find_root(Path.cwd())
            experiments = history.list_experiments(root, rev, number, with_packages=json_output)
            if json_output:
                output.emit_json([e.to_json() for e in experiments])
                return
            if not experiments:
                output.info("no experiment commits yet; create one with `mlv snapshot`")
                return
            _render_table(experiments)

    @app.command("show")
    def show_command(
        rev: Annotated[str, typer.Argument(help="The experiment commit (sha, branch, tag, HEAD~N).")] = "HEAD",
        json_output: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
    ) -> None:
        """Print one experiment's full record (default: HEAD).

        Examples:

            mlv show

            mlv show HEAD~2 --json
        """
        from mlv.adapters import git
        from mlv.cli import output
        from mlv.cli.errors import handle_errors
        from mlv.cli.render import record_truth as truth
        from mlv.errors import NotAnExperimentError
        from mlv.record import history
        from mlv.record.record import InvalidRecordError

        with handle_errors():
            root = git.find_root(Path.cwd())
            try:
                exp = history.show_experiment(root, rev)
            except InvalidRecordError:
                raise
            except NotAnExperimentError as exc:
                # A revert or a merge has no record: what its tree holds is still worth showing.
                if not truth.show_plain_commit(root, rev, exc.message, json_output):
                    raise
                return
            if json_output:
                output.emit_json(exp.to_json())
                return
            _render_record(exp)


def _render_table(experiments: Sequence[object]) -> None:
    from rich.table import Table

    from mlv.cli import output
    from mlv.record.history import INVALID, Experiment, InvalidExperiment
    from mlv.record.record import flatten

    valid = [e for e in experiments if isinstance(e, Experiment)]
    shown = _key_params([flatten(e.record.params, single_root=True) for e in valid])
    wide = output.stdout().width >= 110  # the date column only where there is room for it
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("commit", no_wrap=True, style="yellow")
    if wide:
        table.add_column("date", no_wrap=True, max_width=10)
    table.add_column("message", overflow="ellipsis", no_wrap=True, max_width=28 if wide else 18)
    table.add_column("command", overflow="ellipsis", no_wrap=True, max_width=20 if wide else 14)
    table.add_column("params", overflow="fold", min_width=14)
    table.add_column("metrics", overflow="fold", min_width=14)
    marked = any(e.rewritten for e in valid)  # a status column only when a record disagrees with its tree
    if marked:
        table.add_column("status", no_wrap=True, style="red")
    # Every cell quotes the repository: literal() shows control characters and markup as written.
    lit = output.literal
    for exp in experiments:
        if isinstance(exp, InvalidExperiment):
            # Marked, not hidden: the reason goes where the params would be.
            first = [exp.commit[:10], ""] if wide else [exp.commit[:10]]
            table.add_row(*map(lit, first), lit(_first_line(exp.message)), INVALID, lit(exp.error), "",
                          *([INVALID] if marked else []))
        elif isinstance(exp, Experiment):
            rec = exp.record
            flat = flatten(rec.params, single_root=True)
            metrics = flatten(rec.metrics, single_root=True)
            first = [exp.commit[:10], rec.created[:10]] if wide else [exp.commit[:10]]
            table.add_row(
                *map(lit, first), lit(_first_line(exp.message)), lit(rec.command or "-"),
                "\n".join(lit(f"{k}={output.fmt_value(flat[k])}") for k in shown if k in flat),
                "\n".join(lit(f"{k}={output.fmt_value(v)}") for k, v in list(metrics.items())[:4]),
                *([exp.status] if marked else []),
            )
    output.stdout().print(table)


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else ""


def _key_params(params: list[dict[str, object]], limit: int = 4) -> list[str]:
    """The params worth a column: those that differ between the experiments listed, else the first few."""
    keys: list[str] = []
    for flat in params:
        keys.extend(k for k in flat if k not in keys)
    varying = [k for k in keys if len({repr(p.get(k)) for p in params}) > 1]
    return (varying or keys)[:limit]


def _render_record(exp: object) -> None:
    from mlv.cli import output
    from mlv.cli.render import record_truth as truth
    from mlv.record.history import Experiment
    from mlv.record.record import flatten

    assert isinstance(exp, Experiment)  # noqa: S101
    rec = exp.record
    lines = [
        f"commit    {exp.commit}",
        *_message_lines(exp.message),
        f"created   {rec.created}",
        f"command   {rec.command or '-'}",
        "run       " + (f"by mlv, exit {rec.exit_code}, {rec.duration_s:.2f}s, started {rec.started}"
                        if rec.run_by_mlv else "not run by mlv (state recorded as found)"),
    ]
    lines += truth.tree_truth_lines(exp)
    if rec.reproduces:
        lines.append(f"reproduces {rec.reproduces.get('commit', '')[:10]}: {rec.reproduces.get('verdict')}")
    for title, items, in_tree in (("data", rec.data, exp.data), ("outputs", rec.outputs, exp.outputs)):
        pinned = {p.path: p for p in in_tree}
        for recorded in items:  # as the commit's tree pins them; the record's word only where it disagrees
            item = pinned.get(recorded.path, recorded)
            files = f" ({item.nfiles} files)" if item.nfiles is not None else ""
            note = ("  (the record's; not in the commit's tree)" if recorded.path not in pinned
                    else f"  (record: {recorded.md5})" if item.md5 != recorded.md5 else "")
            lines.append(f"{title:<9} {item.path}  md5 {item.md5}  {output.fmt_size(item.size)}{files}{note}")
    for key, value in flatten(rec.params).items():
        lines.append(f"param     {key} = {output.fmt_value(value)}")
    for key, value in flatten(rec.metrics).items():
        lines.append(f"metric    {key} = {output.fmt_value(value)}")
    env = rec.environment
    lines += [
        f"python    {env.python} ({env.implementation}) {env.interpreter}",
        f"platform  {env.platform} ({env.machine})",
        f"lockfile  {env.lockfile} ({len(exp.packages or {})} packages)",
    ]
    for path, digest in env.project_lockfiles.items():
        lines.append(f"project   {path} sha256 {digest[:16]}")
    # Each line is one field from the repository: its control characters are shown, not obeyed.
    typer.echo("\n".join(output.visible(line) for line in lines))


def _message_lines(message: str) -> list[str]:
    """The commit message, one output line per message line (each made visible on its own)."""
    first, *rest = message.rstrip("\n").split("\n")
    return [f"message   {first}", *(f"          {line}" for line in rest)]
