"""`mlv diff`: the terminal, JSON and Markdown renderings of mlv.diff."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mlv.diff.compare import DiffResult

_STATUS_STYLE = {"added": "green", "removed": "red", "modified": "yellow", "renamed": "cyan",
                 "upgraded": "green", "downgraded": "red", "changed": "yellow"}
_VERDICT_STYLE = {"better": "green", "worse": "red", None: "cyan"}
_MAX_PACKAGES = 10  # rows per kind of package change in the terminal
_MAX_CODE_FILES = 40


def diff_command(
    revisions: Annotated[list[str] | None, typer.Argument(metavar="[A] [B] [C...]", help="None: the latest experiment against the one before it (against HEAD when HEAD is a later commit without a record, such as a revert). One: that revision against the latest experiment. Two: A against B. Three or more: one table of their params and metrics.", show_default=False)] = None,
    workspace: Annotated[bool, typer.Option("--workspace", "-w", help="Compare the revision (default: HEAD, the latest experiment or a commit made since, such as a revert) with the work tree, uncommitted changes included.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document (keys code, data, environment, params, metrics, command).")] = False,
    markdown: Annotated[bool, typer.Option("--md", help="Print Markdown tables, ready to paste into a pull request.")] = False,
) -> None:
    """Compare two experiments: code, data, environment, params, metrics and command.

    Sections in which nothing changed are left out. Nothing is checked out: commits are read
    from git objects and the DVC cache, and the work tree and index are never written.

    Examples:

        mlv diff                      # latest experiment vs the one before it

        mlv diff HEAD~3               # HEAD~3 vs the latest experiment

        mlv diff baseline main --md   # for a pull request description

        mlv diff --workspace          # latest experiment vs uncommitted changes

        mlv diff --json | jq .metrics

        mlv diff HEAD~2 HEAD~1 HEAD   # three experiments: one table of params and metrics
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.diff import compare
    from mlv.errors import MlvError

    with handle_errors():
        if json_output and markdown:
            raise MlvError("--json and --md cannot be combined", hint="Pick one output format.")
        if revisions and len(revisions) > 2:
            _many(git.find_root(Path.cwd()), revisions, workspace, json_output, markdown)
            return
        result = compare.diff(git.find_root(Path.cwd()), revisions or [], workspace)
        if json_output:
            output.emit_json(result.to_json())
        elif markdown:
            from mlv.cli.render.diff_md import render

            typer.echo(render(result), nl=False)
        else:
            _render(result, output.stdout())


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_command)


def _many(root: Path, revisions: list[str], workspace: bool, json_output: bool, markdown: bool) -> None:
    """Three or more revisions: one row each, a column per changed param and per metric."""
    from mlv.cli import output
    from mlv.diff.many import compare_many
    from mlv.errors import MlvError

    if workspace or markdown:
        raise MlvError(f"{'--workspace' if workspace else '--md'} compares two sides; got {len(revisions)} revisions",
                       hint="Drop it, or give at most two revisions.")
    result = compare_many(root, revisions)
    if json_output:
        output.emit_json(result.to_json())
        return
    params, metrics = result.changed("params"), result.keys("metrics")
    header = ["experiment", "message", *params, *metrics]
    cells = [[row.label, row.message, *(_cell(row.params, k) for k in params), *(_cell(row.metrics, k) for k in metrics)]
             for row in result.rows]
    console = output.stdout()
    if not console.is_terminal:  # a pipe: tab-separated, every value whole
        typer.echo("\n".join("\t".join(output.visible(c) for c in line) for line in [header, *cells]))
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    # The experiment whole; values never split across lines (shortened with an ellipsis at most).
    for index, column in enumerate(header):
        table.add_column(_esc(column), no_wrap=index != 1, overflow="ellipsis" if index else "fold",
                         justify="left" if index < 2 else "right", min_width=len(column) if index else None)
    best = {k: result.best(k) for k in metrics}
    for index, line in enumerate(cells):
        styled = [_esc(c) for c in line]
        for offset, key in enumerate(metrics, start=2 + len(params)):
            if index in best[key]:
                styled[offset] = f"[bold green]{styled[offset]}[/bold green]"
        table.add_row(*styled)
    console.print(table)
    same = [k for k in result.keys("params") if k not in params]
    if same:
        first = result.rows[0].params
        console.print(f"[dim]same in all: {_esc(', '.join(f'{k}={_cell(first, k)}' for k in same))}[/dim]")


def _cell(values: dict[str, object], key: str) -> str:
    from mlv.cli.render import diff_format

    return diff_format.value(values[key]) if key in values else "-"


def _render(result: DiffResult, console: Console) -> None:
    from mlv.cli.render import diff_format

    console.print(f"[bold]mlv diff[/bold] {_esc(diff_format.side_title(result.old))} [dim]\u2192[/dim] "
                  f"{_esc(diff_format.side_title(result.new))}")
    for side in (result.old, result.new):
        for note in side.notes:  # the tree is the truth: say when a record or a merge disagrees
            console.print(f"[yellow]warning:[/yellow] {_esc(diff_format.side_title(side))}: {_esc(note)}")
    if result.identical:
        console.print("no differences")
    else:
        for part in (_code, _data, _environment, _params, _metrics, _command):
            part(result, console)
    for names, reason in diff_format.unavailable(result):
        console.print(f"\n[dim]{names}: {_esc(reason)}[/dim]")


def _esc(text: str) -> str:
    """Repository text (names, paths, messages, values) for rich markup: shown, never obeyed."""
    from mlv.cli import output

    return output.literal(text)


def _table(console: Console, title: str, *columns: str) -> Table:
    from rich.table import Table

    console.print(f"\n[bold]{title}[/bold]")
    table = Table(box=None, pad_edge=False, header_style="dim", show_edge=False)
    # The first column names the row (a file, path, package, param or metric): kept whole. Values
    # are never split across lines; on a narrow terminal they are shortened with an ellipsis.
    for index, column in enumerate(columns):
        justify = "right" if column in {"+", "-", "old", "new", "change"} else "left"
        table.add_column(column, justify=justify, no_wrap=True,  # type: ignore[arg-type]
                         overflow="fold" if index == 0 else "ellipsis")
    return table


def _styled(text: str, status: str) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{_esc(text)}[/{style}]" if style else _esc(text)


def _code(result: DiffResult, console: Console) -> None:
    from mlv.cli import output

    code = result.code
    if not code.changed:
        return
    totals = code.totals()
    table = _table(console, f"Code  [dim]{output.plural(totals['files'], 'file')}, +{totals['added_lines']} "
                            f"-{totals['removed_lines']} lines[/dim]", "file", "status", "+", "-")
    for f in code.files[:_MAX_CODE_FILES]:  # keep one screen; --json lists them all
        name = f"{f.old_path} \u2192 {f.path}" if f.old_path else f.path
        plus, minus = ("binary", "") if f.binary else (f"+{f.added_lines}", f"-{f.removed_lines}")
        table.add_row(_esc(name), _styled(f.status, f.status), f"[green]{plus}[/green]", f"[red]{minus}[/red]")
    if len(code.files) > _MAX_CODE_FILES:
        table.add_row(f"[dim]\u2026 {len(code.files) - _MAX_CODE_FILES} more files (--json lists all)[/dim]", "", "", "")
    console.print(table)


def _data(result: DiffResult, console: Console) -> None:
    from rich.table import Table

    from mlv.cli.render import diff_format

    if not result.data.changed:
        return
    table = _table(console, "Data", "path", "kind", "status", "size", "files")
    changed = [e for e in result.data.entries if e.status != "unchanged"]
    for e in changed:
        table.add_row(_esc(e.path), _esc(e.kind), _styled(e.status, e.status), diff_format.data_size(e),
                      _esc(diff_format.data_details(e)) if not e.note else "[yellow]unknown[/yellow]")
    console.print(table)
    # Notes and file names go below the table, in a grid that keeps wrapped names indented.
    names = Table.grid(padding=(0, 1))
    names.add_column(no_wrap=True)
    names.add_column(overflow="fold")
    for e in changed:
        if e.note:
            names.add_row(f"  {_esc(e.path)}:", f"[yellow]{_esc(e.note)}[/yellow]")
        if e.folder is not None:
            for kind, first, extra in diff_format.folder_names(e.folder):
                names.add_row(f"  {_esc(e.path)}/ {_styled(kind, kind)}:", _esc(", ".join(first)) + diff_format.more(extra))
    if names.row_count:
        console.print(names)
    unchanged = [e.path for e in result.data.entries if e.status == "unchanged"]
    if unchanged:
        console.print(f"  [dim]unchanged: {_esc(', '.join(unchanged))}[/dim]")


def _environment(result: DiffResult, console: Console) -> None:
    from mlv.cli.render import diff_format

    env = result.environment
    if not env.changed:
        return
    table = _table(console, "Environment", "package", "change", "old", "new")
    shown: dict[str, int] = {}
    for label, item in diff_format.package_rows(env):
        shown[label] = shown.get(label, 0) + 1
        if shown[label] <= _MAX_PACKAGES:  # keep one screen; --json lists them all
            table.add_row(_esc(item.name), _styled(label, label), _esc(diff_format.value(item.old)),
                          _esc(diff_format.value(item.new)))
    for label, count in shown.items():
        if count > _MAX_PACKAGES:
            table.add_row(f"[dim]\u2026 {count - _MAX_PACKAGES} more[/dim]", _styled(label, label), "", "")
    if shown:
        console.print(table)
    if not env.packages_known:
        console.print("  [dim]package lists unavailable: a lockfile is missing from a commit[/dim]")


def _params(result: DiffResult, console: Console) -> None:
    from mlv.cli.render import diff_format

    if not result.params.changed:
        return
    table = _table(console, "Params", "param", "old", "new")
    for c in result.params.entries:
        table.add_row(_esc(c.key), _esc(diff_format.value(c.old)), _styled(diff_format.value(c.new), c.status))
    console.print(table)


def _metrics(result: DiffResult, console: Console) -> None:
    from mlv.cli.render import diff_format

    if not result.metrics.changed:
        return
    table = _table(console, "Metrics", "metric", "old", "new", "change")
    for c in result.metrics.entries:
        style = _VERDICT_STYLE[diff_format.metric_verdict(c)]
        arrow = {"up": "\u25b2 ", "down": "\u25bc "}.get(c.direction or "", "")
        change = f"[{style}]{arrow}{_esc(diff_format.metric_change(c))}[/{style}]" if c.direction else c.status
        table.add_row(_esc(c.key), _esc(diff_format.value(c.old)), _esc(diff_format.value(c.new)), change)
    console.print(table)


def _command(result: DiffResult, console: Console) -> None:
    cmd = result.command
    if not cmd.changed:
        return
    console.print("\n[bold]Command[/bold]")
    console.print(f"  [red]- {_esc(cmd.old or '(none)')}[/red]\n  [green]+ {_esc(cmd.new or '(none)')}[/green]")
