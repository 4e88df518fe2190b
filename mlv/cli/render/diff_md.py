"""`mlv diff --md`: the comparison as GitHub-flavoured Markdown tables, for a pull request."""

from __future__ import annotations

from collections.abc import Sequence

from mlv.cli.output import plural
from mlv.cli.render import diff_format
from mlv.cli.render.markdown import code_span, escape_text
from mlv.diff.compare import DiffResult
from mlv.text import visible

NO_DIFFERENCES = "no differences"
_FOLD_ROWS = 15


def _cell(text: str) -> str:
    """Table-safe: pipes escaped (GitHub honours that inside code spans too), one line."""
    return visible(text.replace("\n", " ")).replace("|", "\\|")


def _code(text: str) -> str:
    return code_span(text)


def _text(text: str) -> str:
    return escape_text(text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if i in right else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render(result: DiffResult) -> str:
    old, new = _cell(_text(diff_format.side_title(result.old))), _cell(_text(diff_format.side_title(result.new)))
    lines = [f"### mlv diff: {old} \u2192 {new}", ""]
    for side in (result.old, result.new):
        lines += [f"> **Warning:** {_cell(_text(diff_format.side_title(side)))}: {_cell(_text(note))}\n"
                  for note in side.notes]
    if result.identical:
        lines += [f"_{NO_DIFFERENCES}_", ""]
    for part in (_code_section, _data_section, _env_section, _params_section, _metrics_section,
                 _command_section):
        block = part(result)
        if block:
            lines += [*block, ""]
    for names, reason in diff_format.unavailable(result):
        lines += [f"_Not compared ({_text(names)}): {_cell(_text(reason))}._", ""]
    # Printed on a terminal as often as pasted: control characters from the repository (in the
    # folder notes too, which are not cells) are shown, the document's own line breaks kept.
    return visible("\n".join(lines), newlines=True)


def _code_section(result: DiffResult) -> list[str]:
    code = result.code
    if not code.changed:
        return []
    rows = []
    for f in code.files:
        name = f"{_code(f.old_path)} \u2192 {_code(f.path)}" if f.old_path else _code(f.path)
        plus, minus = ("binary", "") if f.binary else (f"+{f.added_lines}", f"-{f.removed_lines}")
        rows.append([name, f.status, plus, minus])
    totals = code.totals()
    head = f"**Code**: {plural(totals['files'], 'file')}, +{totals['added_lines']} -{totals['removed_lines']} lines"
    table = _table(["file", "status", "+", "-"], rows, right=(2, 3))
    if len(rows) > _FOLD_ROWS:
        return [head, "", "<details><summary>changed files</summary>", "", *table, "", "</details>"]
    return [head, "", *table]


def _data_section(result: DiffResult) -> list[str]:
    if not result.data.changed:
        return []
    rows, notes = [], []
    unchanged = [e.path for e in result.data.entries if e.status == "unchanged"]
    for e in (e for e in result.data.entries if e.status != "unchanged"):
        rows.append([_code(e.path), e.kind, e.status, _text(diff_format.data_size(e)),
                     _text(diff_format.data_details(e))])
        if e.folder is not None:
            notes += [f"- {_code(e.path)} {kind}: " + ", ".join(_code(n) for n in names)
                      + _text(diff_format.more(extra)) for kind, names, extra in diff_format.folder_names(e.folder)]
    block = ["**Data**", "", *_table(["path", "kind", "status", "size", "files"], rows)]
    if unchanged:
        notes.append("- unchanged: " + ", ".join(_code(p) for p in unchanged))
    return [*block, "", *notes] if notes else block


def _env_section(result: DiffResult) -> list[str]:
    env = result.environment
    if not env.changed:
        return []
    rows = [[_code(item.name), label, _text(diff_format.value(item.old)), _text(diff_format.value(item.new))]
            for label, item in diff_format.package_rows(env)]
    block = ["**Environment**", ""]
    if len(rows) > _FOLD_ROWS:  # a long package list folds away so the rest of the PR stays readable
        block += [f"<details><summary>{len(rows)} packages changed</summary>", "",
                  *_table(["package", "change", "old", "new"], rows), "", "</details>"]
    elif rows:
        block += _table(["package", "change", "old", "new"], rows)
    if not env.packages_known:
        block += ["", "_Package lists unavailable: a lockfile is missing from a commit._"]
    return block


def _params_section(result: DiffResult) -> list[str]:
    if not result.params.changed:
        return []
    rows = [[_code(c.key), _text(diff_format.value(c.old)), _text(diff_format.value(c.new))]
            for c in result.params.entries]
    return ["**Params**", "", *_table(["param", "old", "new"], rows)]


_VERDICT = {"better": "\U0001F7E2 ", "worse": "\U0001F534 ", None: ""}
_ARROW = {"up": "\u25B2 ", "down": "\u25BC ", None: ""}


def _metrics_section(result: DiffResult) -> list[str]:
    if not result.metrics.changed:
        return []
    rows = []
    for c in result.metrics.entries:
        mark = _VERDICT[diff_format.metric_verdict(c)] + _ARROW[c.direction]
        rows.append([_code(c.key), _text(diff_format.value(c.old)), _text(diff_format.value(c.new)),
                     mark + _text(diff_format.metric_change(c))])
    return ["**Metrics**", "", *_table(["metric", "old", "new", "change"], rows, right=(1, 2, 3))]


def _command_section(result: DiffResult) -> list[str]:
    cmd = result.command
    if not cmd.changed:
        return []
    return ["**Command**", "", *_table(["old", "new"], [[_code(cmd.old or "-"), _code(cmd.new or "-")]])]
