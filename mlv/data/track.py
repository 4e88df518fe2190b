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
from mlv.data.watcher import IGNORE_FILE, UNWATCHED_FOLDERS, Watcher, WatcherError
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
    # A change Watchman cannot see can change it (a followed symlink, a folder Watchman ignores
    # wherever it is, as .git): no watcher may vouch for it.
    unwatchable: bool


def _walk(root: Path, path: str, cache: Path, ignored: Callable[[str, bool], bool] | None) -> _Listing:
    files: list[_FileStat] = []
    checksum = StatChecksum()
    followed: list[str] = []
    # Symlinks into the DVC cache (`cache.type = symlink`) are data even when the cache is elsewhere.
    for rel, abspath, st in walk(os.fspath(root), path, folders=True, also_inside=(os.path.realpath(cache),),
                                 ignored=ignored, followed=followed):
        checksum.add(st)
        if not stat.S_ISDIR(st.st_mode):
            if rel and rel.rpartition("/")[2] == IGNORE_FILE:
                raise _ignore_file_inside(path, rel)
            files.append(_FileStat(rel, abspath, _Stat(st.st_ino, st.st_mtime_ns, st.st_size)))
        elif rel and os.path.basename(rel[:-1]) in UNWATCHED_FOLDERS:
            followed.append(abspath)
    return _Listing(files, checksum.digest(), bool(followed))


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
    watcher: Watcher | None = None,
) -> list[dvc.Pointer]:
    """Pointers for PATHS (relative to ROOT) as they are now, their content stored in the cache.

    With a WATCHER, a path it reports unchanged since the clock of its last walk is not walked."""
    sink = progress or NoProgress()
    cache = dvc.cache_dir(root)
    clock, vouched = vouched_unchanged(watcher, state, paths)
    # A DVC 2 pointer that pins another hash needs the files (mlv keeps its own hash, not DVC 2's).
    vouched = {path: known for path, known in vouched.items()
               if (not store or dvc.has_object(cache, known.md5, legacy=False))
               and _dvc2_differing(root, known) is None}
    listings = _listings(root, [p for p in paths if p not in vouched], cache)
    # A path whose walk is unchanged since its md5 was computed needs no look at its files.
    unchanged = {path: remembered for path, listing in listings.items()
                 if (remembered := _unchanged(cache, state, path, listing.checksum, store)) is not None}
    known = _file_md5s({p: listing for p, listing in listings.items() if p not in unchanged},
                       state, cache, store, sink)
    found: dict[str, dvc.Pointer] = dict(vouched)
    for path, listing in listings.items():
        if path in unchanged:
            md5, size = unchanged[path]
            nfiles = None if _is_file(listing) else len(listing.files)
            found[path] = dvc.Pointer(path=path, md5=md5, size=size, nfiles=nfiles)
        else:
            found[path] = _pointer(cache, path, listing, known, state, store)
    if clock is not None:  # taken before the walks: a change made during them shows up next time
        for path, pointer in found.items():
            if path in vouched or not listings[path].unwatchable:
                state.watch(path, clock, pointer.nfiles)
    return [found[path] if path in vouched else _dvc2_pinned(root, found[path], listings[path]) for path in paths]


def _file_md5s(listings: dict[str, _Listing], state: StateCache, cache: Path, store: bool,
               sink: ProgressSink) -> dict[str, str]:
    """Key -> md5 of every file in LISTINGS: from the stat cache, else hashed (and stored if STORE)."""
    known: dict[str, str] = {}
    todo: list[tuple[str, _FileStat]] = []
    for path, listing in listings.items():
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
    return known


def vouched_unchanged(watcher: Watcher | None, state: StateCache,
                 paths: Sequence[str]) -> tuple[str | None, dict[str, dvc.Pointer]]:
    """Watchman's clock now (None without one), and the pointers of PATHS it vouches unchanged
    since the clock of their last walk. Any doubt (an error, a clock of another Watchman instance,
    lost events, a changed .dvcignore) vouches for nothing: those paths are walked."""
    if watcher is None:
        return None, {}
    try:
        clock = watcher.clock()
        by_clock: dict[str, list[str]] = {}
        for path in paths:
            known = state.vouched(path)
            if known is not None:
                by_clock.setdefault(known[3], []).append(path)
        vouched: dict[str, dvc.Pointer] = {}
        for since, group in by_clock.items():
            changed = watcher.changed(since, group)
            if changed is None or any(os.path.basename(name) == IGNORE_FILE for name in changed):
                continue
            for path in group:
                if not any(name == path or name.startswith(path + "/") for name in changed):
                    md5, size, nfiles, _ = state.vouched(path) or ("", 0, None, "")
                    vouched[path] = dvc.Pointer(path=path, md5=md5, size=size, nfiles=nfiles)
        return clock, vouched
    except WatcherError:
        return None, {}


def _dvc2_pinned(root: Path, pointer: dvc.Pointer, listing: _Listing) -> dvc.Pointer:
    """The pointer a DVC 2 `.dvc` file pins when its data is unchanged by DVC 2's hash (text
    files hashed with CRLF read as LF), so the file is left byte for byte; else POINTER.

    Only a DVC 2 pointer whose hash differs from ours costs a read of its files (their DVC 2
    hash); a DVC 3 pointer or an equal hash costs nothing."""
    pinned = _dvc2_differing(root, pointer)
    if pinned is None:
        return pointer
    if _is_file(listing):
        same = dvc.dos2unix_md5(listing.files[0].abspath) == pinned.md5
    else:
        entries = [dvc.ManifestEntry(f.relpath, dvc.dos2unix_md5(f.abspath)) for f in listing.files]
        same = dvc.dir_hash(entries)[0] == pinned.md5
    return pinned if same else pointer


def _dvc2_differing(root: Path, pointer: dvc.Pointer) -> dvc.Pointer | None:
    """The DVC 2 pointer POINTER's `.dvc` file pins, when its hash differs from POINTER's."""
    try:
        data = (root / dvc.pointer_path(pointer.path)).read_bytes()
    except OSError:
        return None
    pinned = dvc.dvc2_pointer(data, dvc.pointer_path(pointer.path)) if b"hash:" not in data else None
    if pinned is None or pinned.md5 == pointer.md5 or pinned.is_dir != pointer.is_dir:
        return None
    return pinned


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
