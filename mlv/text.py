"""Text from a repository made safe to print on a terminal.

A commit message, a recorded command, a path or a param name is written by whoever made the
commit. Printed raw, its control characters are obeyed by the terminal: `ESC 7 ... ESC 8 ESC [K`
can hide the command `mlv reproduce` is about to run behind a harmless one. `visible()` shows them
as escapes instead (`\\x1b`), so what is on screen is what is in the repository.

Builtins only: the git hooks (mlv.hooks.run) print with it on their fast path.
"""

from __future__ import annotations

# C0 controls, DEL and C1 controls (a terminal obeys 0x9b as ESC [), shown the way Python's repr
# shows them; then the Unicode marks that reorder or hide text around them (bidirectional
# overrides and isolates, zero-width joiners, the byte-order mark), shown as \\uXXXX.
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPES: dict[int, str] = {
    code: _NAMED.get(chr(code), f"\\x{code:02x}") for code in (*range(0x20), *range(0x7F, 0xA0))
}
_ESCAPES.update({code: f"\\u{code:04x}" for code in (
    0x061C, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A),
    0xFEFF,
)})
_ESCAPES_KEEP_NEWLINES = {code: text for code, text in _ESCAPES.items() if code != 0x0A}


def visible(text: str, *, newlines: bool = False) -> str:
    """TEXT with every control character shown as an escape (`\\x1b`, `\\t`, `\\u202e`).

    With NEWLINES, line breaks stay line breaks: for a multi-line text shown as several lines (a
    full commit message); every one-line field leaves it False. A lone surrogate (a file name that
    is not UTF-8, kept by `surrogateescape`) is shown as the byte it stands for.
    """
    shown = text.translate(_ESCAPES_KEEP_NEWLINES if newlines else _ESCAPES)
    if shown.isascii() or not _has_surrogate(shown):
        return shown
    return "".join(_surrogate(c) if 0xD800 <= ord(c) <= 0xDFFF else c for c in shown)


def _surrogate(char: str) -> str:
    code = ord(char)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
