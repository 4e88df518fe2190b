"""Terminal and Markdown renderings of data profiles and checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlv.cli.output import plural

if TYPE_CHECKING:
    from rich.console import Console

    from mlv.datahealth.check import CheckResult, ColumnDrift
    from mlv.datahealth.model import ColumnProfile, Profile


def render_profile(profile: Profile, console: Console, label: str | None = None) -> None:
    from mlv.cli.output import literal  # data and paths come from the repository
    from mlv.cli.render.table import Column, render, terminal_width
    from mlv.text import visible

    if label is not None:
        console.print(f"[bold]mlv data profile[/bold] {literal(label)}")
    source = profile.source
    files = plural(int(source.get("files", 0)), "file")
    console.print(f"[bold]{profile.rows:,} rows[/bold], {len(profile.columns)} columns "
                  f"[dim]({source.get('format', '?')}, {files})[/dim]")
    columns = [Column("column", key=True), Column("type"), Column("missing", right=True),
               Column("distinct", right=True, drop=1), Column("summary", wrap=True)]
    rows = []
    for column in profile.columns:
        distinct = f"{column.distinct:,}" + ("" if column.distinct_exact else " ~")
        rows.append([visible(column.name), column.dtype, f"{column.missing:,}", distinct, visible(_summary(column))])
    console.out("\n".join(render(columns, rows, terminal_width())), highlight=False)
    for skipped in profile.skipped:
        console.print(f"[dim]skipped {literal(skipped['column'])}: {literal(skipped['reason'])}[/dim]")


def _kind_summary(column: ColumnProfile) -> str | None:
    """Dates, free text and identifiers, described as what they are rather than as numbers or values."""
    if column.dtype == "datetime" and column.minimum is not None:
        return f"{column.minimum} .. {column.maximum}"
    if column.text is not None:
        return f"free text: {column.text.tokens:,} words"
    if column.dtype == "categorical" and column.valid >= 20 and column.distinct >= 0.95 * column.valid:
        return "identifier: a distinct value in almost every row"
    return None


def _summary(column: ColumnProfile) -> str:
    kind = _kind_summary(column)
    if kind is not None:
        return kind
    if column.numeric is not None:
        n = column.numeric
        return (f"min {n.minimum:.4g}  median {n.quantiles[50]:.4g}  max {n.maximum:.4g}  "
                f"mean {n.mean:.4g}  std {n.std:.4g}")
    if column.categories is not None:
        top = ", ".join(f"{value} {count:,}" for value, count in column.categories.top[:3])
        return top + (f", other {column.categories.other:,}" if column.categories.other else "")
    if column.minimum is not None:
        return f"{column.minimum} .. {column.maximum}"
    return ""


def verdict(result: CheckResult) -> str:
    """One line that never says "healthy" above a DRIFT row."""
    drifted, tested = len(result.drifted_columns), len(result.columns)
    counted = f"{drifted} of {tested} columns drifted"
    if result.skipped:
        counted += f", {len(result.skipped)} not tested"
    if result.healthy:
        return f"healthy: {counted}"
    if result.ok:
        return (f"passed with drift: {counted} (below the dataset-drift share {result.thresholds.drift_share} "
                f"and the large-drift thresholds)")
    large = result.large_drift_columns
    words = [w for w, on in (("dataset drift", result.dataset_drift),
                             (f"large drift in {_names(large)}", bool(large)),
                             ("health failed", result.health_failed)) if on]
    return f"{' and '.join(words)}: {counted}"


def _names(columns: list[str]) -> str:
    shown = ", ".join(columns[:3])
    return shown + (f" and {len(columns) - 3} more" if len(columns) > 3 else "")


def _row(drift: ColumnDrift) -> list[str]:
    rule = f"p < {drift.threshold}" if drift.p_value is not None else f">= {drift.threshold}"
    p = "" if drift.p_value is None else f"{drift.p_adjusted if drift.p_adjusted is not None else drift.p_value:.3g}"
    effect = f"{_EFFECT_LABELS.get(drift.effect_size_name, drift.effect_size_name)} {drift.effect_size:.3g}"
    return [drift.column, drift.kind, drift.method, f"{drift.score:.4g}", p, effect, rule,
            "DRIFT" if drift.drifted else "ok"]


_HEADERS = ["column", "kind", "test", "score", "p adj.", "effect", "drift when", "result"]
_RIGHT = {"score", "p adj."}
_DROP = {"drift when": 3, "p adj.": 2, "test": 1}  # left out first on a narrow terminal, in this order
_EFFECT_LABELS = {"ks_statistic": "D", "cramers_v": "V", "wasserstein_over_std": "W/std",
                  "jensen_shannon": "JS", "psi": "PSI"}


def render_check(result: CheckResult, current: str, reference: str, console: Console) -> None:
    from mlv.cli.output import literal  # data and paths come from the repository
    from mlv.cli.render.table import Column, Styled, render, terminal_width
    from mlv.text import visible

    style = "green" if result.healthy else "yellow" if result.ok else "red"
    console.print(f"[bold]mlv data check[/bold] {literal(current)} [dim]against[/dim] {literal(reference)}")
    console.print(f"[{style}]{literal(verdict(result))}[/{style}]")
    console.print(f"[dim]rows: {result.rows_reference:,} -> {result.rows_current:,}[/dim]")
    if result.columns:
        columns = [Column(name, key=name == "column", right=name in _RIGHT, drop=_DROP.get(name, 0))
                   for name in _HEADERS]
        rows: list[list[str | Styled]] = []
        for drift in result.columns:
            cells: list[str | Styled] = [visible(c) for c in _row(drift)]
            cells[-1] = Styled("DRIFT", "31") if drift.drifted else cells[-1]
            rows.append(cells)
        console.out("\n".join(render(columns, rows, terminal_width())), highlight=False)
    for issue in result.issues:
        colour = "red" if issue.severity == "fail" else "yellow"
        console.print(f"[{colour}]{issue.severity}[/{colour}] {literal(issue.message)}")
    for skipped in result.skipped:
        console.print(f"[dim]not tested: {literal(skipped['column'])} ({literal(skipped['reason'])})[/dim]")


def markdown_check(result: CheckResult, current: str, reference: str) -> str:
    lines = [f"### Data check: `{_md(current)}` against `{_md(reference)}`", "", f"**{verdict(result)}**", "",
             f"Rows: {result.rows_reference:,} -> {result.rows_current:,}", ""]
    if result.columns:
        lines += ["| " + " | ".join(_HEADERS) + " |", "|" + " --- |" * len(_HEADERS)]
        lines += ["| " + " | ".join(_md(c) for c in _row(d)) + " |" for d in result.columns]
        lines.append("")
    if result.issues:
        lines += [f"- **{i.severity}** {_md(i.message)}" for i in result.issues] + [""]
    if result.skipped:
        lines += [f"- not tested: `{_md(s['column'])}` ({_md(s['reason'])})" for s in result.skipped] + [""]
    return "\n".join(lines)


def _md(text: str) -> str:
    from mlv.text import visible

    return visible(text).replace("|", "\\|")
