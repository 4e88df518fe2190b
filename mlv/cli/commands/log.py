"""`mlv log` and `mlv show`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    pass


def log_command(
    number: Annotated[int | None, typer.Option("-n", "--max-count", min=1, help="Show at most N experiments (after --filter and --sort).")] = None,
    rev: Annotated[str, typer.Argument(help="List experiments reachable from this revision.")] = "HEAD",
    all_branches: Annotated[bool, typer.Option("--all", help="List the experiments of every branch (not REV). Example: mlv log --all")] = False,
    sort: Annotated[str | None, typer.Option("--sort", metavar="NAME", help="Sort by a metric (or param), smallest first; `-NAME` for largest first. Example: --sort mse, --sort=-r2")] = None,
    filters: Annotated[list[str] | None, typer.Option("--filter", metavar="COND", help="Keep experiments where NAME OP NUMBER holds (ops < <= > >= == !=); commas or repeats mean AND. Example: --filter 'mse<0.1,r2>=0.9'")] = None,
    params: Annotated[list[str] | None, typer.Option("--params", metavar="NAMES", help="The params to show as columns (comma list or repeated). Example: --params train.seed,test_size")] = None,
    metrics: Annotated[list[str] | None, typer.Option("--metrics", metavar="NAMES", help="The metrics to show as columns (comma list or repeated). Example: --metrics mse")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the experiments as a JSON list.")] = False,
) -> None:
    """List the experiment commits of the current branch, newest first.

    The status column says what happened to an experiment: failed (a non-zero exit kept with
    --allow-failure), not_run_by_mlv (recorded as found), rewritten, and the verdict of a
    saved `mlv reproduce --save`. Tags are the git tags on the commit (registry tags too).
    Piped, the table is printed as tab-separated lines with every param and metric, never
    cut or wrapped.

    Examples:

        mlv log -n 10

        mlv log --all --sort mse --filter 'r2>0.9'

        mlv log --sort=-r2 --metrics r2,mse --params test_size

        mlv log | column -t -s $'\\t'

        mlv log --json | jq '.[0].metrics'
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.errors import MlvError
    from mlv.record import history, listing

    with handle_errors():
        if all_branches and rev != "HEAD":
            raise MlvError("--all lists every branch; it cannot be combined with a revision",
                           hint="Drop the revision, or drop --all.")
        conditions = listing.parse_filters(filters or [])  # a typo fails before any git work
        root = git.find_root(Path.cwd())
        selecting = bool(conditions or sort)
        experiments = history.list_experiments(root, rev, None if selecting else number,
                                               with_packages=json_output, all_branches=all_branches)
        listing.annotate(root, experiments)
        if experiments:
            experiments = listing.select(experiments, conditions, sort, number)
        if json_output:
            output.emit_json([e.to_json() for e in experiments])
            return
        if not experiments:
            output.info("no experiment matches the filter" if conditions else
                        "no experiment commits yet; create one with `mlv snapshot`")
            return
        chosen = (listing.columns(experiments, params, "params") if params else None,
                  listing.columns(experiments, metrics, "metrics") if metrics else None)
        if output.stdout().is_terminal:
            _render_table(experiments, *chosen)
        else:
            _render_plain(experiments, *chosen)

def show_command(
    rev: Annotated[str | None, typer.Argument(help="The experiment commit (sha, branch, tag, HEAD~N, or a registry name such as churn#prod); default: HEAD.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the full record as JSON.")] = False,
) -> None:
    """Print one experiment's full record (default: HEAD). A commit without a record (a revert, a
    merge) is shown as its tree describes it; a record that disagrees with its tree is marked
    rewritten.

    Examples:

        mlv show

        mlv show HEAD~2 --json
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.cli.render import record_truth
    from mlv.errors import NotAnExperimentError
    from mlv.record import history
    from mlv.record.record import InvalidRecordError
    from mlv.registry import revisions

    with handle_errors():
        root = git.find_root(Path.cwd())
        target = revisions.resolve(root, rev or "HEAD")
        try:
            exp = history.show_experiment(root, target)
        except InvalidRecordError:
            raise
        except NotAnExperimentError as exc:
            # A revert or a merge has no record: what its tree holds is still worth showing.
            if not record_truth.show_plain_commit(root, target, exc.message, json_output):
                raise
            return
        if json_output:
            output.emit_json(exp.to_json())
            return
        _render_record(exp)


def register(app: typer.Typer) -> None:
    app.command("log")(log_command)
    app.command("show")(show_command)


def _status_cell(exp: object) -> str:
    """The status column: an experiment's labels, or why its record cannot be read."""
    from mlv.record.history import INVALID, Experiment, InvalidExperiment

    if isinstance(exp, InvalidExperiment):
        return INVALID
    assert isinstance(exp, Experiment)  # noqa: S101
    return ",".join(exp.labels or []) or "-"


def _render_table(experiments: Sequence[object], params: list[str] | None, metrics: list[str] | None) -> None:
    """The terminal table: the commit whole, then metrics, message and params; on a narrow
    terminal the command, date, status and tags are shortened or left out first."""
    from mlv.cli import output
    from mlv.cli.render.table import Column, render, terminal_width
    from mlv.record.history import Experiment, InvalidExperiment
    from mlv.record.listing import values_of

    valid = [e for e in experiments if isinstance(e, Experiment)]
    shown = params if params is not None else _key_params([values_of(e)["params"] for e in valid])
    with_status = any(_status_cell(e) != "-" for e in experiments)
    with_tags = any(e.tags for e in valid)
    columns = [Column("commit", key=True), Column("date", drop=6)]
    columns += [Column("status", drop=3)] * with_status + [Column("tags", drop=4)] * with_tags
    columns += [Column("message", shorten=True, min_width=12, drop=2), Column("command", shorten=True, drop=5),
                Column("params", drop=1), Column("metrics")]
    # Every cell quotes the repository: visible() shows control characters as escapes.
    show = output.visible
    rows: list[list[str]] = []
    for exp in experiments:
        cells = [exp.commit[:10]]  # type: ignore[attr-defined]
        if isinstance(exp, InvalidExperiment):
            # Marked, not hidden: the reason goes where the params would be.
            cells += [""] + [_status_cell(exp)] * with_status + [""] * with_tags
            cells += [show(_first_line(exp.message)), "", show(exp.error), ""]
        elif isinstance(exp, Experiment):
            rec = exp.record
            values = values_of(exp)
            keys = metrics if metrics is not None else list(values["metrics"])[:4]
            cells += [rec.created[:10]] + [show(_status_cell(exp))] * with_status
            cells += [show(_tags_cell(exp.tags or []))] * with_tags
            cells += [
                show(_first_line(exp.message)), show(rec.command or "-"),
                "\n".join(show(f"{k}={output.fmt_value(values['params'][k])}") for k in shown if k in values["params"]),
                "\n".join(show(f"{k}={output.fmt_value(values['metrics'][k])}") for k in keys if k in values["metrics"]),
            ]
        rows.append(cells)
    typer.echo("\n".join(render(columns, rows, terminal_width())))


def _tags_cell(tags: list[str]) -> str:
    """A version tag and how many more (`churn@v1.2.0 +2`): a row's tags can outnumber its fields."""
    if len(tags) <= 1:
        return "".join(tags)
    first = next((t for t in tags if "@v" in t), tags[0])
    return f"{first} +{len(tags) - 1}"


def _render_plain(experiments: Sequence[object], params: list[str] | None, metrics: list[str] | None) -> None:
    """Tab-separated lines for a pipe: every value whole, one column per param and metric.

    Values are made visible, so a tab or newline inside one is written `\\t`/`\\n` and cannot
    break a row.
    """
    from mlv.cli import output
    from mlv.record.history import Experiment, InvalidExperiment
    from mlv.record.listing import known_keys, values_of

    param_keys = params if params is not None else known_keys(experiments, "params")  # type: ignore[arg-type]
    metric_keys = metrics if metrics is not None else known_keys(experiments, "metrics")  # type: ignore[arg-type]
    rows = [["commit", "date", "status", "tags", "message", "command", *param_keys, *metric_keys]]
    for exp in experiments:
        if isinstance(exp, InvalidExperiment):
            rows.append([exp.commit[:10], "", _status_cell(exp), "", _first_line(exp.message), exp.error,
                         *[""] * (len(param_keys) + len(metric_keys))])
        elif isinstance(exp, Experiment):
            values = values_of(exp)
            rows.append([exp.commit[:10], exp.record.created[:10], _status_cell(exp), ",".join(exp.tags or []),
                         _first_line(exp.message), exp.record.command or "-",
                         *(_plain(values["params"], k) for k in param_keys),
                         *(_plain(values["metrics"], k) for k in metric_keys)])
    typer.echo("\n".join("\t".join(output.visible(cell) for cell in row) for row in rows))


def _plain(values: dict[str, object], key: str) -> str:
    from mlv.cli import output

    return output.fmt_value(values[key]) if key in values else ""


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else ""


def _key_params(params: list[dict[str, Any]], limit: int = 4) -> list[str]:
    """The params worth a column: those that differ between the experiments listed, else the first few."""
    keys: list[str] = []
    for flat in params:
        keys.extend(k for k in flat if k not in keys)
    varying = [k for k in keys if len({repr(p.get(k)) for p in params}) > 1]
    return (varying or keys)[:limit]


def _render_record(exp: object) -> None:
    from mlv.cli import output
    from mlv.cli.render import record_truth
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
    lines += record_truth.tree_truth_lines(exp)
    if rec.reproduces:
        lines.append(f"reproduces {rec.reproduces.get('commit', '')[:10]}: {rec.reproduces.get('verdict')}")
    modified, from_lock = set(rec.modified_by_run or []), rec.from_lock or {}
    for title, items, in_tree in (("data", rec.data, exp.data), ("outputs", rec.outputs, exp.outputs),
                                  ("plots", rec.plots or [], rec.plots or [])):
        pinned = {p.path: p for p in in_tree}
        for recorded in items:  # as the commit's tree pins them; the record's word only where it disagrees
            item = pinned.get(recorded.path, recorded)
            files = f" ({output.plural(item.nfiles, 'file')})" if item.nfiles is not None else ""
            note = ("  (the record's; not in the commit's tree)" if recorded.path not in pinned
                    else f"  (record: {recorded.md5})" if item.md5 != recorded.md5 else "")
            note += _provenance_note(item.path, modified, from_lock)
            lines.append(f"{title:<9} {item.path}  md5 {item.md5}  {output.fmt_size(item.size)}{files}{note}")
    lines += [f"metrics   {path} certified by dvc.lock (stage {stage})" for path, stage in from_lock.items()
              if path in rec.metrics]
    for key, value in flatten(rec.params).items():
        lines.append(f"param     {key} = {output.fmt_value(value)}")
    for key, value in flatten(rec.metrics).items():
        lines.append(f"metric    {key} = {output.fmt_value(value)}")
    env = rec.environment
    lines += [
        f"python    {env.python} ({env.implementation}) {env.interpreter}",
        f"platform  {env.platform} ({env.machine})",
        f"lockfile  {env.lockfile} ({output.plural(len(exp.packages or {}), 'package')})",
    ]
    for path, digest in env.project_lockfiles.items():
        lines.append(f"project   {path} sha256 {digest[:16]}")
    # Each line is one field from the repository: its control characters are shown, not obeyed.
    typer.echo("\n".join(output.visible(line) for line in lines))


def _provenance_note(path: str, modified: set[str], from_lock: dict[str, str]) -> str:
    """Where a recorded path's content comes from, when that is worth a word."""
    if path in modified:
        return "  (modified_by_run: recorded as the command read it; the run changed it)"
    if path in from_lock:
        return f"  (dvc.lock, stage {from_lock[path]})"
    return ""


def _message_lines(message: str) -> list[str]:
    """The commit message, one output line per message line (each made visible on its own)."""
    first, *rest = message.rstrip("\n").split("\n")
    return [f"message   {first}", *(f"          {line}" for line in rest)]
