"""Hash data and output paths into DVC pointers, storing new content in the DVC cache.

Each path is walked and stat-ed; only files whose (inode, mtime, size) changed since we last saw
them are read, and they are hashed and copied into the cache in the same pass.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


@dataclass(frozen=True)
class _FileStat:
    relpath: str  # inside the tracked path, posix
    abspath: Path
    stat: os.stat_result


def _walk(base: Path) -> list[_FileStat]:
    if base.is_file():
        return [_FileStat("", base, base.stat())]
    found: list[_FileStat] = []
    stack = [(base, "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = f"{prefix}{entry.name}"
                if entry.is_dir():
                    stack.append((Path(entry.path), f"{rel}/"))
                elif entry.is_file():
                    found.append(_FileStat(rel, Path(entry.path), entry.stat()))
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
    todo = [
        (path, f) for path, files in listings.items() for f in files
        if state.lookup(_key(path, f.relpath), f.stat, need_stored=store) is None
    ]
    if todo:
        sink.start(sum(f.stat.st_size for _, f in todo), "Hashing data")
        for path, f in todo:
            if store:
                md5 = dvcio.hash_and_store_file(f.abspath, cache, sink.advance)
            else:
                md5 = dvcio.hash_file(f.abspath, sink.advance)
            state.remember(_key(path, f.relpath), f.stat, md5, stored=store)
        sink.finish()
    return [_pointer(root, cache, path, listings[path], state, store) for path in paths]


def _pointer(
    root: Path, cache: Path, path: str, files: list[_FileStat], state: StateCache, store: bool
) -> dvcio.Pointer:
    size = sum(f.stat.st_size for f in files)
    if (root / path).is_file():
        md5 = state.lookup(path, files[0].stat, need_stored=False)
        assert md5 is not None  # hashed just above  # noqa: S101
        return dvcio.Pointer(path=path, md5=md5, size=size)
    entries = []
    for f in files:
        md5 = state.lookup(_key(path, f.relpath), f.stat, need_stored=False)
        assert md5 is not None  # noqa: S101
        entries.append(dvcio.ManifestEntry(f.relpath, md5))
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
