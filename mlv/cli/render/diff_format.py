"""Plain-text pieces shared by the terminal and Markdown renderings of `mlv diff`."""

from __future__ import annotations

from typing import Any

from mlv.cli.output import fmt_size, fmt_value
from mlv.diff.compare import DiffResult
from mlv.diff.data import DataEntry, FolderChanges
from mlv.diff.sides import Side
from mlv.diff.values import Change, EnvSection, PackageChange, better_direction

MAX_NAMES = 5  # file names listed per kind of folder change; the JSON has them all


def side_title(side: Side) -> str:
    if side.is_workspace:
        return "workspace (uncommitted changes)"
    short = (side.commit or "")[:10]
    name = short if side.label == short else f"{side.label} ({short})"
    return f"{name} \u201c{side.message}\u201d" if side.message else name


def value(v: Any) -> str:
    return "-" if v is None else fmt_value(v)


def signed_size(delta: int | None) -> str:
    if delta is None or delta == 0:
        return ""
    return f"+{fmt_size(delta)}" if delta > 0 else f"-{fmt_size(-delta)}"


def data_size(entry: DataEntry) -> str:
    """'97.0 KiB' or '95.2 KiB → 97.0 KiB (+1.8 KiB)'."""
    old = entry.old["size"] if entry.old else None
    new = entry.new["size"] if entry.new else None
    if entry.status == "unchanged" or old is None or new is None or old == new:
        return fmt_size(new if new is not None else old)
    change = signed_size(entry.size_change)
    # "2.7 MiB → 2.7 MiB" says nothing: when both round the same, show the size once.
    sizes = fmt_size(new) if fmt_size(old) == fmt_size(new) else f"{fmt_size(old)} \u2192 {fmt_size(new)}"
    return sizes + (f" ({change})" if change else "")


def folder_counts(folder: FolderChanges) -> str:
    parts = [f"{len(folder.added)} added", f"{len(folder.removed)} removed",
             f"{len(folder.modified)} modified", f"{folder.unchanged} unchanged"]
    return ", ".join(p for p in parts if not p.startswith("0 "))


def data_details(entry: DataEntry) -> str:
    """One cell: what changed inside a folder, or why we cannot tell."""
    if entry.note:
        return entry.note
    if entry.folder is not None:
        return folder_counts(entry.folder)
    return ""


def folder_names(folder: FolderChanges) -> list[tuple[str, list[str], int]]:
    """(kind, first names, how many more) per kind of change in a folder, MAX_NAMES names each."""
    return [(kind, names[:MAX_NAMES], max(0, len(names) - MAX_NAMES))
            for kind, names in (("added", folder.added), ("removed", folder.removed),
                                ("modified", folder.modified)) if names]


def more(count: int) -> str:
    return f" (+{count} more)" if count else ""


def metric_change(change: Change) -> str:
    """'+0.002015 (+2.06%)', or '' when the values are not both numbers."""
    if change.abs_change is None:
        return ""
    text = f"{change.abs_change:+.4g}"
    if change.rel_change is not None:
        text += f" ({change.rel_change:+.2%})"
    return text


def metric_verdict(change: Change) -> str | None:
    """'better', 'worse' or None (no direction, or a metric whose good direction is unknown)."""
    good = better_direction(change.key)
    if change.direction is None or good is None:
        return None
    return "better" if change.direction == good else "worse"


def package_rows(env: EnvSection) -> list[tuple[str, PackageChange]]:
    """(what happened, change) for every package that differs, python and platform first."""
    rows: list[tuple[str, PackageChange]] = []
    for label, item in (("changed", env.python), ("changed", env.platform)):
        if item is not None:
            rows.append((label, item))
    for label, items in (("added", env.added), ("removed", env.removed), ("upgraded", env.upgraded),
                         ("downgraded", env.downgraded), ("changed", env.changed_other)):
        rows.extend((label, item) for item in items)
    return rows


def unavailable(result: DiffResult) -> list[tuple[str, str]]:
    """(section names, reason) for the sections that could not be compared, grouped by reason."""
    grouped: dict[str, list[str]] = {}
    for name in ("environment", "params", "metrics", "command"):
        section = getattr(result, name)
        if not section.available and section.reason:
            grouped.setdefault(section.reason, []).append(name)
    return [(", ".join(names), reason) for reason, names in grouped.items()]
