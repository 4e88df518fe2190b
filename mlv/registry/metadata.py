"""The machine-readable block in a registry tag's message (docs/reference/registry-tags.md).

Like the experiment record: JSON between two marker lines after a human line, so `git show TAG`
and GTO (which reads the message as free text) both stay readable. Tags can be made by hand or by
other tools, so parsing is defensive: size caps, and any damage means "no mlv metadata", never
an exception.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

SCHEMA_VERSION = 1
BEGIN = "--- mlv registry record v{version} ---"
END = "--- end mlv registry record ---"
_BEGIN_RE = re.compile(r"^--- mlv registry record v(\d+) ---$", re.MULTILINE)
MAX_JSON = 128 * 1024  # a real block is a few KB; anything bigger is not ours
MAX_DEPTH = 32


def render(summary: str, doc: dict[str, Any]) -> str:
    # Tag dates have one-second resolution; this orders events made within the same second.
    stamped = {"schema": SCHEMA_VERSION, **doc, "written_ns": time.time_ns()}
    body = json.dumps(stamped, indent=1, ensure_ascii=False, default=str)
    return f"{summary.strip()}\n\n{BEGIN.format(version=SCHEMA_VERSION)}\n{body}\n{END}\n"


def _depth(value: Any, limit: int) -> bool:
    """True when VALUE nests no deeper than LIMIT (a guard for whoever walks it later)."""
    if limit < 0:
        return False
    if isinstance(value, dict):
        return all(_depth(v, limit - 1) for v in value.values())
    if isinstance(value, list):
        return all(_depth(v, limit - 1) for v in value)
    return True


def parse(message: str) -> tuple[str, dict[str, Any] | None]:
    """(the human text, the metadata or None). None for a message without a valid block."""
    match = _BEGIN_RE.search(message)
    if not match:
        return message.strip(), None
    human = message[: match.start()].strip()
    end = message.find(END, match.end())
    if end < 0 or end - match.end() > MAX_JSON or int(match.group(1)) > SCHEMA_VERSION:
        return human, None
    try:
        doc = json.loads(message[match.end():end])
    except (ValueError, RecursionError):
        return human, None
    if not isinstance(doc, dict) or not _depth(doc, MAX_DEPTH):
        return human, None
    return human, doc


_WRITTEN_RE = re.compile(r'^ "written_ns": (\d{1,20}),?$', re.MULTILINE)


def written_ns(message: str) -> int:
    """The nanosecond stamp of an mlv block (0 when absent), without parsing the JSON: ordering
    thousands of events must not cost a JSON parse each."""
    match = _WRITTEN_RE.search(message)
    return int(match.group(1)) if match else 0


def dict_field(doc: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """DOC[KEY] when it is a mapping, else {}: readers never trust a hand-made block's shape."""
    value = (doc or {}).get(key)
    return value if isinstance(value, dict) else {}
