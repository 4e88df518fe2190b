"""A model registry in git tags, GTO-compatible, with lineage and promotion gates; no server.

Writes: `actions` (one annotated tag per event). Reads: `queries` (one `git for-each-ref`).
`resolve_registry_rev` turns `NAME@vX.Y.Z`, `NAME@latest`, `NAME#STAGE` into a commit.
"""

from mlv.registry.names import RegistryError
from mlv.registry.queries import resolve_registry_rev

__all__ = ["RegistryError", "resolve_registry_rev"]
