"""Text from a repository made inert in GitHub/GitLab Markdown (a pull-request comment).

A metric name, a branch name or a param value comes from whoever opened the pull request. Written
raw into the bot's comment, `<img src=x onerror=...>`, `[click](https://evil)`, `**` or
`@org/team` would render as HTML, a link, formatting or a mention posted under the bot's name.
`escape_text()` escapes it for running text and table cells; `code_span()` wraps it in a code span that no
backtick in it can close. Pipes are left to the table writer (`\\|` works in both).
"""

from __future__ import annotations

import re

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that start
# formatting, links, images, headings, strike-through or mentions anywhere in a line (`<`, `>` and
# `&` become entities: no HTML). `|` is the table writer's.
_SPECIAL = re.compile(r"([\\`*_\[\]#!~@])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def escape_text(value: str) -> str:
    """VALUE as literal text on one line: HTML characters as entities, Markdown's escaped."""
    one_line = " ".join(value.split("\n"))
    escaped = _SPECIAL.sub(r"\\\1", one_line)
    return "".join(_HTML.get(c, c) for c in escaped)


def code_span(value: str) -> str:
    """VALUE as an inline code span, fenced by more backticks than it contains in a row."""
    one_line = " ".join(value.split("\n"))
    if not one_line:
        return ""
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {one_line} " if longest or one_line.startswith(" ") else one_line
    return f"{fence}{padded}{fence}"
