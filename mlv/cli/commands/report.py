"""`mlv report`: one self-contained HTML page of experiments, metrics, models and data health."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_command(
    out: Annotated[Path, typer.Option("-o", "--out", help="The HTML file to write (replaced whole, atomically). Example: -o public/report.html")] = Path("report.html"),
    rev: Annotated[str, typer.Option("--rev", metavar="RANGE", help="The experiments reachable from this revision, or a range A..B (those of B not in A). Example: --rev main~50..main")] = "HEAD",
    all_branches: Annotated[bool, typer.Option("--all", help="The experiments of every branch (not --rev). Example: mlv report --all")] = False,
    log: Annotated[str | None, typer.Option("--log", metavar="URL", help="Add a Production section from this prediction log (a folder or an fsspec URL; default: monitor.log in .mlv/config.yaml, else none). Example: --log predictions", show_default=False)] = None,
    against: Annotated[str | None, typer.Option("--against", metavar="REV", help="Check the newest experiment's data against its version at this commit or registered model (NAME@vX, NAME#STAGE), instead of the previous version. Example: --against churn#prod", show_default=False)] = None,
) -> None:
    """Write one HTML page of the experiments: a sortable, filterable table; each metric over time
    with registered versions marked; any two runs compared; the model registry; and the data
    health of the newest experiment's datasets; with a prediction log (--log or monitor.log), a
    Production section: latency and throughput over time, drift per day, performance once labels
    exist (`mlv monitor` per day of the last week).

    The page is one file with nothing fetched at view time (styles, script and charts are inline),
    so a CI job can keep it as an artifact and anyone can open it with a double-click. Its data
    is the same JSON that `mlv log --json`, `mlv model ... --json` and `mlv data check --json` print.

    Examples:

        mlv report

        mlv report -o public/report.html --all

        mlv report --rev HEAD~1..HEAD -o build/latest.html

        mlv report --against churn#prod
    """
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.errors import MlvError
    from mlv.report.build import write_report
    from mlv.report.gather import Selection

    with handle_errors():
        if all_branches and rev != "HEAD":
            raise MlvError("--all reports every branch; it cannot be combined with --rev",
                           hint="Drop --rev, or drop --all.")
        root = git.find_root(Path.cwd())
        written = write_report(root, out, Selection(rev, all_branches, log, against))
        invalid = f" ({written.invalid} with an unreadable record)" if written.invalid else ""
        output.info(f"wrote {written.path}: {output.plural(written.experiments, 'experiment')}{invalid}")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
