"""`mlv gate`'s renderings: one line per rule, the Markdown report for a pull request (the rules
table, then `mlv diff --md` against the base), and an optional PNG of the metrics for CI artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlv.cli.render.markdown import code_span, escape_text
from mlv.gate.gate import GateReport
from mlv.gates.evaluate import RuleResult
from mlv.text import visible


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _threshold(result: RuleResult) -> str:
    if result.rule == "max_drop_rel" and isinstance(result.threshold, float):
        return f"max_drop_rel {result.threshold:.2%}"
    return f"{result.rule} {_value(result.threshold)}".strip()


def lines(report: GateReport) -> list[str]:
    """One line per rule (PASS/FAIL, values and threshold), then the verdict."""
    out = [f"mlv gate: {report.candidate.label}"
           + (f" against {report.base.label}" if report.base else " (no base)")]
    if report.default_rule:
        out.append(report.default_rule)
    out += [f"warning: {note}" for note in report.notes]
    out += [f"{_word(r)}  {r.message}" for r in report.results]
    failed = sum(not r.passed for r in report.results)
    total = len(report.results)
    out.append(f"gate passed: {total} rule(s)" if not failed else f"gate failed: {failed} of {total} rule(s)")
    return [visible(line) for line in out]


def _word(result: RuleResult) -> str:
    return "SKIP" if result.skipped else "PASS" if result.passed else "FAIL"


def _cell(text: str) -> str:
    return visible(text.replace("\n", " ")).replace("|", "\\|")


def markdown(report: GateReport, diff_md: str | None) -> str:
    """The PR comment: verdict, rules table, default note, then the diff against the base."""
    verdict = "passed" if report.passed else "failed"
    head = f"## mlv gate {verdict}: {_cell(code_span(report.candidate.label))}"
    head += f" against {_cell(code_span(report.base.label))}" if report.base else ""
    rows = ["| result | rule | metric | value | base | threshold |", "|---|---|---|---:|---:|---|"]
    for r in report.results:
        word = "skipped" if r.skipped else "pass" if r.passed else "**FAIL**"
        # The rule and its threshold are mlv's words and numbers; the rest comes from the records.
        cells = [r.rule, code_span(r.metric or ""), escape_text(_value(r.value)), escape_text(_value(r.base)),
                 _threshold(r)]
        rows.append(f"| {word} | " + " | ".join(_cell(c) for c in cells) + " |")
    parts = [head, ""]
    if report.default_rule:
        parts += [f"_{_cell(escape_text(report.default_rule))}_", ""]
    parts += [f"> **warning:** {_cell(escape_text(note))}" for note in report.notes] + [""] * bool(report.notes)
    parts += [*rows, ""]
    if diff_md:
        parts += [diff_md.rstrip("\n"), ""]
    parts.append("<!-- mlv gate report -->")
    return visible("\n".join(parts), newlines=True) + "\n"


def plot(report: GateReport, folder: Path) -> Path | None:
    """A bar chart of the metrics the rules read, candidate beside base, as FOLDER/gate-metrics.png.
    None when matplotlib is not installed (it is optional: the gate never needs it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    metrics = sorted({r.metric for r in report.results if r.metric and isinstance(r.value, float)})
    cand = report.candidate.metrics
    base = report.base.metrics if report.base else {}
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(2.6 * max(len(metrics), 1), 3), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=False):
        labels, values = ["candidate"], [float(cand.get(name) or 0.0)]
        if isinstance(base.get(name), (int, float)):
            labels.insert(0, "base")
            values.insert(0, float(base[name]))
        ax.bar(labels, values, color=["#999999", "#3b7dd8"][-len(values):])
        ax.set_title(visible(name), fontsize=9)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "gate-metrics.png"
    fig.savefig(target, dpi=80)
    plt.close(fig)
    return target
