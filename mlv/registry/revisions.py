"""Revisions as users write them: anything git understands, and registry names.

`NAME@vX.Y.Z` is a real tag, so git resolves it already; `NAME@latest` and `NAME#STAGE` are
registry names that only the registry can turn into a commit. Callers that take a revision from
the user pass it through `resolve` first; ordinary revisions cost nothing (the registry is read
only for text with `@` or `#`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from mlv.errors import MlvWarning


class DeregisteredVersionWarning(MlvWarning):
    """A revision names a model version that was deregistered (its register tag still resolves)."""


def resolve(root: Path, text: str) -> str:
    """The commit a registry name stands for, or TEXT unchanged for git to resolve. A deregistered
    version still resolves (its tag remains, as in GTO), with a DeregisteredVersionWarning."""
    if "#" not in text and "@" not in text:
        return text
    from mlv.registry import resolve_registry_rev

    found = resolve_registry_rev(root, text) or text
    note = deregistered_note(root, text)
    if note is not None:
        warnings.warn(note, DeregisteredVersionWarning, stacklevel=2)
    return found


def deregistered_note(root: Path, text: str) -> str | None:
    """What to tell a user whose revision TEXT (`NAME@vX.Y.Z`) names a deregistered version."""
    from mlv.registry import names, state

    ref = names.parse_reference(text, bare_means_latest=False)
    if ref is None or ref.version in (None, "latest"):
        return None
    model = state.load(root).get(ref.model)
    version = model.versions.get(ref.version or "") if model is not None else None
    if version is None or not version.deregistered:
        return None
    return (f"{ref.model}@{ref.version} was deregistered; it still names commit {version.commit[:10]} "
            f"(its register tag remains), but it is no model version now")
