"""What `mlv serve` serves: a package folder, or a registry version packaged into mlv's cache first.

`NAME#STAGE` and `NAME@vX.Y.Z` are packaged (`mlv model package`) into
`.git/mlv/serve/packages/NAME@vX.Y.Z/`, once: a cached package that still verifies is used again,
one that does not is packaged afresh. The server then loads it like any package: verified first.
"""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlv.adapters import git
from mlv.registry import names, package, queries, servable, state
from mlv.registry.names import RegistryError


@dataclass(frozen=True)
class Target:
    folder: Path  # the package to serve
    root: Path | None  # the repository, when a registry reference was given
    reference: str | None  # the registry reference as given (NAME#STAGE to follow)

    @property
    def stage(self) -> str | None:
        parsed = names.parse_reference(self.reference) if self.reference else None
        return parsed.stage if parsed is not None else None


def find(text: str, cwd: Path) -> Target:
    """TEXT as a package folder (when it is a folder) or a registry reference of the repository at CWD."""
    as_path = Path(text)
    if as_path.is_dir():
        return Target(as_path.absolute(), None, None)
    if names.parse_reference(text) is None:
        raise RegistryError(f"{text!r} is neither a package folder nor a registry reference",
                            hint="Serve NAME#STAGE, NAME@vX.Y.Z or a folder made by `mlv model package`.")
    root = git.find_root(cwd)
    found = queries.resolve(state.load(root), text)
    return Target(packaged(root, found.model.name, found.version.version), root, text)


def current_version(root: Path, reference: str) -> tuple[str, str]:
    """The model and version REFERENCE names now (for --follow)."""
    found = queries.resolve(state.load(root), reference)
    return found.model.name, found.version.version


def packaged(root: Path, model: str, version: str) -> Path:
    """The cached package of MODEL@VERSION, made when missing or when it no longer verifies."""
    folder = git.common_dir(root) / "mlv" / "serve" / "packages" / f"{model.replace('/', '%2F')}@{version}"
    if folder.is_dir() and not package.verify(folder) and (folder / servable.SCHEMA_FILE).is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)  # mlv's own cache under .git/mlv: made again below
    try:
        package.package(root, f"{model}@{version}", folder)
    except RegistryError:
        # Another worker packaged it meanwhile (the folder is no longer empty): use theirs.
        if not folder.is_dir() or package.verify(folder):
            raise
    except OSError:
        with contextlib.suppress(OSError):
            if folder.is_dir() and not package.verify(folder):
                return folder
        raise
    return folder
