"""`mlv monitor`: the prediction log against the served version's lineage; `labels`; `export`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup

if TYPE_CHECKING:
    from mlv.monitor.rules import MonitorPolicy
    from mlv.monitor.window import Window


class _MonitorGroup(TyperGroup):
    """`mlv monitor [NAME#STAGE]` and `mlv monitor labels|export ...`: the group's own optional
    argument must not swallow a subcommand's name."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:  # everything after the name is the subcommand's
            ctx.allow_interspersed_args = False
            own = self.params
            self.params = [p for p in own if not isinstance(p, TyperArgument)]
            try:
                return list(super().parse_args(ctx, args))
            finally:
                self.params = own
        ctx.allow_interspersed_args = True  # `mlv monitor churn#prod --json`: options after the argument
        return list(super().parse_args(ctx, args))

    def get_params(self, ctx: Any) -> list[Any]:
        """A subcommand's usage line (`mlv monitor labels ...`) without the group's argument."""
        params = list(super().get_params(ctx))
        return params if ctx.command is self else [p for p in params if not isinstance(p, TyperArgument)]


monitor_app = typer.Typer(name="monitor", cls=_MonitorGroup, invoke_without_command=True, rich_markup_mode=None)

LogOption = Annotated[str | None, typer.Option("--log", metavar="URL", help="The prediction log: a folder or an fsspec URL such as s3://bucket/prefix (default: monitor.log in .mlv/config.yaml, else predictions/).", show_default=False)]
WindowOption = Annotated[str | None, typer.Option("--window", metavar="DURATION", help="The last DURATION: 30m, 24h, 7d (default: monitor.window in .mlv/config.yaml, else 24h).", show_default=False)]
SinceOption = Annotated[str | None, typer.Option("--since", metavar="TIME", help="From this ISO 8601 date or time (UTC unless it says otherwise).", show_default=False)]
UntilOption = Annotated[str | None, typer.Option("--until", metavar="TIME", help="Up to (not including) this ISO 8601 date or time.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")


@monitor_app.callback()
def monitor_command(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(metavar="[NAME#STAGE]", help="Which served version: NAME#STAGE, NAME@vX.Y.Z or NAME (default: every version in the log).", show_default=False)] = None,
    log: LogOption = None,
    window: WindowOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    package: Annotated[Path | None, typer.Option("--package", metavar="DIR", help="The served version's package (mlv model package): its reference predictions for prediction drift (default: monitor.package).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document: status, segments, versions with their findings and rules.")] = False,
    markdown: Annotated[bool, typer.Option("--md", help="Print Markdown, ready for an issue or a CI summary.")] = False,
) -> None:
    """Report data health, prediction drift, performance and system health of served versions.

    Reads the prediction log (`mlv serve --log`) in bounded memory, per served version: the logged
    inputs against the stored profile of its training data (the tests and thresholds of `mlv data
    check`), its predictions against the package's reference predictions, the recorded metric on
    rows that have labels (`mlv monitor labels`), and throughput, latency p50/p95/p99, error rate and
    log drops. Unreadable segments are skipped and listed; gaps in a writer's sequence are reported
    as possibly lost segments, and a writer that ended without a final segment (a server killed
    with SIGKILL) with the rows it may have lost: up to one log interval. Rules: `monitor:` in
    .mlv/config.yaml. Exit 0: healthy; 1: degraded (one FAIL line per failed rule); 2: could not run.

    Examples:

        mlv monitor churn#prod --window 24h

        mlv monitor --log s3://bucket/predictions --since 2026-12-01 --until 2026-12-08 --md

        mlv monitor churn#prod --package dist/churn --json | jq .failures
    """
    if ctx.invoked_subcommand is not None:
        return
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        with _could_not_run():
            from mlv.monitor.run import MonitorOptions, monitor

            root, policy, thresholds = _project()
            options = MonitorOptions(log=_log(log, policy, root), window=_window(window, since, until, policy),
                                     target=target, package=package)
            from mlv.cli.render.progress import SegmentsBar

            bar = SegmentsBar()
            try:
                report = monitor(root, options, policy, thresholds, progress=bar)
            finally:
                bar.close()
        if json_output:
            output.emit_json(report.to_json())
        elif markdown:
            from mlv.cli.render.monitor import markdown as render_markdown

            typer.echo(render_markdown(report), nl=False)
        else:
            from mlv.cli.render.monitor import lines

            for line in lines(report):
                typer.echo(line)
    if not report.healthy:
        raise typer.Exit(1)


@monitor_app.command("labels")
def labels_command(
    files: Annotated[list[Path], typer.Argument(metavar="FILE", help="CSV (.csv, .tsv) or Parquet files with a request_id column and a label column.", show_default=False)],
    log: LogOption = None,
    column: Annotated[str, typer.Option("--column", metavar="NAME", help="The label column.")] = "label",
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document: files stored, rows, matched and unknown ids.")] = False,
) -> None:
    """Add ground truth to the prediction log, joined to predictions by request id.

    Each file is stored as <LOG>/labels/<sha256 of the file>.parquet (adding a file twice changes
    nothing; for an id labelled twice, the label added last counts). Ids that match no logged
    prediction are counted and reported, not refused. Exit 0: stored; 2: a file could not be
    read or the log cannot be written.

    Examples:

        mlv monitor labels outcomes-2026-12-07.csv

        mlv monitor labels --log s3://bucket/predictions --column churned outcomes.parquet
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        with _could_not_run():
            from mlv.monitor.labels import add_labels
            from mlv.monitor.logstore import open_log

            root, policy, _ = _project()
            added = add_labels(open_log(_log(log, policy, root), root), files, column)
        if json_output:
            output.emit_json(added.to_json())
            return
        for item in added.files:
            output.info(f"stored {item['rows']:,} label(s) from {item['file']} as {item['stored']}"
                        + (f" ({item['dropped']:,} row(s) without an id or a label left out)" if item["dropped"] else ""))
        typer.echo(f"labels: {added.rows:,} row(s); {added.matched_ids:,} id(s) match logged predictions, "
                   f"{added.unknown_ids:,} unknown id(s)")


@monitor_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--output", "-o", metavar="PATH", help="The dataset to write: .csv or .parquet (the suffix picks the format). An earlier export there is replaced.", show_default=False)],
    target: Annotated[str | None, typer.Argument(metavar="[NAME#STAGE]", help="Only rows served by this version (NAME#STAGE, NAME@vX.Y.Z) or model (NAME); default: every version in the window.", show_default=False)] = None,
    log: LogOption = None,
    window: WindowOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    label_column: Annotated[str | None, typer.Option("--label-column", metavar="NAME", help="Name of the label column (default: the training data's one non-input column, else label).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document: path, rows, versions, lineage file.")] = False,
) -> None:
    """Export the labelled production rows of a window as a dataset the training command can read.

    Columns: the served version's inputs and the label (named as in its training data). Beside the
    file goes PATH.mlv-lineage.json: the log, the window, the versions that served the rows, the
    row count and a hash of the segments read; `mlv snapshot` records it in the experiment record
    (`lineage`), so the next model says it learned from the predictions of NAME@vX. Exit 0:
    written; 2: no labels, no labelled rows in the window, or the log cannot be read.

    Examples:

        mlv monitor export churn#prod --window 7d -o data/production.csv

        mlv monitor export --since 2026-12-01 -o data/production.parquet --json
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors():
        with _could_not_run():
            from mlv.monitor.export import export
            from mlv.monitor.logstore import open_log
            from mlv.monitor.run import resolve_target

            root, policy, _ = _project()
            done = export(root, open_log(_log(log, policy, root), root), _window(window, since, until, policy),
                          resolve_target(root, target), out, label_column)
        if json_output:
            output.emit_json(done.to_json())
            return
        for item in done.skipped[:20]:
            output.warn(f"skipped {item['segment']}: {item['reason']}")
        served = ", ".join(f"{name} ({v['rows']:,})" for name, v in done.versions.items())
        typer.echo(f"exported {done.rows:,} labelled row(s) from {done.segments} segment(s) to {done.path} "
                   f"(served by {served}); lineage: {done.sidecar}")


def _could_not_run() -> Any:
    """Any failure before a report exists means the monitor could not run: exit code 2."""
    from contextlib import contextmanager

    from mlv.errors import EXIT_CANNOT_RUN, MlvError

    @contextmanager
    def guard() -> Any:
        try:
            yield
        except MlvError as exc:
            if exc.exit_code == EXIT_CANNOT_RUN:
                raise
            clone = exc.with_context()
            clone.exit_code = EXIT_CANNOT_RUN
            raise clone from None

    return guard()


def _project() -> tuple[Path | None, MonitorPolicy, Any]:
    """The repository (None outside one), the `monitor:` policy and the `data_check:` thresholds."""
    from mlv.adapters import git
    from mlv.datahealth.thresholds import thresholds_from_config
    from mlv.errors import MlvError
    from mlv.monitor.rules import parse_monitor
    from mlv.project import config

    try:
        root: Path | None = git.find_root(Path.cwd())
    except MlvError:
        root = None
    if root is None or not config.exists(root):
        return root, parse_monitor(None), thresholds_from_config(None)
    loaded = config.load(root)
    return root, parse_monitor(loaded.monitor), thresholds_from_config(loaded.data_check)


def _log(log: str | None, policy: MonitorPolicy, root: Path | None) -> str:
    """--log as typed (relative to the current folder), else monitor.log (a folder there is
    relative to the repository root, as every path of the configuration), else predictions/."""
    from mlv.monitor.logstore import DEFAULT_LOG, is_url

    if log:
        return log
    if policy.log and root is not None and not is_url(policy.log) and not Path(policy.log).is_absolute():
        return str(root / policy.log)
    return policy.log or DEFAULT_LOG


def _window(window: str | None, since: str | None, until: str | None, policy: MonitorPolicy) -> Window:
    from mlv.monitor.window import make_window

    if window is None and since is None and until is None:
        window = policy.window or "24h"
    return make_window(window, since, until)
