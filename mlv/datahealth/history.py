"""Datasets of past commits: which version of a data path a revision used, and its profile.

A revision is a git revision or a registry name (`NAME@vX.Y.Z`, `NAME#STAGE`). The data of an
experiment commit is what its record lists; of any other commit, its `.dvc` pointer files. The
profile of a dataset version is read from `.mlv/profiles/<md5>.json` (committed by the snapshot
that first saw it); a commit older than that has it computed from the DVC cache, fetching from the
DVC remote when needed, and remembered under `.git/mlv/profiles/` so the next check is instant.
Nothing here changes the work tree.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.datahealth.errors import DataHealthError
from mlv.datahealth.model import Profile
from mlv.datahealth.store import is_tabular, parse_profile, profile_from_cache, stored_profile
from mlv.errors import MlvError


@dataclass(frozen=True)
class Revision:
    commit: str
    shown: str  # how the user named it, for messages: "HEAD~2", "churn@v1.0.0", "the latest experiment"
    data: list[dvc.Pointer]  # the data paths at that commit
    command: str | None  # the experiment's command (None: not an experiment, or none recorded)
    is_experiment: bool


@dataclass(frozen=True)
class Side:
    """One side of a check: a profile, and where it came from."""

    profile: Profile
    label: str
    revision: Revision | None = None
    stored: bool = False  # read from a stored profile (no data was read)


def resolve(root: Path, text: str) -> Revision:
    """The revision TEXT names: a registry reference first, then any git revision."""
    from mlv.registry import resolve_registry_rev

    try:
        commit = resolve_registry_rev(root, text) or git.resolve_commit(root, text)
    except MlvError as exc:
        raise DataHealthError(exc.message, hint=exc.hint) from None
    return _revision(root, commit, text)


def latest_experiment(root: Path) -> Revision:
    from mlv.record import history

    found = history.latest_valid(root, 1)
    if not found:
        raise DataHealthError("there is no experiment to compare with",
                              hint="Record one with `mlv snapshot`, or name a reference: --against or --against-file.")
    return _revision(root, found[0].commit, "the latest experiment")


def _revision(root: Path, commit: str, shown: str) -> Revision:
    from mlv.record import history

    try:
        exp = history.show_experiment(root, commit)
    except MlvError:
        return Revision(commit, shown, _tree_data(root, commit), None, False)
    return Revision(commit, shown, list(exp.record.data), exp.record.command, True)


def _tree_data(root: Path, commit: str) -> list[dvc.Pointer]:
    """The pointer files at COMMIT, limited to the configured data paths when there is a config."""
    from mlv.data.restore import pointers_at
    from mlv.project import config

    try:
        pointers = pointers_at(root, commit)
    except MlvError as exc:
        raise DataHealthError(exc.message, hint=exc.hint) from None
    try:
        wanted = set(config.load(root).data)
    except MlvError:
        return pointers
    return [p for p in pointers if p.path in wanted] or pointers


def repo_path(root: Path, path: Path) -> str:
    """PATH (relative to the current folder, as typed) as a path relative to the repository root.
    Only the folders are resolved: the data path itself may be a symlink."""
    absolute = os.path.abspath(path)
    parent = os.path.realpath(os.path.dirname(absolute))
    rel = os.path.relpath(os.path.join(parent, os.path.basename(absolute)), os.path.realpath(root))
    rel = posixpath.normpath(rel.replace(os.sep, "/"))
    if rel == ".." or rel.startswith("../"):
        raise DataHealthError(f"{path} is outside the repository")
    return rel


def only_tabular_path(root: Path, pointers: list[dvc.Pointer], where: str) -> str:
    """The one tabular data path among POINTERS, for commands run without a PATH."""
    cache = dvc.cache_dir(root)
    # A folder whose data was never pulled may still be tabular: it is tried.
    tabular = [p.path for p in pointers if is_tabular(cache, p, when_unknown=True)]
    if not tabular:
        raise DataHealthError(f"{where} has no CSV or Parquet data path",
                              hint="Name a dataset: `mlv data check PATH`.")
    if len(tabular) > 1:
        raise DataHealthError(f"{where} has several tabular data paths ({', '.join(tabular)}); name one",
                              hint=f"For example: `mlv data check {tabular[0]}`.")
    return tabular[0]


def owning_pointer(revision: Revision, rel: str) -> tuple[dvc.Pointer, str]:
    """The data path of REVISION holding REL, and REL's place inside it ("" when it is the path)."""
    for pointer in revision.data:
        if rel == pointer.path:
            return pointer, ""
        if rel.startswith(pointer.path + "/"):
            return pointer, rel[len(pointer.path) + 1:]
    paths = ", ".join(p.path for p in revision.data) or "none"
    raise DataHealthError(f"{rel} is not data of {revision.shown} ({revision.commit[:10]}; its data paths: {paths})",
                          hint="Compare other files with --against-file.")


def profile_at(root: Path, revision: Revision, rel: str) -> Side:
    """The profile of REL as REVISION had it: stored if possible, else computed from the cache."""
    pointer, inside = owning_pointer(revision, rel)
    label = f"{rel} @ {revision.commit[:10]} ({revision.shown})" if revision.shown != revision.commit[:10] \
        else f"{rel} @ {revision.commit[:10]}"
    invalid: DataHealthError | None = None
    if not inside:
        try:
            found = stored_profile(root, pointer.md5, [revision.commit])
        except DataHealthError as exc:  # forged, damaged or of an older format: never compared
            found, invalid = None, exc
        found = found or _local(root, pointer.md5)
        if found is not None:
            return Side(found, label, revision, stored=invalid is None)
    try:
        profile = profile_from_cache(root, pointer, inside, fetch=True)
    except DataHealthError as exc:
        if invalid is None:
            raise
        raise DataHealthError(f"{invalid.message.rstrip('.')}; and its data cannot be profiled again: "
                              f"{exc.message.rstrip('.')}", hint=exc.hint) from None
    if not inside:
        _remember_local(root, pointer.md5, profile)
    return Side(profile, label, revision)


def _local_path(root: Path, md5: str) -> Path:
    return git.common_dir(root) / "mlv" / "profiles" / f"{md5}.json"


def _local(root: Path, md5: str) -> Profile | None:
    """A profile computed earlier for a commit that has none (never committed: a cache)."""
    path = _local_path(root, md5)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return parse_profile(data, str(path))
    except DataHealthError:
        return None  # a damaged cache entry is computed again


def _remember_local(root: Path, md5: str, profile: Profile) -> None:
    path = _local_path(root, md5)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(profile.dumps(), "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # only a speed-up is lost
