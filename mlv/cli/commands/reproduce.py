"""`mlv reproduce`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mlv.reproduce.rerun import ReproduceOptions, ReproducePlan, ReproduceResult


def reproduce_command(
    rev: Annotated[str, typer.Argument(help="The commit to re-run (an experiment, or a plain DVC pipeline commit): sha, short sha, branch, tag or HEAD~N.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run the recorded command without asking (required without a terminal).")] = False,
    env: Annotated[str, typer.Option("--env", help="'current': run in the current environment and list every difference from the recorded one; 'fresh': build (once, cached) a virtual environment from the commit's lockfile and run in it.")] = "current",
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance for metrics (0.01 = 1%).")] = 0.0,
    atol: Annotated[float, typer.Option("--atol", help="Absolute tolerance for metrics.")] = 0.0,
    keep: Annotated[bool, typer.Option("--keep", help="Keep the worktree the command ran in (its path is printed).")] = False,
    save: Annotated[bool, typer.Option("--save", help="Record the re-run as an experiment commit, on branch mlv/reproduced/<sha>, naming the commit it reproduces and the verdict.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON (the command's own output goes to stderr).")] = False,
    runs: Annotated[int, typer.Option("--runs", help="Re-run N times (each in a fresh worktree): say whether the command is deterministic and how each metric spreads across the runs and the original.")] = 1,
    skip_local: Annotated[bool, typer.Option("--skip-local", help="With --env fresh: leave out the lockfile lines that install from a path of the machine that recorded them (-e file:///..., NAME @ file:///...); the verdict then says the environment was altered.")] = False,
    substitute: Annotated[list[str] | None, typer.Option("--substitute", metavar="NAME=PATH", help="With --env fresh: install PATH (a checkout, wheel or sdist of yours) instead of the lockfile's local line for package NAME. Repeatable; the verdict then says the environment was altered.", show_default=False)] = None,
) -> None:
    """Re-run an experiment in a separate worktree and say whether it reproduced.

    Your work tree, index, HEAD, stash and untracked files are never touched. The data is
    restored from the DVC cache (fetched from the DVC remote if missing), the recorded command
    runs with its output live, and the outputs, metrics and exit code are compared with the
    record; a verdict other than reproduced says its cause. A commit without an mlv record
    that has a dvc.yaml re-runs `dvc repro` and is compared with its dvc.lock and metrics
    files; its environment is unknown, so it is at best unverified. Exit code: 0 reproduced
    (or within tolerance), 1 not reproduced, 2 could not run, 5 unverified (nothing to
    compare but the exit code, or no mlv record), 130 interrupted.

    Examples:

        mlv reproduce HEAD~1 --yes

        mlv reproduce baseline --env fresh --rtol 1e-6

        mlv reproduce a1b2c3d --yes --save --json | jq -r .verdict

        mlv reproduce HEAD --yes --runs 3

        mlv reproduce HEAD --env fresh --substitute mylib=../mylib
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.cli.render.progress import BuildProgressLine
    from mlv.reproduce import rerun
    from mlv.verdict.verdict import EXIT_UNVERIFIED, UNVERIFIED

    with handle_errors():
        options = rerun.ReproduceOptions(rev=rev, env=env, rtol=rtol, atol=atol, keep=keep,
                                             save=save, stdout_to_stderr=json_output, runs=runs,
                                             skip_local=skip_local, substitutes=_substitutes(substitute or []))
        plan = rerun.plan(Path.cwd(), options)
        _announce(plan, options.env)
        if not yes:
            _need_a_terminal()  # consent first: without it, nothing else needs deciding
        _ask_about_local_lines(plan, options)
        for alteration in rerun.settle_local_lines(plan, options):
            output.warn(f"the fresh environment will not be the recorded one: {alteration.describe()}")
        if not yes:
            _confirm(plan)
        building = BuildProgressLine(enabled=not json_output)
        try:
            result = rerun.execute(plan, options, notify=output.info, build_progress=building)
        finally:
            building.close()
        for line in result.warnings:
            if line not in plan.notes:  # those were said before the run
                output.warn(line)
        if json_output:
            output.emit_json(result.to_json())
        else:
            _render(result)
        if result.verdict.verdict == UNVERIFIED:
            raise typer.Exit(EXIT_UNVERIFIED)
        if not result.verdict.succeeded:
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("reproduce")(reproduce_command)


def _announce(plan: ReproducePlan, env_mode: str) -> None:
    """What will run and in which environment, on stderr, before anything runs."""
    from mlv.cli import output

    exp = plan.experiment
    output.info(f"Reproducing {exp.commit[:10]} {exp.message.splitlines()[0] if exp.message else ''}".rstrip())
    output.info(f"  command: {plan.command}")
    if not plan.has_record:
        output.info("  no mlv record; running the pipeline dvc.yaml declares, compared with the commit's dvc.lock "
                    "and metrics files (the environment it ran in was never recorded: at best `unverified`)")
    if env_mode == "fresh":
        output.info("  environment: fresh, built from the commit's lockfile")
        _announce_lockfile(plan)
        return
    output.info(f"  environment: current ({plan.interpreter})")
    if plan.repository_interpreter is not None:
        output.info(f"  the interpreter {plan.repository_interpreter!r} is inside the repository: it is "
                    "compared with the recorded environment only once the command may run")
    for note in plan.notes:
        output.warn(note)
    if plan.mismatches:
        output.warn(f"the current environment differs from the recorded one in {output.plural(len(plan.mismatches), 'way')}:")
        for mismatch in plan.mismatches:
            output.info(f"  - {mismatch.describe()}")


def _announce_lockfile(plan: ReproducePlan) -> None:
    """The lockfile lines that are not plain package-index pins: they are the ones to read."""
    from mlv.cli import output
    from mlv.env.fresh import find_installer

    contents = plan.lockfile_contents
    output.info(f"  packages: {len(contents.requirements)} from the lockfile, installed with {find_installer()[0]} "
                "from your configured package index")
    if contents.local:
        output.warn(f"{output.plural(len(contents.local), 'lockfile line')} install from a path of the machine "
                    "that recorded the experiment, which cannot be installed here; skip or substitute them:")
        for local in contents.local:
            output.info(f"  - {local.name}: {_printable(local.line)}")
    if contents.outside_index:
        output.warn(f"{output.plural(len(contents.outside_index), 'package')} in the lockfile install from a URL or a path, "
                    "not from the package index (pip may run their build code):")
        for line in contents.outside_index:
            output.info(f"  - {_printable(line)}")
    if contents.ignored:
        output.warn(f"{output.plural(len(contents.ignored), 'lockfile line')} are options or not plain requirements; "
                    "they are ignored (never passed to pip):")
        for line in contents.ignored:
            output.info(f"  - {_printable(line)}")


def _substitutes(given: list[str]) -> dict[str, str]:
    from mlv.errors import EXIT_CANNOT_RUN, MlvError

    found = {}
    for item in given:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise MlvError(f"--substitute {item!r}: expected NAME=PATH, e.g. --substitute mylib=../mylib",
                           exit_code=EXIT_CANNOT_RUN)
        found[name.strip()] = path.strip()
    return found


def _ask_about_local_lines(plan: ReproducePlan, options: ReproduceOptions) -> None:
    """On a terminal, ask what to do with each local lockfile line the options leave open:
    skip it, install a path instead, or abort. Without one, settle_local_lines refuses."""
    import sys

    from mlv.env.environment import normalize_name
    from mlv.errors import EXIT_CANNOT_RUN, MlvError
    from mlv.text import visible

    if options.env != "fresh" or options.skip_local or not sys.stdin.isatty():
        return
    given = {normalize_name(name) for name in options.substitutes}
    for local in plan.lockfile_contents.local:
        if normalize_name(local.name) in given or local.path_here() is not None:  # installed from there
            continue
        answer = typer.prompt(f"{visible(local.name)}: [s]kip it, install a [p]ath of yours instead, or [a]bort?",
                              default="a", err=True).strip().lower()
        if answer.startswith("s"):
            options.skipped.add(local.name)
        elif answer.startswith("p"):
            options.substitutes[local.name] = typer.prompt(f"path to install as {visible(local.name)}",
                                                           err=True).strip()
        else:
            raise MlvError("aborted; nothing was built or run", exit_code=EXIT_CANNOT_RUN)


def _printable(line: str) -> str:
    """A lockfile line as text: control characters could otherwise hide it on a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def _need_a_terminal() -> None:
    import sys

    from mlv.errors import EXIT_CANNOT_RUN, MlvError

    if not sys.stdin.isatty():
        raise MlvError("refusing to run the recorded command without confirmation: there is no terminal to ask",
                       hint="Read it with `mlv show REV`, then pass --yes.", exit_code=EXIT_CANNOT_RUN)


def _confirm(plan: ReproducePlan) -> None:
    from mlv.errors import EXIT_CANNOT_RUN, MlvError
    from mlv.text import visible

    _need_a_terminal()
    # The command is shown exactly as it will run: escapes in it must not redraw the prompt.
    if not typer.confirm(f"Run `{visible(plan.command)}` from commit {plan.experiment.commit[:10]}?", err=True):
        raise MlvError("not confirmed; nothing was run", exit_code=EXIT_CANNOT_RUN)


def _render(result: ReproduceResult) -> None:
    from rich.table import Table

    from mlv.cli import output

    v = result.verdict
    table = Table(title=f"Reproduce {result.commit[:10]}: {v.verdict.upper().replace('_', ' ')}",
                  title_justify="left")
    for column in ("check", "recorded", "re-run", "result"):
        table.add_column(column)
    lit = output.literal  # cells quote the record: paths, names and values from the repository
    if v.exit_code is not None:
        recorded = "-" if v.exit_code.recorded is None else str(v.exit_code.recorded)
        table.add_row("exit code", lit(recorded), lit(str(v.exit_code.reproduced)), v.exit_code.status)
    for out in v.outputs:
        table.add_row(lit(f"output {out.path}"), lit(out.recorded[:12]), lit((out.reproduced or "-")[:12]),
                      out.status)
    for metric in v.metrics:
        status = metric.status
        if metric.difference:
            status += f" (diff {metric.difference:+.6g})"
        table.add_row(lit(f"metric {metric.name}"), lit(_fmt(metric.recorded)), lit(_fmt(metric.reproduced)),
                      status)
    if v.stdout is not None and v.stdout.status != "not_recorded":
        table.add_row("stdout sha256", lit((v.stdout.recorded or "-")[:12]), lit(v.stdout.reproduced[:12]),
                      v.stdout.status)
    table.add_row("environment", *_environment_cells(result))
    output.stdout().print(table)
    if v.rtol or v.atol:
        typer.echo(f"tolerance: rtol={v.rtol:g} atol={v.atol:g}")
    if result.worktree:
        typer.echo(f"worktree kept at {output.visible(str(result.worktree))}")
    if result.saved_commit:
        typer.echo(f"saved as {result.saved_commit[:10]} on branch {output.visible(result.saved_branch or '')}")
    if result.runs is not None:
        _render_runs(result)
    typer.echo(f"verdict: {v.verdict}")
    if v.modified_by_run:
        typer.echo(output.visible(f"modified_by_run: the command changes its own input {', '.join(v.modified_by_run)}; "
                                  "the re-run started from it as recorded (as the command first read it)"))
    if v.cause or v.cause_detail:
        typer.echo(output.visible(f"cause: {v.cause or '-'}: {v.cause_detail or ''}".rstrip(": ")))


def _environment_cells(result: ReproduceResult) -> tuple[str, str, str]:
    """Recorded, re-run and result of the environment row; a commit without a record has none."""
    from mlv.cli import output

    if not result.has_record:
        return "not recorded", result.env_mode, "unknown"
    changes = [output.plural(len(result.mismatches), "difference")] if result.mismatches else []
    changes += [output.plural(len(result.environment_altered), "line")
                + " skipped or substituted"] if result.environment_altered else []
    return result.env_mode, "; ".join(changes) or "same", "differs" if changes else "same"


def _render_runs(result: ReproduceResult) -> None:
    from mlv.cli import output

    runs = result.runs
    assert runs is not None  # noqa: S101
    typer.echo(f"runs: {runs.count}, {'deterministic' if runs.deterministic else 'NOT deterministic'} "
               f"({', '.join(runs.verdicts)})")
    for spread in runs.metrics:
        if spread.min is not None:
            typer.echo(output.visible(f"  {spread.name}: min {spread.min:.6g}, max {spread.max:.6g} "
                                      f"(original {_fmt(spread.original)})"))


def _fmt(value: object) -> str:
    from mlv.cli import output

    return "-" if value is None else output.fmt_value(value)
