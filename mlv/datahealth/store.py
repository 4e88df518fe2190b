"""Profiles of dataset versions, committed next to the records as `.mlv/profiles/<md5>.json`.

A profile is keyed by the DVC md5 of the data path it describes (a file's md5, or a folder's
`<md5>.dir`), so one stored profile serves every experiment and registered model that used those
bytes, and reading it needs no data. `mlv snapshot` adds the profiles of new dataset versions to
its commit (`profiles_for_snapshot`); `mlv data profile --rev` computes them for older commits from
the DVC cache (`cache_view`), without a checkout.

The snapshot's hot path only tests whether `.mlv/profiles/<md5>.json` exists in the work tree:
nothing heavy (numpy, pyarrow) is imported unless a tabular dataset has a new md5.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.datahealth.errors import DataHealthError, MissingExtraError
from mlv.datahealth.model import Profile
from mlv.datahealth.reader import CSV_SUFFIXES, PARQUET_SUFFIXES
from mlv.errors import DvcError, MlvError, UntrustedRemoteError

PROFILES_DIR = ".mlv/profiles"
SNAPSHOT_MAX_FILES = 100  # CSV/Parquet files in one data folder that a snapshot still profiles
MAX_PROFILE_BYTES = 16 << 20  # a real profile is a few kB per column; refuse anything absurd
# Local notes (never committed): dataset versions that get no profile (they could not be profiled,
# or are folders without a CSV/Parquet file, whose manifest a snapshot would otherwise read each
# time), and whether the missing-extra line was shown once already.
_SKIPPED = "mlv/profile-skipped.txt"
_NO_EXTRA_SHOWN = "mlv/profile-no-extra-shown"


def profile_path(md5: str) -> str:
    """Where the profile of the data whose DVC hash is MD5 lives, relative to the repository root."""
    return f"{PROFILES_DIR}/{md5}.json"


def is_tabular_name(name: str) -> bool:
    return name.lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)


# -- at snapshot ---------------------------------------------------------------------------------


def profiles_for_snapshot(root: Path, data_paths: Sequence[str], pointers: Sequence[dvc.Pointer]
                          ) -> dict[str, bytes]:
    """Path -> bytes of the profile files to add to the experiment commit: one per tabular data
    path whose md5 has no profile in the work tree yet. Never raises for the data's sake: a
    dataset that cannot be profiled, or a missing `mlv-vcs[data]` extra, only leaves the profile out.

    A folder of more than SNAPSHOT_MAX_FILES CSV/Parquet files (a sharded table) is left to
    `mlv data profile` and `mlv data check`, which profile it from the cache when asked: a whole
    profile at every snapshot would read every shard again after a change to one of them."""
    wanted = set(data_paths)
    new = [p for p in pointers if p.path in wanted and not os.path.exists(root / profile_path(p.md5))]
    if not new:
        return {}
    cache = dvc.cache_dir(root)
    skipped = _skipped_before(root)
    todo = []
    for pointer in (p for p in new if p.md5 not in skipped):
        try:
            count = tabular_files(cache, pointer)
        except DvcError:
            continue  # a damaged manifest: no answer to remember (it may be fetched again)
        if count is not None and 0 < count <= SNAPSHOT_MAX_FILES:
            todo.append(pointer)
        elif count is not None and pointer.is_dir:  # a folder's md5 names its listing: the answer holds
            _remember_skipped(root, pointer.md5)
    if not todo:
        return {}
    written: dict[str, bytes] = {}
    for pointer in todo:
        try:
            written[profile_path(pointer.md5)] = profile_from_cache(root, pointer).dumps().encode()
        except MissingExtraError:
            _note_missing_extra_once(root)
            return written
        except (MlvError, OSError) as exc:
            reason = exc.one_line() if isinstance(exc, MlvError) else str(exc)
            _remember_skipped(root, pointer.md5)
            _info(f"no data profile for {pointer.path}: {reason}")
    return written


def tabular_files(cache: Path, pointer: dvc.Pointer) -> int | None:
    """How many CSV/Parquet files POINTER's data holds (a file: 1 or 0); None for a folder whose
    manifest is not in the cache (its data was never pulled). Raises DvcError for a damaged one."""
    if not pointer.is_dir:
        return int(is_tabular_name(pointer.path))
    listing = dvc.load_manifest_map(cache, pointer.md5)
    return None if listing is None else sum(1 for rel in listing if is_tabular_name(rel))


def is_tabular(cache: Path, pointer: dvc.Pointer, *, when_unknown: bool) -> bool:
    """Whether POINTER's data is a CSV/Parquet file or a folder holding some; WHEN_UNKNOWN for a
    folder whose manifest is not in the cache (its data was never pulled)."""
    try:
        count = tabular_files(cache, pointer)
    except DvcError:
        return False
    return when_unknown if count is None else count > 0


def _info(line: str) -> None:
    """An informational line on stderr: a profile is a convenience, never a reason to fail a
    snapshot, and SnapshotResult's warnings are for things the user should act on."""
    from mlv.text import visible

    sys.stderr.write(f"mlv: {visible(line)}\n")


def _note_missing_extra_once(root: Path) -> None:
    marker = git.git_dir(root) / _NO_EXTRA_SHOWN
    if marker.exists():
        return
    _info("data profiles are skipped: install the optional extra to record them (pip install 'mlv-vcs[data]')")
    with contextlib.suppress(OSError):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()


def _skipped_before(root: Path) -> set[str]:
    try:
        return set((git.git_dir(root) / _SKIPPED).read_text("utf-8").split())
    except (OSError, UnicodeDecodeError):
        return set()


def _remember_skipped(root: Path, md5: str) -> None:
    with contextlib.suppress(OSError):
        path = git.git_dir(root) / _SKIPPED
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(md5 + "\n")


# -- reading stored profiles ---------------------------------------------------------------------


def stored_profile(root: Path, md5: str, revs: Sequence[str] = ()) -> Profile | None:
    """The stored profile of MD5: from the first of REVS whose tree has it, else from the work tree.

    Being keyed by content, a profile found anywhere describes the same bytes.
    """
    rel = profile_path(md5)
    for rev in revs:
        data = git.read_blob(root, rev, rel)
        if data is not None:
            return parse_profile(data, f"{rev[:10]}:{rel}")
    try:
        with open(root / rel, "rb") as handle:
            data = handle.read(MAX_PROFILE_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return parse_profile(data, rel)


def parse_profile(data: bytes, where: str) -> Profile:
    if len(data) > MAX_PROFILE_BYTES:
        raise DataHealthError(f"{where} is larger than {MAX_PROFILE_BYTES >> 20} MB; not a data profile mlv wrote")
    try:
        return Profile.from_json(json.loads(data))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DataHealthError(f"{where} is not a data profile: {exc}") from None
    except DataHealthError as exc:
        raise exc.with_context(prefix=f"{where}: ") from None


# -- data from the DVC cache ---------------------------------------------------------------------


def profile_from_cache(root: Path, pointer: dvc.Pointer, inside: str = "", fetch: bool = False) -> Profile:
    """The profile of POINTER's content in the DVC cache (INSIDE: only that file or folder of a
    tracked folder). With FETCH (data of an older commit), missing objects are fetched from the
    DVC remote and every object is verified against its hash before it is read; without, the
    objects are the ones a snapshot has just hashed into the cache."""
    from mlv.datahealth.errors import require_extra
    from mlv.datahealth.profiler import profile_dataset

    require_extra(checking=False)  # before any fetch: without the extra, downloading would be wasted
    with cache_view(root, pointer, inside, fetch) as view:
        return profile_dataset(view)


@contextlib.contextmanager
def cache_view(root: Path, pointer: dvc.Pointer, inside: str = "", fetch: bool = False) -> Iterator[Path]:
    """A temporary folder of symlinks to the cache objects of POINTER's tabular files, named as in
    the data path (the readers tell CSV from Parquet by the name). Read-only: nothing in the work
    tree or the cache changes, except objects fetched into the cache."""
    from mlv.data.pathsafety import safe_relpath

    cache = dvc.cache_dir(root)
    files = _tabular_files(root, cache, pointer, fetch)
    if inside:
        files = {rel: md5 for rel, md5 in files.items() if rel == inside or rel.startswith(inside + "/")}
        if not files:
            raise DataHealthError(f"{pointer.path}/{inside} holds no CSV or Parquet file at that version")
    _ensure_present(root, cache, pointer.path, sorted(set(files.values())), fetch)
    if fetch:
        _verify(root, cache, pointer.path, sorted(set(files.values())))
    with tempfile.TemporaryDirectory(prefix="mlv-profile-") as tmp:
        if not pointer.is_dir:
            view = Path(tmp) / Path(pointer.path).name
            view.symlink_to(dvc.object_file(cache, pointer.md5))
            yield view
            return
        view = Path(tmp) / "data"
        for rel, md5 in files.items():
            link = view / safe_relpath(rel, f"file in {pointer.path}")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(dvc.object_file(cache, md5))
        yield view


def _verify(root: Path, cache: Path, path: str, md5s: Sequence[str]) -> None:
    """Refuse a cache object whose content no longer matches its hash: a profile of other bytes
    than the ones an experiment used would make the check lie."""
    from mlv.data.objects import ObjectTrust

    trust = ObjectTrust.load(git.common_dir(root) / "mlv" / "verified-objects.json")
    try:
        for md5 in md5s:
            if not trust.verify(cache, md5):
                raise DataHealthError(f"{path}: cache object {md5} does not match its hash",
                                      hint="Delete that cache file and run `mlv pull` to download it again.")
    finally:
        trust.save()


def _tabular_files(root: Path, cache: Path, pointer: dvc.Pointer, fetch: bool) -> dict[str, str]:
    """Relative path inside the data path ("" for a file) -> md5 of each tabular file."""
    if not pointer.is_dir:
        if not is_tabular_name(pointer.path):
            raise DataHealthError(f"{pointer.path} is not a CSV or Parquet file")
        return {"": pointer.md5}
    _ensure_present(root, cache, pointer.path, [pointer.md5], fetch)
    listing = dvc.load_manifest_map(cache, pointer.md5) or {}
    found = {rel: md5 for rel, md5 in listing.items() if is_tabular_name(rel)
             and not any(part.startswith(".") for part in rel.split("/"))}
    if not found:
        raise DataHealthError(f"{pointer.path} holds no CSV or Parquet file at that version")
    return found


def _ensure_present(root: Path, cache: Path, path: str, md5s: Sequence[str], fetch: bool) -> None:
    missing = [m for m in md5s if not os.path.exists(dvc.object_file(cache, m))]
    if not missing:
        return
    if not fetch:
        raise DataHealthError(f"{path}: content {missing[0]} is not in the local DVC cache")
    from mlv.adapters import remote_trust

    try:
        remote_trust.fetch_objects(root, missing, None)
    except UntrustedRemoteError:
        raise
    except DvcError as exc:
        raise DataHealthError(f"{path}: content {missing[0]} is not in the local DVC cache and cannot be "
                              f"fetched: {exc.message.rstrip('.')}", hint=exc.hint) from None
    still = [m for m in missing if not dvc.has_object(cache, m)]
    if still:
        raise DataHealthError(f"{path}: content {still[0]} is in neither the local DVC cache nor the DVC remote",
                              hint="Push it from the machine that has it (`mlv push`).")
