"""`mlv data profile` and `mlv data check`: data health and drift, in the work tree or from history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from mlv.datahealth.history import Revision, Side
    from mlv.datahealth.model import Profile
    from mlv.datahealth.thresholds import Thresholds

data_app = typer.Typer(name="data", help="Profile a tabular dataset, and check its health and drift against another version.\n\nExample: mlv data check data --against churn@v1.0.0",
                       no_args_is_help=True, rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@contextmanager
def _could_not_run() -> Iterator[None]:
    """Any failure before a result exists means the check could not run: exit code 2."""
    from mlv.datahealth.errors import DataHealthError
    from mlv.errors import EXIT_CANNOT_RUN, MlvError

    try:
        yield
    except MlvError as exc:
        if exc.exit_code == EXIT_CANNOT_RUN:
            raise
        raise DataHealthError(exc.message, hint=exc.hint) from None


@data_app.command("profile")
def profile_command(
    path: Annotated[Path | None, typer.Argument(metavar="[PATH]", help="A CSV or Parquet file, or a folder of them with the same columns (default: the project's one tabular data path).", show_default=False)] = None,
    rev: Annotated[str | None, typer.Option("--rev", metavar="REV", help="The dataset as this commit, experiment or registered model (NAME@vX, NAME#STAGE) recorded it: its stored profile, or computed from the DVC cache.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the profile as JSON (docs/reference/data-profile.md); save it to check against later.")] = False,
    engine: Annotated[str, typer.Option("--engine", metavar="ENGINE", help="default: one process. dask: one task per file on a Dask scheduler, the pieces merged (needs pip install 'mlv-vcs[dask]').")] = "default",
    scheduler: Annotated[str, typer.Option("--scheduler", metavar="ADDRESS", help="With --engine dask: a scheduler address (tcp://HOST:8786) or threads, processes, synchronous.")] = "threads",
) -> None:
    """Profile a dataset: rows; per column its type, missing and distinct values, quantiles, top values.

    One streaming pass in bounded memory. With --rev, the profile stored with that commit (no data
    is read); a commit older than stored profiles has it computed from the DVC cache, fetching from
    the DVC remote if needed, without a checkout. Needs the optional extra: pip install 'mlv-vcs[data]'.

    Examples:

        mlv data profile data/train.csv

        mlv data profile data --rev churn@v1.0.0

        mlv data profile data/ --json > reference-profile.json

        mlv data profile data/shards --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors

    with handle_errors(), _could_not_run():
        if engine not in {"default", "dask"}:
            from mlv.datahealth.errors import DataHealthError

            raise DataHealthError(f"--engine {engine!r} is not known", hint="Use default or dask.")
        if engine == "dask":
            profile, label = _dask_profile(path, rev, scheduler)
        elif rev is None and path is not None:
            profile, label = _load(path), str(path)
        else:
            side = _profile_side(path, rev)
            profile, label = side.profile, side.label + (" (stored profile)" if side.stored else "")
        if json_output:
            output.emit_json(profile.to_json())
        else:
            from mlv.cli.render.data_health import render_profile

            render_profile(profile, output.stdout(), label if rev is not None or path is None else None)


def _dask_profile(path: Path | None, rev: str | None, scheduler: str) -> tuple[Profile, str]:
    from mlv.datahealth.errors import DataHealthError
    from mlv.datahealth.partitions import profile_dataset_dask

    if rev is not None or path is None:
        raise DataHealthError("--engine dask profiles files or folders named on the command line",
                              hint="Name the dataset: `mlv data profile PATH --engine dask`; drop --rev.")
    return profile_dataset_dask(path, scheduler), str(path)


def _profile_side(path: Path | None, rev: str | None) -> Side:
    from mlv.adapters import git
    from mlv.datahealth import history
    from mlv.datahealth.history import Side

    root = git.find_root(Path.cwd())
    if rev is None:  # no PATH: the project's tabular data path, as it is in the work tree
        import os

        from mlv.datahealth.profiler import profile_dataset

        rel = _default_work_tree_path(root)
        return Side(profile_dataset(Path(os.path.relpath(root / rel))), f"{rel} (work tree)")
    revision = history.resolve(root, rev)
    rel = history.repo_path(root, path) if path is not None else history.only_tabular_path(
        root, revision.data, f"{revision.shown} ({revision.commit[:10]})")
    return history.profile_at(root, revision, rel)


def _default_work_tree_path(root: Path) -> str:
    from mlv.datahealth.errors import DataHealthError
    from mlv.datahealth.reader import find_dataset
    from mlv.project import config

    tabular = []
    for rel in config.load(root).data:
        try:
            find_dataset(root / rel)
        except DataHealthError:
            continue
        tabular.append(rel)
    if len(tabular) != 1:
        what = "no CSV or Parquet data path" if not tabular else f"several tabular data paths ({', '.join(tabular)})"
        raise DataHealthError(f"the project has {what}; name a dataset", hint="For example: `mlv data profile data/train.csv`.")
    return tabular[0]


@data_app.command("check")
def check_command(
    path: Annotated[Path | None, typer.Argument(metavar="[PATH]", help="The current dataset: a CSV or Parquet file, a folder of them, or (with --against-file) a saved profile (.json). Default: the reference's one tabular data path.", show_default=False)] = None,
    against: Annotated[str | None, typer.Option("--against", metavar="REV|NAME@vX|NAME#STAGE", help="The reference: the same data path as a commit, experiment or registered model recorded it (default: the latest experiment).", show_default=False)] = None,
    against_file: Annotated[Path | None, typer.Option("--against-file", metavar="REF_PATH", help="The reference: a dataset on disk or a profile saved with `mlv data profile --json`.", show_default=False)] = None,
    rev: Annotated[str | None, typer.Option("--rev", metavar="REV", help="Check the data as this commit recorded it instead of the work tree's.", show_default=False)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document (mlv/schemas/data-check.schema.json).")] = False,
    markdown: Annotated[bool, typer.Option("--md", help="Print Markdown tables, ready to paste into a pull request.")] = False,
    psi: Annotated[bool, typer.Option("--psi", help="Decide drift with the population stability index (>= 0.1) for every column.")] = False,
    on_drift: Annotated[str | None, typer.Option("--on-drift", metavar="reproduce", help="On drift, re-run the reference experiment's command on the work tree's data and record it as a new experiment (mlv snapshot --run).", show_default=False)] = None,
) -> None:
    """Check a dataset against a reference: schema, missing values, row count, and drift per column.

    The reference is the same data path as the latest experiment recorded it, or as --against
    names it (a commit, or a registered model version or stage), read from the profile stored with
    that commit; or any file with --against-file. Thresholds come from `data_check:` in
    .mlv/config.yaml. Exit code 0: healthy, or a drift below both rules. 1: dataset drift (at
    least half of the tested columns drifted), one column drifted by a large distance (by default
    half a standard deviation, or a Jensen-Shannon distance of 0.2), or a health rule failed (a
    column removed or retyped, missing values grew). 2: could not run. See docs/how-to/data-health.md.

    Examples:

        mlv data check

        mlv data check data --against churn#prod --md >> report.md

        mlv data check data/current.csv --against-file reference-profile.json

        mlv data check --on-drift reproduce
    """
    from mlv.cli import output
    from mlv.cli.errors import handle_errors
    from mlv.cli.render.data_health import verdict

    reference: Revision | None = None
    with handle_errors():
        with _could_not_run():
            current, ref_side, thresholds, reference = _sides(path, against, against_file, rev, on_drift)
            if psi:
                from dataclasses import replace

                thresholds = replace(thresholds, method="psi")
            from mlv.datahealth.check import check
            from mlv.datahealth.errors import require_extra

            require_extra()
            result = check(current.profile, ref_side.profile, thresholds)
        rerun = not result.ok and on_drift is not None and reference is not None
        if json_output:
            doc: dict[str, object] = {**result.to_json(), "current": current.label, "reference": ref_side.label}
            if ref_side.revision is not None:
                doc["reference_commit"] = ref_side.revision.commit
            if rerun and reference is not None:  # the command's output goes to stderr meanwhile
                doc["revalidation"] = _revalidate(reference, verdict(result), json_output=True)
            output.emit_json(doc)
            rerun = False
        elif markdown:
            from mlv.cli.render.data_health import markdown_check

            typer.echo(markdown_check(result, current.label, ref_side.label), nl=False)
        else:
            from mlv.cli.render.data_health import render_check

            render_check(result, current.label, ref_side.label, output.stdout())
        if rerun and reference is not None:
            _revalidate(reference, verdict(result), json_output=False)
    if not result.ok:
        raise typer.Exit(1)


def _sides(path: Path | None, against: str | None, against_file: Path | None, rev: str | None,
           on_drift: str | None) -> tuple[Side, Side, Thresholds, Revision | None]:
    """The current and reference sides, the thresholds, and the reference revision (if any)."""
    from mlv.datahealth.history import Side
    from mlv.errors import MlvError

    if against is not None and against_file is not None:
        raise MlvError("--against and --against-file cannot be combined", hint="Pick one reference.")
    if on_drift is not None and on_drift != "reproduce":
        raise MlvError(f"--on-drift {on_drift!r} is not known", hint="The one action is `--on-drift reproduce`.")
    if against_file is not None and rev is None and path is not None and on_drift is None:
        # Two files: no repository needed (but its thresholds are used when there is one).
        return Side(_load(path), str(path)), Side(_load(against_file), str(against_file)), _thresholds(None), None
    return _sides_from_history(path, against, against_file, rev, on_drift)


def _sides_from_history(path: Path | None, against: str | None, against_file: Path | None, rev: str | None,
                        on_drift: str | None) -> tuple[Side, Side, Thresholds, Revision | None]:
    import os

    from mlv.adapters import git
    from mlv.datahealth import history
    from mlv.datahealth.errors import DataHealthError
    from mlv.datahealth.history import Side
    from mlv.datahealth.profiler import profile_dataset

    root = git.find_root(Path.cwd())
    thresholds = _thresholds(root)
    reference = None if against_file is not None else (
        history.resolve(root, against) if against is not None else history.latest_experiment(root))
    if on_drift is not None:
        from mlv.snapshot.revalidate import check_can_revalidate

        check_can_revalidate(reference, rev)
    current_rev = history.resolve(root, rev) if rev is not None else None
    if path is not None:
        rel = history.repo_path(root, path)
    else:
        source = reference or current_rev
        if source is None:
            raise DataHealthError("name the dataset to check", hint="For example: `mlv data check data/new.csv --against-file ref.json`.")
        rel = history.only_tabular_path(root, source.data, f"{source.shown} ({source.commit[:10]})")
    # The reference first: it is usually a stored profile, and a PATH that is not data of the
    # reference is then reported as that, before any data is read.
    if against_file is not None:
        ref_side = Side(_load(against_file), str(against_file))
    else:
        assert reference is not None  # noqa: S101 - set above whenever against_file is None
        ref_side = history.profile_at(root, reference, rel)
    if current_rev is not None:
        current = history.profile_at(root, current_rev, rel)
    else:  # named relative to the current folder, as the user would (in messages too)
        current = Side(profile_dataset(Path(os.path.relpath(root / rel))), f"{rel} (work tree)")
    return current, ref_side, thresholds, reference


def _thresholds(root: Path | None) -> Thresholds:
    """`data_check:` of the project's configuration; the defaults outside a project."""
    from mlv.adapters import git
    from mlv.datahealth.thresholds import thresholds_from_config
    from mlv.errors import MlvError
    from mlv.project import config

    if root is None:
        try:
            root = git.find_root(Path.cwd())
        except MlvError:
            return thresholds_from_config(None)
    if not config.exists(root):
        return thresholds_from_config(None)
    return thresholds_from_config(config.load(root).data_check)


def _revalidate(reference: Revision, summary: str, json_output: bool) -> dict[str, object]:
    """Run the reference experiment's command on the work tree's data; what was recorded."""
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.snapshot.revalidate import check_can_revalidate, revalidate

    command = check_can_revalidate(reference, None)
    output.info(f"drift detected: re-running `{command}` on the work tree's data (mlv snapshot --run)")
    saved = revalidate(git.find_root(Path.cwd()), reference, command, summary, json_output)
    for line in saved.warnings:
        output.warn(line)
    exit_code = saved.record.exit_code
    outcome = "" if exit_code == 0 else f" (the command exited with code {exit_code} on the new data)"
    output.info(f"re-validation recorded as experiment {saved.commit[:10]}{outcome}; compare: "
                f"mlv diff {reference.commit[:10]} {saved.commit[:10]}")
    return {"commit": saved.commit, "command": command, "metrics": saved.record.metrics, "exit_code": exit_code}


def _load(path: Path) -> Profile:
    """A saved profile (.json) as it is; anything else profiled now."""
    from mlv.datahealth.profiler import profile_dataset

    if path.suffix.lower() == ".json" and path.is_file():
        from mlv.datahealth.store import MAX_PROFILE_BYTES, parse_profile

        with path.open("rb") as handle:
            return parse_profile(handle.read(MAX_PROFILE_BYTES + 1), str(path))
    return profile_dataset(path)
