"""`mlv model get`: write a version's artifact into a folder, verified against its md5, from the DVC
cache (fetched from the DVC remote when missing) without checking anything out.

The output folder is trusted, nothing under it is: manifest paths go through the data path rule,
and every write goes through `SafeTree` (no symlink followed below the folder, atomic replace).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlv.adapters import dvc, remote_trust
from mlv.data import objects, pathsafety
from mlv.data.safe_write import SafeTree
from mlv.errors import EXIT_CANNOT_RUN, DvcError, UntrustedRemoteError
from mlv.record.history import Experiment
from mlv.registry import artifacts, metadata, queries, trust
from mlv.registry.names import RegistryError


@dataclass
class Got:
    model: str
    version: str
    path: Path  # what was written (a file or a folder)
    md5: str
    files: int
    fetched: int  # objects downloaded from the DVC remote


def _missing(md5s: list[str], cache: Path) -> list[str]:
    return [m for m in md5s if not dvc.has_object(cache, m)]


def _ensure(root: Path, cache: Path, md5s: list[str]) -> int:
    missing = _missing(md5s, cache)
    if not missing:
        return 0
    try:
        fetched = remote_trust.fetch_objects(root, missing, None)
    except UntrustedRemoteError:
        raise
    except DvcError as exc:
        raise DvcError(f"the artifact's data is not in the DVC cache and cannot be fetched: {exc.message}",
                       hint=exc.hint, exit_code=EXIT_CANNOT_RUN) from None
    still = _missing(missing, cache)
    if still:
        raise DvcError(f"{len(still)} object(s) of the artifact are in neither the DVC cache nor the remote",
                       hint="Push them from a machine that has them: `mlv push` or `dvc push`.",
                       exit_code=EXIT_CANNOT_RUN)
    return fetched


def _write(tree: SafeTree, cache: Path, md5: str, rel: str) -> None:
    """Write object MD5 as REL under the output folder: folders opened one by one without following
    a symlink, the file replaced atomically (a symlink at its place is replaced, never followed)."""
    rel = pathsafety.data_path(rel, "artifact file")
    if not dvc.verify_object(cache, md5):
        raise objects.corrupt_object_error(cache, md5, rel)
    folder_rel, _, name = rel.rpartition("/")
    folder = tree.open_dir(folder_rel, create=True, what="artifact file")
    assert folder is not None  # noqa: S101 - create=True always gives a descriptor
    try:
        objects.write_object(tree, folder, name, md5, cache, rel)
    finally:
        os.close(folder)


def default_folder(model: str, version: str) -> Path:
    """`NAME-vX.Y.Z` in the current folder: a new folder, so a tag never chooses which of the
    user's files are replaced."""
    return Path(f"{model.replace('/', '-').replace(':', '-')}-{version}")


def _refuse_existing(out_dir: Path, rels: list[str]) -> None:
    for rel in rels:
        target = out_dir / rel
        if os.path.lexists(target):
            raise RegistryError(f"{target} exists already; nothing was written",
                                hint="Pass --force to replace it, or write into a new folder with -o DIR.")


def _recorded_artifact(root: Path, cache: Path, found: queries.Resolved, exp: Experiment | None,
                       claimed: str) -> tuple[str, str, int]:
    """(path, md5) of the output CLAIMED (the tag's mlv metadata names it) as the record holds it,
    and the objects fetched to learn its md5."""
    truth = trust.record_artifact(root, exp, claimed) if exp is not None else None
    if truth is None:
        raise RegistryError(f"{found.model.name} {found.version.version} has no mlv metadata naming its artifact",
                            hint="Only versions registered by `mlv model register` can be fetched.")
    fetched = 0
    if truth["md5"] is None:  # a file inside an output folder whose manifest was not here
        fetched = _ensure(root, cache, [truth["folder_md5"]])
        truth = trust.record_artifact(root, exp, claimed) if exp is not None else None
        if truth is None or truth["md5"] != metadata.dict_field(found.version.meta, "artifact").get("md5"):
            raise trust.UntrustedVersionError(
                f"refusing to fetch {found.model.name} {found.version.version}: it is invalid, its tag's "
                "artifact md5 is not the record's", hint="Deregister it and register again.")
    return str(truth["path"]), str(truth["md5"]), fetched  # the record's: the tag only says which output


def _declared_artifact(root: Path, found: queries.Resolved) -> tuple[str, str]:
    """(path, md5) of the artifact of a version whose tag makes no claim (GTO registered it): what
    its commit declares in `dvc.yaml` `artifacts:` or `artifacts.yaml`, hashed by its pointer files."""
    name, version, commit = found.model.name, found.version.version, found.version.commit
    declared = artifacts.declared_path(root, commit, name)
    if declared is None:
        raise RegistryError(f"{name} {version} names no artifact: its tag has no mlv metadata, and commit "
                            f"{commit[:10]} declares no {name!r} in dvc.yaml `artifacts:` or artifacts.yaml",
                            hint=f"Declare it (`dvc artifacts`/`gto annotate`), or register with "
                                 f"`mlv model register {name}`.")
    where = artifacts.located(root, commit, declared)
    if where is None:
        raise RegistryError(f"{name} {version}: {declared!r}, its artifact path, is tracked by no .dvc file "
                            f"or dvc.lock in commit {commit[:10]}",
                            hint="Only data DVC tracks can be fetched by hash; check the declared path.")
    return declared, str(where["md5"])


def get(root: Path, text: str, out_dir: Path | None = None, *, force: bool = False) -> Got:
    """Write TEXT's artifact into OUT_DIR (default `NAME-vX.Y.Z`); an existing file there is
    replaced only with FORCE."""
    found, exp = queries.resolve_trusted(root, text, "fetch")
    cache = dvc.cache_dir(root)
    claimed = metadata.dict_field(found.version.meta, "artifact").get("path")
    if isinstance(claimed, str):
        path, md5, fetched = _recorded_artifact(root, cache, found, exp, claimed)
    else:
        (path, md5), fetched = _declared_artifact(root, found), 0
    name = pathsafety.safe_relpath(path, "artifact path").rsplit("/", 1)[-1]
    out_dir = (out_dir or default_folder(found.model.name, found.version.version)).absolute()
    fetched += _ensure(root, cache, [md5])
    if not md5.endswith(".dir"):
        if not force:
            _refuse_existing(out_dir, [name])
        out_dir.mkdir(parents=True, exist_ok=True)
        with SafeTree(out_dir) as tree:
            _write(tree, cache, md5, name)
        return Got(found.model.name, found.version.version, out_dir / name, md5, 1, fetched)
    if not dvc.verify_object(cache, md5):
        raise objects.corrupt_object_error(cache, md5, path)
    listing = dvc.load_manifest_map(cache, md5) or {}
    fetched += _ensure(root, cache, sorted(set(listing.values())))
    if not force:
        _refuse_existing(out_dir, [f"{name}/{rel}" for rel in listing])
    out_dir.mkdir(parents=True, exist_ok=True)
    with SafeTree(out_dir) as tree:
        for rel, file_md5 in sorted(listing.items()):
            _write(tree, cache, file_md5, f"{name}/{pathsafety.safe_relpath(rel, 'manifest path')}")
    return Got(found.model.name, found.version.version, out_dir / name, md5, len(listing), fetched)
