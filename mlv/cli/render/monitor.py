"""`mlv monitor`'s renderings: plain lines (one per failed rule, with its values) and Markdown."""

from __future__ import annotations

from typing import Any

from mlv.monitor.run import MonitorReport, VersionReport
from mlv.text import visible


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g} ms"


def _system(v: VersionReport) -> str:
    m = v.system.measures()
    rate = f", {m['throughput_rps']:.3g} req/s" if "throughput_rps" in m else ""
    return (f"system: {v.system.rows:,} rows, {int(m['requests']):,} requests{rate}, latency p50 "
            f"{_ms(m.get('latency_p50_ms'))} p95 {_ms(m.get('latency_p95_ms'))} p99 {_ms(m.get('latency_p99_ms'))}, "
            f"error rate {m['error_rate']:.2%}, {v.system.dropped:,} dropped")


def _check_line(what: str, result: Any) -> str:
    if result is None:
        return ""
    if result.ok:
        return f"{what}: ok ({len(result.columns)} column(s) tested)"
    drifted = ", ".join(result.drifted_columns) or "none"
    fails = [i.message for i in result.issues if i.severity == "fail"]
    return f"{what}: drifted columns {drifted} ({result.drift_share:.0%})" + (f"; {'; '.join(fails)}" if fails else "")


def _performance(v: VersionReport) -> str:
    q = v.quality.to_json()
    if not v.quality.rows:
        return "performance: no labelled rows"
    shown = ", ".join(f"{k} {val:.4g}" for k, val in q.items() if k != "labelled_rows")
    return f"performance: {v.quality.rows:,} labelled rows: {shown}"


def lines(report: MonitorReport) -> list[str]:
    """The verdict, what was read, then per version its findings and one line per rule."""
    listing = report.listing
    out = [f"mlv monitor: {report.log} ({report.window.describe()}): {'healthy' if report.healthy else 'degraded'}",
           f"segments: {len(listing.segments)} read, {len(listing.skipped)} skipped, "
           f"{listing.lost_segments} possibly lost"]
    out += [f"  skipped {s['segment']}: {s['reason']}" for s in listing.skipped[:20]]
    out += [f"  lost: writer {g['writer']} is missing segment(s) {_seqs(g['missing'])}" for g in listing.gaps[:20]]
    out += [f"  lost: {unfinished_line(u)}" for u in listing.unfinished[:20]]
    out += [f"  skipped labels {s['labels']}: {s['reason']}" for s in report.labels_skipped[:20]]
    for v in report.versions:
        commit = f" (commit {v.commit[:10]})" if v.commit else ""
        out += [f"{v.name}{commit}: {'healthy' if v.healthy else 'degraded'}", "  " + _system(v),
                "  " + _performance(v)]
        out += ["  " + line for line in (_check_line(f"data health vs {v.data_path}", v.data),
                                         _check_line("prediction drift", v.predictions)) if line]
        out += [f"  note: {n}" for n in v.notes]
        out += [f"  {_verdict(r)}  {r.message}" for r in v.rules]
    return [visible(line) for line in out]


def unfinished_line(writer: dict[str, Any]) -> str:
    return (f"writer {writer['writer']} ended without a final segment (last {writer['last_segment']} at "
            f"{writer['last_written']}): up to one interval of rows ({writer['interval_s']:g} s) may be lost")


def _verdict(rule: Any) -> str:
    return "SKIP" if rule.skipped else ("PASS" if rule.passed else "FAIL")


def _seqs(missing: list[int]) -> str:
    shown = ", ".join(str(s) for s in missing[:10])
    return shown + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")


def _cell(text: str) -> str:
    return visible(text.replace("\n", " ")).replace("|", "\\|")


def markdown(report: MonitorReport) -> str:
    status = "healthy" if report.healthy else "degraded"
    parts = [f"## mlv monitor: {status}", "", f"Log `{_cell(report.log)}`, {_cell(report.window.describe())}; "
             f"{len(report.listing.segments)} segment(s) read, {len(report.listing.skipped)} skipped, "
             f"{report.listing.lost_segments} possibly lost.", ""]
    parts += [f"- lost: {_cell(unfinished_line(u))}" for u in report.listing.unfinished[:20]]
    if report.listing.unfinished:
        parts.append("")
    for v in report.versions:
        parts += [f"### `{_cell(v.name)}`: {'healthy' if v.healthy else 'degraded'}", "",
                  f"- {_cell(_system(v))}", f"- {_cell(_performance(v))}"]
        checks = (_check_line(f"data health vs {v.data_path}", v.data), _check_line("prediction drift", v.predictions))
        for line in checks:
            if line:
                parts.append(f"- {_cell(line)}")
        parts += [f"- note: {_cell(n)}" for n in v.notes]
        parts += ["", "| result | rule | value | threshold |", "|---|---|---:|---:|"]
        parts += [f"| {_verdict(r).lower() if r.passed else '**FAIL**'} | {_cell(r.message)} | "
                  f"{_cell(_value(r.value))} | {_cell(_value(r.threshold))} |" for r in v.rules]
        parts.append("")
    return visible("\n".join(parts), newlines=True) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)
