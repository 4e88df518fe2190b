"""A model registry in git tags, GTO-compatible, with lineage and promotion gates; no server.

Writes: `actions` (one annotated tag per event). Reads: `queries` (one `git for-each-ref`).
`resolve_registry_rev` turns `NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE` into a commit.
"""

from __future__ import annotations

from pathlib import Path

from mlv.registry.names import RegistryError

__all__ = ["RegistryError", "resolve_registry_rev"]


def resolve_registry_rev(root: Path, text: str) -> str | None:
    """See `mlv.registry.queries.resolve_registry_rev` (imported on use: callers such as `mlv diff`
    should not pay for the registry unless they are given a registry name)."""
    from mlv.registry import queries

    return queries.resolve_registry_rev(root, text)
