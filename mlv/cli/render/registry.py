"""Plain-text rendering of the model registry (`mlv model list/show/history`).

Every field comes from a tag or a record someone else wrote (names, tagger, messages, paths), so each
cell and line goes through `visible()`: a control character is shown as an escape, never obeyed.

Plain aligned columns rather than rich tables: these commands must answer in well under 0.3 s with
thousands of tags, and importing rich's table machinery alone costs a noticeable share of that.
"""

from __future__ import annotations

import datetime
from typing import Any

from mlv.cli.output import fmt_value, plural
from mlv.text import visible


def when(unix: int) -> str:
    return datetime.datetime.fromtimestamp(unix, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def columns(header: list[str], rows: list[list[str]]) -> str:
    """Aligned columns: the first (the model, the time) whole; metrics wrap between values and
    a message is shortened on a narrow terminal; a pipe gets every value on one line."""
    from mlv.cli.render.table import Column, render, terminal_width

    rows = [[visible(str(cell)) for cell in row] for row in rows]
    specs = [Column(name, key=index == 0, wrap=name == "metrics", shorten=name == "message", min_width=16,
                    drop=2 if name == "who" else 0) for index, name in enumerate(header)]
    return "\n".join(render(specs, rows, terminal_width()))


def _metrics(metrics: dict[str, Any], limit: int = 3) -> str:
    return "  ".join(f"{k}={fmt_value(v)}" for k, v in list(metrics.items())[:limit]) or "-"


def _standing(standing: dict[str, Any] | None) -> str:
    """"" for a valid version; " (invalid: artifact, metrics)" or " (untrusted)" else."""
    if not standing or standing["status"] == "valid":
        return ""
    fields = f": {', '.join(standing['fields'])}" if standing["fields"] else ""
    return f" ({standing['status']}{fields})"


def _labelled(version: str | None, standings: dict[str, Any]) -> str:
    return f"{version}{_standing(standings.get(version))}" if version else "-"


def model_list(rows: list[dict[str, Any]]) -> str:
    stages = sorted({s for r in rows for s in r["stages"]})
    table = []
    for r in rows:
        name = r["model"] + (" (deprecated)" if r["deprecated"] else "")
        metrics = _metrics(r["metrics"]) if r["has_metadata"] else "no mlv metadata"
        table.append([name, _labelled(r["latest"], r["standing"]),
                      *[_labelled(r["stages"].get(s), r["standing"]) for s in stages], metrics])
    return columns(["model", "latest", *[f"#{s}" for s in stages], "metrics"], table)


def _flat_lines(label: str, doc: Any) -> list[str]:
    from mlv.record.record import flatten

    return [f"{label:<10}{k} = {fmt_value(v)}" for k, v in flatten(doc).items()] if isinstance(doc, dict) else []


def model_show(doc: dict[str, Any]) -> str:
    stages = ", ".join(doc["stages"]) or "-"
    lines = [f"model     {doc['model']}{' (deprecated)' if doc['deprecated'] else ''}",
             f"version   {doc['version']}{'' if doc['registered'] else ' (deregistered)'}  stages: {stages}",
             f"tag       {doc['tag']}  {when(doc['time'])}",
             f"commit    {doc['commit']}"]
    standing = doc.get("standing") or {"status": "valid", "problems": []}
    lines.append(f"standing  {standing['status']}")
    lines += [f"          {problem}" for problem in standing["problems"]]
    artifact = doc.get("artifact")
    if artifact:
        lines.append(f"artifact  {artifact.get('path')}  md5 {artifact.get('md5')}")
    if not doc["has_metadata"]:
        lines.append("metadata  no mlv metadata in the tag message")
    exp = doc.get("experiment")
    if exp is None:
        lines.append(f"experiment none ({doc.get('experiment_error', 'not an experiment commit')})")
    else:
        lock = exp["lockfile"]
        lines += [f"message   {exp['message'].splitlines()[0] if exp['message'] else ''}",
                  f"command   {exp['command'] or '-'}",
                  f"created   {exp['created']}"]
        lines += [f"data      {d.get('path')}  md5 {d.get('md5')}" for d in exp["data"]]
        lines += _flat_lines("param", exp["params"]) + _flat_lines("metric", exp["metrics"])
        packages = plural(int(lock["packages"]), "package")
        lines.append(f"lockfile  {lock['path']}  sha256 {str(lock['sha256'])[:16]}  ({packages})")
    for verdict in doc["reproduce_verdicts"]:
        unchecked = "" if verdict["checked"] else f"  NOT COUNTED: {verdict['problem']}"
        lines.append(f"reproduce {verdict['verdict']}  saved {verdict['saved_commit'][:10]} on {verdict['branch']}"
                     f"{unchecked}")
    if not doc["reproduce_verdicts"]:
        lines.append("reproduce no saved verdict (`mlv reproduce REV --save`)")
    others = [v["version"] + ("" if v["registered"] else "!") + (f" [{', '.join(v['stages'])}]" if v["stages"] else "")
              for v in doc["versions"]]
    lines.append(f"versions  {', '.join(others)}")
    return "\n".join(visible(line) for line in lines)


def model_history(events: list[dict[str, Any]]) -> str:
    rows = []
    for e in events:
        what = " ".join(x for x in (e["version"], (f"#{e['stage']}" if e["stage"] else None)) if x)
        message = e["message"].splitlines()[0] if e["message"] else ""
        event = e["event"] + (" (forced)" if e["forced"] else "") + (" (future-dated)" if e["future_dated"] else "")
        event += _standing(e.get("standing"))
        rows.append([when(e["time"]), event, what, e["tagger"], message])
    return columns(["time", "event", "version/stage", "who", "message"], rows)
