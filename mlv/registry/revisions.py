"""Revisions as users write them: anything git understands, and registry names.

`NAME@vX.Y.Z` is a real tag, so git resolves it already; `NAME@latest` and `NAME#STAGE` are
registry names that only the registry can turn into a commit. Callers that take a revision from
the user pass it through `resolve` first; ordinary revisions cost nothing (the registry is read
only for text with `@` or `#`).
"""

from __future__ import annotations

from pathlib import Path


def resolve(root: Path, text: str) -> str:
    """The commit a registry name stands for, or TEXT unchanged for git to resolve."""
    if "#" not in text and "@" not in text:
        return text
    from mlv.registry import resolve_registry_rev

    return resolve_registry_rev(root, text) or text
