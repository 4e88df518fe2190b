"""`mlv gate`: check an experiment against metric thresholds and a base, for CI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mlv.gate.gate import GateReport


def gate_command(
    rev: Annotated[str | None, typer.Argument(metavar="[REV]", help="The experiment to check (default: the latest experiment on this branch).", show_default=False)] = None,
    against: Annotated[str | None, typer.Option("--against", metavar="BASE|NAME#STAGE", help="The base to compare with: a branch or revision (its newest experiment), or a registry version such as churn#prod. Fetched first in a shallow clone.", show_default=False)] = None,
    md_file: Annotated[Path | None, typer.Option("--md", metavar="FILE", help="Write a Markdown report for a pull request: the rules table, then `mlv diff --md` against the base.", show_default=False)] = None,
    plots: Annotated[Path | None, typer.Option("--plots", metavar="DIR", help="Write the compared metrics as DIR/gate-metrics.png for CI artifacts (needs matplotlib; never uploaded).", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document: passed, candidate, base, default_rule, rules.")] = False,
    rules_from: Annotated[str | None, typer.Option("--rules-from", metavar="REV", help="Read the `gate:` rules from REV's committed .mlv/config.yaml (e.g. origin/main), not the work tree's: in CI, a pull request cannot relax its own gate.", show_default=False)] = None,
) -> None:
    """Check an experiment against the `gate:` rules of .mlv/config.yaml and a base.

    Rules per metric (min, max, max_drop_abs, max_drop_rel, higher_is_better), reproduced: true
    and data_check: pass, as the registry's promotion gates. With no metric rules, every metric
    both runs share may be at most 5% worse than the base (loss, error, mse, rmse, mae, log_loss:
    lower is better). One line per rule. Exit 0: every rule passed; 1: a rule failed; 2: the
    gate could not run (bad rule, non-numeric metric, unknown base).

    Examples:

        mlv gate --against main --md report.md

        mlv gate --rules-from origin/main --against main --md report.md

        mlv gate HEAD --against churn#prod --json | jq .passed
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.errors import EXIT_CANNOT_RUN, MlvError

    with handle_errors():
        from mlv.adapters import git
        from mlv.gate import gate

        root = git.find_root(Path.cwd())
        try:
            report = gate.run_gate(root, rev, against, rules_from)
            markdown = _markdown(root, report) if md_file is not None else None
        except MlvError as exc:
            from mlv.registry.trust import UntrustedVersionError

            if isinstance(exc, UntrustedVersionError):
                raise  # its own code: the base is not a version anyone should compare with
            # Whatever stopped the gate (config, git, a record), CI must tell it from a failed rule.
            clone = exc.with_context()
            clone.exit_code = EXIT_CANNOT_RUN
            raise clone from None
        if markdown is not None and md_file is not None:
            _write_atomically(md_file, markdown)
        if json_output:
            output.emit_json(report.to_json())
        else:
            from mlv.cli.render.gate import lines

            for line in lines(report):
                typer.echo(line)
        if plots is not None:
            from mlv.cli.render.gate import plot

            written = plot(report, plots)
            output.info(f"wrote {written}" if written else
                        "plots skipped: matplotlib is not installed (pip install matplotlib)")
    if not report.passed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("gate")(gate_command)


def _markdown(root: Path, report: GateReport) -> str:
    from mlv.cli.render.diff_md import render
    from mlv.cli.render.gate import markdown
    from mlv.diff import compare

    diff_md = None
    if report.base is not None:
        diff_md = render(compare.diff(root, [report.base.experiment.commit, report.candidate.experiment.commit]))
    return markdown(report, diff_md)


def _write_atomically(target: Path, text: str) -> None:
    """The report appears whole or not at all (a CI step may post whatever file is there)."""
    import os

    target = target.absolute()
    from mlv.data.safe_write import TEMP_MARK

    tmp = target.with_name(f".{target.name}{TEMP_MARK}{os.getpid()}")  # never committed by a snapshot
    tmp.write_text(text, "utf-8")
    os.replace(tmp, target)
