"""Hash data and output paths into DVC pointers, storing new content in the DVC cache.

Each path is walked and stat-ed; only files whose (inode, mtime, size) changed since we last saw
them are read, and they are hashed and copied into the cache in the same pass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from mlv.adapters import dvc
from mlv.data.statecache import StateCache
from mlv.errors import ConfigError


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




def _walk(base: Path) -> list[_FileStat]:
    if base.is_file():
        st = base.stat()
        return [_FileStat("", os.fspath(base), _Stat(st.st_ino, st.st_mtime_ns, st.st_size))]
    found: list[_FileStat] = []
    stack = [(os.fspath(base), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_dir():
                    stack.append((entry.path, rel + "/"))
                elif entry.is_file():
                    st = entry.stat()
                    found.append(_FileStat(rel, entry.path, _Stat(st.st_ino, st.st_mtime_ns, st.st_size)))
    return found


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
    listings: dict[str, list[_FileStat]] = {}
    for path in paths:
        base = root / path
        if not base.exists():
            raise ConfigError(
                f"data path {path!r} does not exist",
                hint="Create it, or remove it from `data`/`outputs` in .mlv/config.yaml.",
            )
        listings[path] = _walk(base)
    known: dict[str, str] = {}
    todo: list[tuple[str, _FileStat]] = []
    for path, files in listings.items():
        for f in files:
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
    changed = {_owner(key, paths) for key, _ in todo}
    return [_pointer(cache, path, listings[path], known, state, store, path in changed) for path in paths]


def _owner(key: str, paths: Sequence[str]) -> str:
    """The tracked path a stat-cache key belongs to."""
    for path in paths:
        if key == path or key.startswith(path + "/"):
            return path
    return key


def _pointer(
    cache: Path, path: str, files: list[_FileStat], known: dict[str, str], state: StateCache, store: bool,
    changed: bool,
) -> dvc.Pointer:
    if len(files) == 1 and files[0].relpath == "":
        return dvc.Pointer(path=path, md5=known[path], size=files[0].stat.st_size)
    remembered = None if changed else state.folder(path, len(files))
    if remembered is not None and (not store or dvc.has_object(cache, remembered[0])):
        return dvc.Pointer(path=path, md5=remembered[0], size=remembered[1], nfiles=len(files))
    size = sum(f.stat.st_size for f in files)
    entries = [dvc.ManifestEntry(f.relpath, known[_key(path, f.relpath)]) for f in files]
    dir_md5, manifest = dvc.dir_hash(entries)
    if store:
        dvc.store_manifest(cache, dir_md5, manifest)
    state.remember_folder(path, dir_md5, size, {_key(path, f.relpath) for f in files})
    return dvc.Pointer(path=path, md5=dir_md5, size=size, nfiles=len(files))


def _hash_all(todo: list[tuple[str, _FileStat]], cache: Path, store: bool, sink: ProgressSink) -> list[str]:
    """md5 of every file in TODO, storing content in the cache when STORE.

    Many small files cost syscalls (open, create, chmod, rename) more than hashing, and those
    release the GIL: a few threads keep both cores and the disk busy.
    """
    def one(item: tuple[str, _FileStat]) -> str:
        path = Path(item[1].abspath)
        if store:
            return dvc.hash_and_store_file(path, cache, sink.advance)
        return dvc.hash_file(path, sink.advance)

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


def gitignore_updates(root: Path, paths: Sequence[str]) -> dict[str, bytes]:
    """.gitignore path -> new content, keeping each of PATHS out of git as `dvc add` does."""
    updated: dict[str, bytes] = {}
    for path in paths:
        parent, name = os.path.split(path)
        ignore_file = f"{parent}/.gitignore" if parent else ".gitignore"
        entry = f"/{name}"
        current = updated.get(ignore_file)
        if current is None:
            try:
                current = (root / ignore_file).read_bytes()
            except FileNotFoundError:
                current = b""
        lines = current.decode("utf-8", errors="surrogateescape").splitlines()
        if entry in lines or f"{entry}/" in lines:
            continue
        prefix = current if not current or current.endswith(b"\n") else current + b"\n"
        updated[ignore_file] = prefix + entry.encode("utf-8", errors="surrogateescape") + b"\n"
    return updated
