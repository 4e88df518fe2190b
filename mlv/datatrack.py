"""Hash data and output paths into DVC pointers, storing new content in the DVC cache.

Each path is walked and stat-ed; only files whose (inode, mtime, size) changed since we last saw
them are read, and they are hashed and copied into the cache in the same pass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

from mlv import dvcio
from mlv.errors import ConfigError
from mlv.statecache import StateCache


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


class _FileStat(NamedTuple):
    relpath: str  # inside the tracked path, posix
    abspath: str  # plain strings: building 100,000 Path objects costs more than the walk itself
    stat: os.stat_result


def _walk(base: Path) -> list[_FileStat]:
    if base.is_file():
        return [_FileStat("", os.fspath(base), base.stat())]
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
                    found.append(_FileStat(rel, entry.path, entry.stat()))
    return found


def _key(path: str, relpath: str) -> str:
    return f"{path}/{relpath}" if relpath else path


def track_paths(
    root: Path,
    paths: Sequence[str],
    state: StateCache,
    progress: ProgressSink | None = None,
    store: bool = True,
) -> list[dvcio.Pointer]:
    """Pointers for PATHS (relative to ROOT) as they are now, their content stored in the cache."""
    sink = progress or NoProgress()
    cache = dvcio.cache_dir(root)
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
    return [_pointer(cache, path, listings[path], known, store) for path in paths]


def _hash_all(todo: list[tuple[str, _FileStat]], cache: Path, store: bool, sink: ProgressSink) -> list[str]:
    """md5 of every file in TODO, storing content in the cache when STORE.

    Many small files cost syscalls (open, create, chmod, rename) more than hashing, and those
    release the GIL: a few threads keep both cores and the disk busy.
    """
    def one(item: tuple[str, _FileStat]) -> str:
        path = Path(item[1].abspath)
        if store:
            return dvcio.hash_and_store_file(path, cache, sink.advance)
        return dvcio.hash_file(path, sink.advance)

    if len(todo) < 64:
        return [one(item) for item in todo]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        return list(pool.map(one, todo, chunksize=32))


def _pointer(
    cache: Path, path: str, files: list[_FileStat], known: dict[str, str], store: bool
) -> dvcio.Pointer:
    size = sum(f.stat.st_size for f in files)
    if len(files) == 1 and files[0].relpath == "":
        return dvcio.Pointer(path=path, md5=known[path], size=size)
    entries = [dvcio.ManifestEntry(f.relpath, known[_key(path, f.relpath)]) for f in files]
    dir_md5, manifest = dvcio.dir_hash(entries)
    if store:
        dvcio.store_manifest(cache, dir_md5, manifest)
    return dvcio.Pointer(path=path, md5=dir_md5, size=size, nfiles=len(files))


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
