"""The report page: one HTML file rendered from the gathered document, nothing fetched at view time.

The tables are rendered here, so the page reads without JavaScript; the one inline script adds
sorting, filtering and the two-run comparison from the same document, embedded as JSON. Every
repository string goes through `text()` (control characters shown as escapes, as on a terminal,
then `html.escape`); the JSON is escaped so that no string in it can close its `<script>` element.
A Content-Security-Policy allows only this page's own style and script (by hash) and no network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Sequence
from html import escape
from importlib import resources
from typing import Any

from mlv.record.record import flatten
from mlv.report import charts
from mlv.text import visible

MAX_COLUMNS = 40  # params or metrics shown as table columns (every one is still in the data)
MAX_CHARTS = 24
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
                 0x2028: "\\u2028", 0x2029: "\\u2029"}


def text(value: object) -> str:
    """A repository string for HTML: control characters shown, markup escaped."""
    return escape(visible(str(value)))


def embedded_json(doc: Any) -> str:
    """DOC for a `<script type="application/json">`: `</script>`, `<!--` and the line separators
    that old parsers end strings at cannot appear raw (they only occur inside JSON strings)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).translate(_JSON_ESCAPES)


def _asset(name: str) -> str:
    return resources.files("mlv.report").joinpath(name).read_text(encoding="utf-8")


def _sha256(source: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()


def render(doc: dict[str, Any]) -> str:
    style, script = _asset("page.css"), _asset("page.js")
    policy = (f"default-src 'none'; style-src '{_sha256(style)}'; script-src '{_sha256(script)}'; "
              "img-src data:; base-uri 'none'; form-action 'none'")
    values = _values(doc["log"])
    params = _keys(values, "params")
    metrics = _keys(values, "metrics")
    title = f"mlv report: {doc['title']}"
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{text(title)}</title><style>{style}</style></head><body>",
        f"<header><h1>{text(title)}</h1><p>{len(doc['log'])} experiments ({text(doc['selection'])}), "
        f"written {text(doc['generated'])} by <code>mlv report</code>. Nothing on this page is fetched "
        "from the network.</p><nav><a href=\"#experiments-section\">Experiments</a> "
        "<a href=\"#metrics\">Metrics</a> <a href=\"#compare\">Compare</a> <a href=\"#models\">Models</a> "
        "<a href=\"#health\">Data health</a>"
        + (" <a href=\"#production\">Production</a>" if doc.get("production") else "") + "</nav></header>",
        _experiments(doc, values, params, metrics),
        _metric_charts(doc, values, metrics),
        _compare(doc),
        _models(doc),
        _health(doc),
        _production(doc),
        f'<script type="application/json" id="mlv-data">{embedded_json(doc)}</script>',
        f"<script>{script}</script></body></html>\n",
    ])


def _values(log: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """commit -> {"params": flat, "metrics": flat}, named as `mlv log` names them."""
    return {e["commit"]: {"params": flatten(e["params"], single_root=True),
                          "metrics": flatten(e["metrics"], single_root=True)}
            for e in log if e.get("status") != "invalid"}


def _keys(values: dict[str, dict[str, dict[str, Any]]], kind: str) -> list[str]:
    found: dict[str, None] = {}
    for flat in values.values():
        found.update(dict.fromkeys(flat[kind]))
    return list(found)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _cell(value: Any) -> str:
    if value is None:
        return "<td></td>"
    num = _number(value)
    if isinstance(value, str):
        shown = value
    elif isinstance(value, float):
        shown = charts.fmt(value)
    else:
        shown = json.dumps(value)
    sort = f' data-v="{num!r}"' if num is not None else ""
    return f"<td{sort}>{text(shown)}</td>"


def _command(command: str) -> str:
    """The command cell: cut to the column's width by the style sheet, whole in its hover title."""
    return f'<td title="{text(command)}"><code>{text(command)}</code></td>'


def _status(entry: dict[str, Any]) -> str:
    if entry.get("status") == "invalid":
        return "invalid"
    labels = ", ".join(entry.get("labels") or [])
    return labels or ("rewritten" if entry.get("status") == "rewritten" else "ok")


def _anchor(commit: str) -> str:
    return f"exp-{commit[:12]}"


def _experiments(doc: dict[str, Any], values: dict[str, Any], params: list[str], metrics: list[str]) -> str:
    shown_params, shown_metrics = params[:MAX_COLUMNS], metrics[:MAX_COLUMNS]
    head = ["commit", "date", "message", "command", "status", "tags"]
    cols = "".join(f'<th scope="col">{h}</th>' for h in head)
    cols += "".join(f'<th scope="col" class="param">{text(k)}</th>' for k in shown_params)
    cols += "".join(f'<th scope="col" class="metric">{text(k)}</th>' for k in shown_metrics)
    rows = []
    for e in doc["log"]:
        commit = e["commit"]
        first = (e.get("message") or "").split("\n", 1)[0]
        cells = [f'<td><code>{text(commit[:10])}</code></td>']
        if e.get("status") == "invalid":
            cells += ["<td></td>", f"<td>{text(first)}</td>", f"<td>{text(e.get('error', ''))}</td>",
                      "<td>invalid</td>", "<td></td>"]
            cells += ["<td></td>"] * (len(shown_params) + len(shown_metrics))
        else:
            flat = values[commit]
            cells += [f"<td>{text(str(e.get('created', ''))[:16].replace('T', ' '))}</td>", f"<td>{text(first)}</td>",
                      _command(e.get("command") or "-"), f"<td>{text(_status(e))}</td>",
                      f"<td>{text(', '.join(e.get('tags') or []))}</td>"]
            cells += [_cell(flat["params"].get(k)) for k in shown_params]
            cells += [_cell(flat["metrics"].get(k)) for k in shown_metrics]
        rows.append(f'<tr id="{_anchor(commit)}" data-commit="{text(commit)}">{"".join(cells)}</tr>')
    more = "" if len(params) <= MAX_COLUMNS and len(metrics) <= MAX_COLUMNS else \
        f"<p>The first {MAX_COLUMNS} params and metrics are columns; every value is in the page's data.</p>"
    return ('<section id="experiments-section"><h2>Experiments</h2>'
            '<p class="controls" id="filter-box" hidden><label>Filter <input id="filter" type="search" '
            'placeholder="text in any cell"></label> <span id="filter-count"></span></p>'
            '<p class="hint" id="sort-hint" hidden>Click a column header to sort by it; click again to reverse. '
            'The table scrolls in its box; the commit column stays.</p>'
            f'{more}<div class="scroll experiments"><table id="experiments"><thead><tr>{cols}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div></section>')


def _registered(doc: dict[str, Any]) -> dict[str, list[str]]:
    """commit -> the registered versions on it (`model@v1.0.0`)."""
    marks: dict[str, list[str]] = {}
    for name, shown in doc["models"]["show"].items():
        for version in shown.get("versions", []):
            marks.setdefault(version["commit"], []).append(f"{name}@{version['version']}")
    return marks


def _metric_charts(doc: dict[str, Any], values: dict[str, Any], metrics: list[str]) -> str:
    in_time = [e for e in reversed(doc["log"]) if e["commit"] in values]  # oldest first
    marks = _registered(doc)
    figures = []
    for key in metrics[:MAX_CHARTS]:
        points = []
        for index, e in enumerate(in_time):
            num = _number(values[e["commit"]]["metrics"].get(key))
            if num is not None:
                first = (e.get("message") or "").split("\n", 1)[0]
                points.append(charts.Point(index, num, e["commit"], visible(f"{e['commit'][:10]} {first[:60]}"),
                                           tuple(visible(m) for m in marks.get(e["commit"], [])),
                                           tick=e["commit"][:7]))
        if points:
            figures.append(f"<figure>{charts.metric_chart(visible(key), points, len(in_time))}"
                           f"<figcaption>{text(key)}</figcaption></figure>")
    body = "".join(figures) or "<p>No numeric metrics recorded.</p>"
    return ('<section id="metrics"><h2>Metrics over time</h2><p>Each metric across the experiments, oldest on the '
            'left; hover a point for its value and commit; squares are registered model versions.</p>'
            f'<div class="charts">{body}</div></section>')


def _compare(doc: dict[str, Any]) -> str:
    valid = [e for e in doc["log"] if e.get("status") != "invalid"]
    options = "".join(f'<option value="{text(e["commit"])}">{text(e["commit"][:10])} '
                      f'{text((e.get("message") or "").split(chr(10), 1)[0][:60])}</option>' for e in valid)
    return ('<section id="compare"><h2>Compare two runs</h2>'
            '<p>Code, data, environment, params and metrics, from the same records as <code>mlv diff --json</code>. '
            'Code is compared by file (blob ids); <code>mlv diff A B</code> gives the lines and the files '
            'inside changed data folders.</p>'
            f'<p class="controls"><label>Old <select id="cmp-a">{options}</select></label> '
            f'<label>New <select id="cmp-b">{options}</select></label></p>'
            '<div id="compare-out"><noscript>Comparing needs JavaScript; run <code>mlv diff A B</code>.</noscript>'
            '</div></section>')


def _link(commit: str | None, commits: set[str]) -> str:
    if not commit:
        return ""
    code = f"<code>{text(commit[:10])}</code>"
    return f'<a href="#{_anchor(commit)}">{code}</a>' if commit in commits else code


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    th = "".join(f'<th scope="col">{h}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _models(doc: dict[str, Any]) -> str:
    models = doc["models"]
    commits = {e["commit"] for e in doc["log"]}
    if not models["list"]:
        return ('<section id="models"><h2>Models</h2><p>No models registered yet '
                '(<code>mlv model register NAME</code>).</p></section>')
    parts = ['<section id="models"><h2>Models</h2>']
    for row in models["list"]:
        name = row["model"]
        history = models["history"].get(name, [])
        standing = {**{ev["version"]: ev.get("standing") for ev in history if ev["event"] == "register"},
                    **row.get("standing", {})}
        stages = ", ".join(f"{stage}: {_standing(version, standing)}" for stage, version in row["stages"].items())
        parts.append(f"<h3>{text(name)}{' (deprecated)' if row['deprecated'] else ''}</h3>"
                     f"<p>latest {text(_standing(row['latest'], standing))}; stages: {text(stages or 'none')}</p>")
        versions = models["show"].get(name, {}).get("versions", [])
        parts.append(_table(["version", "registered", "stages", "experiment", "metrics"], (
            [text(_standing(v["version"], standing)), text(_when(v["time"])), text(", ".join(v["stages"])),
             _link(v["commit"], commits),
             text(", ".join(f"{k}={charts.fmt(n) if (n := _number(m)) is not None else m}"
                            for k, m in list(v["metrics"].items())[:6]))] for v in versions)))
        parts.append(f"<details><summary>History of {text(name)}</summary>")
        parts.append(_table(["time", "event", "version", "stage", "by", "message"], (
            [text(_when(ev["time"])), text(ev["event"] + (" (future-dated)" if ev.get("future_dated") else "")),
             text(_standing(ev["version"], {ev["version"]: ev.get("standing")}) if ev["version"] else ""),
             text(ev["stage"] or ""),
             text(ev["tagger"] or ""), text((ev["message"] or "").split("\n", 1)[0][:120])]
            for ev in models["history"].get(name, []))))
        parts.append("</details>")
    parts.append("</section>")
    return "".join(parts)


def _standing(version: str | None, standings: dict[str, Any]) -> str:
    """VERSION, marked "(invalid: FIELDS)" or "(untrusted)" when its tags are not to be acted on."""
    found = standings.get(version or "") or {}
    if not version or found.get("status", "valid") == "valid":
        return version or "-"
    fields = f": {', '.join(found.get('fields') or [])}" if found.get("fields") else ""
    return f"{version} ({found['status']}{fields})"


def _health_verdict(check: dict[str, Any]) -> str:
    """As `mlv data check` says it: "healthy" only when no column drifted."""
    if check["ok"]:
        return "healthy" if not check["drifted_columns"] else "passed with drift"
    if check["dataset_drift"] or check.get("large_drift_columns"):
        return "drift"
    return "failed health checks"


def _distributions(shown: dict[str, Any]) -> str:
    """Per column, reference against current, from the profiles' sketches: both cumulative
    distributions (numeric, dates), both shares of the top values (categories), or what it is."""
    figures, lines = [], []
    for name, entry in shown.items():
        if "reference" in entry:
            title = f"{name}: cumulative distribution (grey: reference, blue: current)"
            figures.append(f"<figure>{charts.quantile_chart(title, entry['reference'], entry['current'])}"
                           f"<figcaption>{text(name)} ({text(entry['kind'])}): grey reference, blue current"
                           "</figcaption></figure>")
        elif "values" in entry:
            shares = ", ".join(f"{text(v)} {_share(r)} \u2192 {_share(c)}" for v, r, c in entry["values"])
            lines.append(f"<li>{text(name)} (categorical): {shares}</li>")
        elif entry["kind"] in {"text", "identifier"}:
            what = "free text, tested on its words" if entry["kind"] == "text" else "identifier, not tested"
            lines.append(f"<li>{text(name)}: {what}</li>")
    parts = []
    if figures:
        parts.append('<div class="charts">' + "".join(figures) + "</div>")
    if lines:
        parts.append("<ul>" + "".join(lines) + "</ul>")
    return "".join(parts)


def _health(doc: dict[str, Any]) -> str:
    parts = ['<section id="health"><h2>Data health</h2><p>Each dataset of the newest experiment checked against '
             'its previous version in these experiments, as <code>mlv data check --rev NEW --against OLD</code> '
             'does: from the stored profiles, no data read.</p>']
    for item in doc["health"]:
        check = item["check"]
        verdict = _health_verdict(check)
        rows_now, rows_before = check["rows"]["current"], check["rows"]["reference"]
        parts.append(f"<h3>{text(item['path'])}: {verdict}</h3><p>{text(check['current'])} against "
                     f"{text(check['reference'])}; {rows_now} rows against {rows_before}; "
                     f"{len(check['drifted_columns'])} of {len(check['columns'])} columns drifted.</p>")
        missing = item["missing"]
        rows = []
        for col in check["columns"]:
            share = missing.get(col["column"], {})
            rows.append([text(col["column"]), text(col["kind"]), text(col["method"]), charts.fmt(col["score"]),
                         charts.fmt(col["threshold"]), "yes" if col["drifted"] else "no",
                         _share(share.get("reference")), _share(share.get("current"))])
        for skipped in check["skipped"]:
            rows.append([text(skipped["column"]), text(skipped["reason"].split(":")[0]), "not tested", "", "", "",
                         "", ""])
        parts.append(_table(["column", "kind", "test", "score", "threshold", "drifted", "missing (reference)",
                             "missing (current)"], rows))
        scores = [(c["column"], float(c["score"]), bool(c["drifted"])) for c in check["columns"]]
        limit = max([s for _, s, _ in scores] + [float(c["threshold"]) for c in check["columns"]] + [1e-9])
        gaps = [(name, float(v.get("current") or 0.0), (v.get("current") or 0) > (v.get("reference") or 0))
                for name, v in missing.items()]
        parts.append('<div class="charts">'
                     f'<figure>{charts.bar_chart("drift score per column (red: drifted)", scores, limit)}'
                     '<figcaption>drift score per column (red: drifted)</figcaption></figure>'
                     f'<figure>{charts.bar_chart("missing values per column (red: more than before)", gaps)}'
                     '<figcaption>share of missing values (red: more than before)</figcaption></figure></div>')
        parts.append(_distributions(item.get("distributions", {})))
        if check["issues"]:
            parts.append("<ul>" + "".join(f"<li>{text(i['severity'])}: {text(i['message'])}</li>"
                                          for i in check["issues"]) + "</ul>")
    for note in doc["health_notes"]:
        parts.append(f"<p>{text(note)}</p>")
    if not doc["health"] and not doc["health_notes"]:
        parts.append("<p>No tracked data in these experiments.</p>")
    parts.append("</section>")
    return "".join(parts)


def _production(doc: dict[str, Any]) -> str:
    """Latency and throughput over time, drift per day, and performance once labels exist."""
    found = doc.get("production")
    if not found:
        return ""
    parts = [f'<section id="production"><h2>Production</h2><p>The prediction log <code>{text(found["log"])}'
             f'</code>, one <code>mlv monitor</code> window per UTC day of the last {found["days"]} days.</p>']
    hours = found["hourly"]
    if hours:
        rows = [charts.Point(i, float(h["rows"]), "", f"{h['hour']}: {h['rows']} rows", tick=_hour_tick(h["hour"]))
                for i, h in enumerate(hours)]
        latency = [charts.Point(i, float(h["latency_mean_ms"]), "", f"{h['hour']}: mean latency (ms)",
                                tick=_hour_tick(h["hour"])) for i, h in enumerate(hours)]
        parts.append('<div class="charts">'
                     f'<figure>{charts.metric_chart("rows per hour", rows, len(hours), "hour (UTC)")}'
                     '<figcaption>throughput: logged rows per hour</figcaption></figure>'
                     f'<figure>{charts.metric_chart("mean latency (ms)", latency, len(hours), "hour (UTC)")}'
                     '<figcaption>latency: mean per hour (ms)</figcaption></figure></div>')
    table_rows = []
    for w in found["windows"]:
        perf = w["performance"]
        shown = ", ".join(f"{k} {charts.fmt(v)}" for k, v in perf.items() if k != "labelled_rows")
        labelled = f"{perf['labelled_rows']} labelled: {shown}" if perf["labelled_rows"] else "no labels"
        table_rows.append([text(w["day"]), text(f"{w['model']}@{w['version']}"), "healthy" if w["healthy"] else
                           "<strong>degraded</strong>", str(w["rows"]), _ms(w["latency_p50_ms"]),
                           _ms(w["latency_p95_ms"]), _ms(w["latency_p99_ms"]), _share(w["error_rate"]),
                           _share(w["data_drift_share"]), {None: "-", True: "yes", False: "no"}[w["prediction_drift"]],
                           text(labelled)])
    if table_rows:
        parts.append(_table(["day", "version", "status", "rows", "p50", "p95", "p99", "error rate",
                             "inputs drifted", "predictions drifted", "performance"], table_rows))
        failures = [f"{w['day']} {w['model']}@{w['version']}: {f}" for w in found["windows"] for f in w["failures"]]
        if failures:
            parts.append("<ul>" + "".join(f"<li>{text(f)}</li>" for f in failures) + "</ul>")
    else:
        parts.append("<p>No logged predictions in these days.</p>")
    parts += [f"<p>{text(note)}</p>" for note in found["notes"]]
    parts.append("</section>")
    return "".join(parts)


def _hour_tick(hour: str) -> str:
    """`2026-11-27T05:00Z` as `11-27 05h`: the day and hour, short enough for an axis."""
    return f"{hour[5:10]} {hour[11:13]}h" if len(hour) >= 13 else hour


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g} ms"


def _when(value: object) -> str:
    """A registry time (seconds since the epoch) as a UTC date and time."""
    from datetime import datetime, timezone

    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**34:
        return datetime.fromtimestamp(value, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
