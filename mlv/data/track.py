"""Hash data and output paths into DVC pointers, storing new content in the DVC cache.

Each path is walked and stat-ed; only files whose (inode, mtime, size) changed since we last saw
them are read, and they are hashed and copied into the cache in the same pass.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from mlv.adapters import dvc
from mlv.adapters.paths import repo_path_problem
from mlv.data.ignore import dvcignore_filter
from mlv.data.pathsafety import read_inside
from mlv.data.statecache import StateCache
from mlv.data.walk import StatChecksum, walk
from mlv.errors import ConfigError, MlvError


class ProgressSink(Protocol):
    """Receives hashing progress; the CLI renders it as a progress bar."""

    def start(self, total_bytes: int, description: str) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def finish(self) -> None: ...


class NoProgress:
    def start(self, total_bytes: int, description: str) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass


MAX_GITIGNORE_BYTES = 8 * 1024 * 1024  # a .gitignore is text someone wrote; bigger is not one
HASH_THREADS = 2  # one per core on the reference machine; more only adds contention


class _Stat(NamedTuple):
    """The three fields the stat cache compares; a full os.stat_result is 4x larger, which
    counts at 100,000 files."""

    st_ino: int
    st_mtime_ns: int
    st_size: int


class _FileStat(NamedTuple):
    relpath: str  # inside the tracked path, posix
    abspath: str  # plain strings: building 100,000 Path objects costs more than the walk itself
    stat: _Stat


class _Listing(NamedTuple):
    """The files of one tracked path, and the StatChecksum of everything walked to list them."""

    files: list[_FileStat]
    checksum: str


def _walk(root: Path, path: str, cache: Path, ignored: Callable[[str, bool], bool] | None) -> _Listing:
    files: list[_FileStat] = []
    checksum = StatChecksum()
    # Symlinks into the DVC cache (`cache.type = symlink`) are data even when the cache is elsewhere.
    for rel, abspath, st in walk(os.fspath(root), path, folders=True, also_inside=(os.path.realpath(cache),),
                                 ignored=ignored):
        checksum.add(st)
        if not stat.S_ISDIR(st.st_mode):
            if rel and rel.rpartition("/")[2] == IGNORE_FILE:
                raise _ignore_file_inside(path, rel)
            files.append(_FileStat(rel, abspath, _Stat(st.st_ino, st.st_mtime_ns, st.st_size)))
    return _Listing(files, checksum.digest())


IGNORE_FILE = ".dvcignore"


def _ignore_file_inside(path: str, rel: str) -> MlvError:
    """DVC refuses a `.dvcignore` inside a folder it tracks (`dvc add`, `dvc status`: "should not
    be in collected dir path"): hashing it into the folder would give DVC a manifest it rejects."""
    folder = f"{path}/{rel}".rpartition("/")[0]
    return MlvError(f"{path}/{rel}: DVC refuses a {IGNORE_FILE} inside a tracked folder ({path}), "
                    "so nothing was recorded",
                    hint=f"Move its patterns to a {IGNORE_FILE} above {path} (e.g. the repository root's, "
                         f"with the folder in each pattern: `{folder}/PATTERN`), then delete it.")


def _key(path: str, relpath: str) -> str:
    return f"{path}/{relpath}" if relpath else path


def track_paths(
    root: Path,
    paths: Sequence[str],
    state: StateCache,
    progress: ProgressSink | None = None,
    store: bool = True,
) -> list[dvc.Pointer]:
    """Pointers for PATHS (relative to ROOT) as they are now, their content stored in the cache."""
    sink = progress or NoProgress()
    cache = dvc.cache_dir(root)
    listings = _listings(root, paths, cache)
    # A path whose walk is unchanged since its md5 was computed needs no look at its files.
    unchanged = {path: remembered for path, listing in listings.items()
                 if (remembered := _unchanged(cache, state, path, listing.checksum, store)) is not None}
    known: dict[str, str] = {}
    todo: list[tuple[str, _FileStat]] = []
    for path, listing in listings.items():
        if path in unchanged:
            continue
        for f in listing.files:
            key = _key(path, f.relpath)
            md5 = state.lookup(key, f.stat, need_stored=store)
            if md5 is None:
                todo.append((key, f))
            else:
                known[key] = md5
    if todo:
        sink.start(sum(f.stat.st_size for _, f in todo), "Hashing data")
        for (key, f), md5 in zip(todo, _hash_all(todo, cache, store, sink), strict=True):
            state.remember(key, f.stat, md5, stored=store)
            known[key] = md5
        sink.finish()
    pointers = []
    for path, listing in listings.items():
        if path in unchanged:
            md5, size = unchanged[path]
            nfiles = None if _is_file(listing) else len(listing.files)
            pointers.append(dvc.Pointer(path=path, md5=md5, size=size, nfiles=nfiles))
        else:
            pointers.append(_pointer(cache, path, listing, known, state, store))
    return [_dvc2_pinned(root, p, listings[p.path]) for p in pointers]


def _dvc2_pinned(root: Path, pointer: dvc.Pointer, listing: _Listing) -> dvc.Pointer:
    """The pointer a DVC 2 `.dvc` file pins when its data is unchanged by DVC 2's hash (text
    files hashed with CRLF read as LF), so the file is left byte for byte; else POINTER.

    Only a DVC 2 pointer whose hash differs from ours costs a read of its files (their DVC 2
    hash); a DVC 3 pointer or an equal hash costs nothing."""
    try:
        data = (root / dvc.pointer_path(pointer.path)).read_bytes()
    except OSError:
        return pointer
    pinned = dvc.dvc2_pointer(data, dvc.pointer_path(pointer.path)) if b"hash:" not in data else None
    if pinned is None or pinned.md5 == pointer.md5 or pinned.is_dir != pointer.is_dir:
        return pointer
    if _is_file(listing):
        same = dvc.dos2unix_md5(listing.files[0].abspath) == pinned.md5
    else:
        entries = [dvc.ManifestEntry(f.relpath, dvc.dos2unix_md5(f.abspath)) for f in listing.files]
        same = dvc.dir_hash(entries)[0] == pinned.md5
    return pinned if same else pointer


def _listings(root: Path, paths: Sequence[str], cache: Path) -> dict[str, _Listing]:
    ignored = dvcignore_filter(os.fspath(root))
    listings: dict[str, _Listing] = {}
    for path in paths:
        problem = repo_path_problem(path)
        if problem:  # e.g. `.git` or `.dvc/config.local` in a cloned project's config: never data
            raise ConfigError(f"data path {path!r} {problem}; refusing to track it",
                              hint="Fix `data`/`outputs` in .mlv/config.yaml.")
        try:
            listings[path] = _walk(root, path, cache, ignored)
        except FileNotFoundError:
            raise ConfigError(
                f"data path {path!r} does not exist",
                hint="Create it, or remove it from `data`/`outputs` in .mlv/config.yaml.",
            ) from None
    return listings


def _is_file(listing: _Listing) -> bool:
    return len(listing.files) == 1 and listing.files[0].relpath == ""


def _unchanged(cache: Path, state: StateCache, path: str, checksum: str, store: bool) -> tuple[str, int] | None:
    """(md5, size) of PATH when its walk is as it was (and, if STORE, its object or manifest is cached)."""
    remembered = state.unchanged(path, checksum)
    if remembered is None or (store and not dvc.has_object(cache, remembered[0], legacy=False)):
        return None
    return remembered


def _pointer(cache: Path, path: str, listing: _Listing, known: dict[str, str], state: StateCache,
             store: bool) -> dvc.Pointer:
    files = listing.files
    if _is_file(listing):
        state.remember_tracked(path, known[path], files[0].stat.st_size, {path}, listing.checksum)
        return dvc.Pointer(path=path, md5=known[path], size=files[0].stat.st_size)
    size = sum(f.stat.st_size for f in files)
    entries = [dvc.ManifestEntry(f.relpath, known[_key(path, f.relpath)]) for f in files]
    dir_md5, manifest = dvc.dir_hash(entries)
    if store:
        dvc.store_manifest(cache, dir_md5, manifest)
    state.remember_tracked(path, dir_md5, size, {_key(path, f.relpath) for f in files}, listing.checksum)
    return dvc.Pointer(path=path, md5=dir_md5, size=size, nfiles=len(files))


def _refuse_if_changed(key: str, f: _FileStat) -> None:
    """Refuse a file that changed between the walk's stat and the end of its read.

    Its hash would then describe content that was never there as a whole (or not any more), and
    the stat cache would pin that hash to the walk's stat. One stat per file read, none on the
    no-op path. (Like git, this cannot see a rewrite within the file system's mtime granularity
    that keeps the size; the cache object still matches its name, as it is hashed as stored.)
    """
    try:
        st = os.stat(f.abspath)
    except FileNotFoundError:
        st = None
    if st is None or (st.st_ino, st.st_mtime_ns, st.st_size) != f.stat:
        raise MlvError(
            f"{key} changed while it was being hashed; nothing was recorded",
            hint="Wait until whatever writes it has finished, then run the command again.",
        )


def _hash_all(todo: list[tuple[str, _FileStat]], cache: Path, store: bool, sink: ProgressSink) -> list[str]:
    """md5 of every file in TODO, storing content in the cache when STORE.

    Many small files cost syscalls (open, create, chmod, rename) more than hashing, and those
    release the GIL: a few threads keep both cores and the disk busy.
    """
    def one(item: tuple[str, _FileStat]) -> str:
        key, f = item
        path = Path(f.abspath)
        if store:
            md5 = dvc.hash_and_store_file(path, cache, sink.advance, size=f.stat.st_size)
        else:
            md5 = dvc.hash_file(path, sink.advance)
        _refuse_if_changed(key, f)
        return md5

    if len(todo) < 64:
        return [one(item) for item in todo]
    from concurrent.futures import ThreadPoolExecutor

    results: list[str] = []
    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        # In batches: Executor.map submits every item at once, and 100,000 pending futures cost
        # more memory than the hashing itself.
        for start in range(0, len(todo), 1024):
            results.extend(pool.map(one, todo[start:start + 1024]))
    return results


def gitignore_escape(name: str) -> str:
    """NAME as `dvc add` writes it into .gitignore (pathspec's GitWildMatchPattern.escape): each of
    `\\ [ ] ! * # ?` behind a backslash, so `#hash.txt` is not a comment nor `!x` a negation."""
    return "".join(f"\\{c}" if c in "\\[]!*#?" else c for c in name)


def gitignore_updates(root: Path, paths: Sequence[str]) -> dict[str, bytes]:
    """.gitignore path -> new content, keeping each of PATHS out of git as `dvc add` does."""
    updated: dict[str, bytes] = {}
    for path in paths:
        parent, name = os.path.split(path)
        ignore_file = f"{parent}/.gitignore" if parent else ".gitignore"
        entry = f"/{gitignore_escape(name)}"
        current = updated.get(ignore_file)
        if current is None:
            try:  # its content goes into the commit: never through a symlink out of the work tree
                current = read_inside(root, ignore_file, MAX_GITIGNORE_BYTES, "the ignore file")
            except FileNotFoundError:
                current = b""
            if len(current) > MAX_GITIGNORE_BYTES:
                raise MlvError(f"{ignore_file} is larger than {MAX_GITIGNORE_BYTES // 2**20} MiB; it was not changed",
                               hint="Shorten it, then run the command again.")
        lines = current.decode("utf-8", errors="surrogateescape").splitlines()
        if entry in lines or f"{entry}/" in lines:
            continue
        prefix = current if not current or current.endswith(b"\n") else current + b"\n"
        updated[ignore_file] = prefix + entry.encode("utf-8", errors="surrogateescape") + b"\n"
    return updated
