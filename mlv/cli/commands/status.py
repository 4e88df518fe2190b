"""`mlv status`: changes since the latest experiment, what is not shared, whether hooks are on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mlv.diff.compare import DiffResult
    from mlv.status.status import StatusReport, Unshared

_MAX_NAMES = 5  # names per line before "and N more"


def status_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document (schema: mlv/schemas/status.schema.json).")] = False,
) -> None:
    """Show what changed since the latest experiment, what is not pushed, and whether hooks are installed.

    Changes are those of `mlv diff --workspace` against the latest experiment (code, data,
    params, metrics, environment, command). Not pushed: commits the git remote lacks, and the
    data objects a folder DVC remote lacks ("unknown" for a cloud remote: ask it with
    `dvc status --cloud`). Nothing is written but mlv's stat cache.

    Examples:

        mlv status

        mlv status --json | jq .unshared
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.status.status import status

    with handle_errors():
        report = status(git.find_root(Path.cwd()))
        if json_output:
            output.emit_json(report.to_json())
            return
        typer.echo("\n".join(output.visible(line) for line in status_lines(report)))


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)


def status_lines(report: StatusReport) -> list[str]:
    """The text of `mlv status`, one line per fact (each made visible by the caller)."""
    lines = [_where(report)]
    exp = report.experiment
    if exp is None:
        lines.append("no experiment yet: record one with `mlv snapshot --run 'python train.py'`")
    else:
        since = "HEAD" if report.commits_since == 0 else _plural(report.commits_since or 0, "commit") + " ago"
        lines.append(f"latest experiment: {exp.commit[:10]} {_first_line(exp.message)!r} ({since})")
        if report.changes_error:
            lines.append(f"  changes unknown: {report.changes_error}")
        elif report.changes is not None:
            lines += _change_lines(report.changes)
    lines += _unshared_lines(report)
    lines.append(_hooks_line(report))
    lines.append("changes found by: Watchman (a watcher reports what changed)" if report.change_detection == "watcher"
                 else "changes found by: walking every tracked file (see docs/how-to/watcher.md to turn the watcher on)")
    return lines


def _where(report: StatusReport) -> str:
    if report.head is None:
        return "no commits yet"
    if report.branch is None:
        return f"HEAD detached at {report.head[:10]}"
    return f"on branch {report.branch} at {report.head[:10]}"


def _change_lines(result: DiffResult) -> list[str]:
    if result.identical:
        return ["  nothing changed since it"]
    lines = ["  changed since:"]
    code = result.code
    if code.changed:
        names = [f"{f.path} ({f.status})" for f in code.files]
        lines.append(f"    code         {_names(names)}")
    if result.data.changed:
        names = [f"{e.path} ({e.status})" for e in result.data.entries if e.status != "unchanged"]
        lines.append(f"    data         {_names(names)}")
    for title, section in (("params", result.params), ("metrics", result.metrics)):
        if section.changed:
            names = [f"{c.key} {_value(c.old)} -> {_value(c.new)}" for c in section.entries]
            lines.append(f"    {title:<12} {_names(names)}")
    env = result.environment
    if env.changed:
        count = sum(len(group) for group in (env.added, env.removed, env.upgraded, env.downgraded,
                                             env.changed_other))
        parts = [f"python {env.python.old} -> {env.python.new}"] if env.python else []
        parts += [_plural(count, "package") + " changed"] if count else []
        parts += ["package lists unavailable"] if not env.packages_known else []
        lines.append(f"    environment  {', '.join(parts) or 'platform changed'}")
    if result.command.changed:
        lines.append(f"    command      {result.command.old or '(none)'} -> {result.command.new or '(none)'}")
    if not result.environment.available and result.environment.reason:
        lines.append(f"    environment  not compared: {result.environment.reason}")
    return lines


def _unshared_lines(report: StatusReport) -> list[str]:
    u = report.unshared
    if u.commits is not None:
        commits = f"{_plural(u.commits, 'commit')} not on {u.git_remote}" if u.commits else \
            f"every commit is on {u.git_remote}"
    else:
        commits = f"commits: unknown ({u.commits_reason})"
    if u.data_objects is not None:
        data = (f"{_plural(u.data_objects, 'data object')} not on DVC remote {u.dvc_remote}" if u.data_objects
                else f"all data on DVC remote {u.dvc_remote}")
    else:
        data = f"data: unknown ({u.data_reason})"
    return [f"not pushed: {commits}; {data}", *_unshared_refs_lines(u)]


def _unshared_refs_lines(u: Unshared) -> list[str]:
    """The registry's tags and saved verdicts `mlv push` would send, named (a few) or counted."""
    from mlv.cli import output

    lines = []
    for what, found, reason in (("registry tag", u.tags, u.tags_reason), ("saved verdict", u.verdicts,
                                                                           u.verdicts_reason)):
        if found:
            shown = ", ".join(output.visible(n) for n in found[:3]) + (f" +{len(found) - 3}" if len(found) > 3 else "")
            lines.append(f"not pushed: {_plural(len(found), what)} ({shown})")
        elif found is None and reason and u.git_remote is not None:
            lines.append(f"{what}s: unknown ({reason})")
    return lines


def _hooks_line(report: StatusReport) -> str:
    hooks = report.hooks
    if hooks.state == "installed":
        return "hooks: installed"
    if hooks.state == "unknown":
        return f"hooks: unknown ({hooks.reason})"
    missing = [h.name for h in hooks.hooks if h.state not in {"mlv", "chained"} or not h.interpreter_ok]
    return f"hooks: {hooks.state} (missing: {', '.join(missing)}); install them with `mlv hooks install`"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown + (f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else "")


def _value(value: object) -> str:
    from mlv.cli import output

    return "(none)" if value is None else output.fmt_value(value)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else ""
