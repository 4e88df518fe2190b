"""Seeded, reproducible datasets: one large binary file and folders of many small text files.

Generated once into the work folder and reused while their description (size, count, seed,
format version) is unchanged. Benchmarks never edit these originals: a repository either gets
its own copy (`cp -a`, which keeps mtimes) or borrows the folder by renaming it in and back out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
SMALL_FILE_BYTES = 4000  # about 40 MB per 10,000 files, as the issue asks
FILES_PER_FOLDER = 1000
CHUNK = 64 * 1024 * 1024


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # folder or file name inside the work folder's data/
    kind: str  # "file" (one binary file) or "files" (many small files)
    size: int  # bytes of the one file, or number of small files
    seed: int

    @property
    def nfiles(self) -> int:
        return 1 if self.kind == "file" else self.size

    @property
    def nbytes(self) -> int:
        return self.size if self.kind == "file" else self.size * SMALL_FILE_BYTES

    @property
    def label(self) -> str:
        if self.kind == "file":
            return f"one {fmt_bytes(self.size)} file"
        return f"{self.size:,} files ({fmt_bytes(self.nbytes)})"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if n == int(n) else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def ensure(data_dir: Path, spec: DatasetSpec) -> tuple[Path, bool]:
    """The dataset's path, generating it when absent or stale; True when it was generated."""
    path = data_dir / spec.name
    stamp = data_dir / f"{spec.name}.json"
    wanted = {**asdict(spec), "format": FORMAT_VERSION}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted and _intact(path, spec):
        return path, False
    stamp.unlink(missing_ok=True)
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    if spec.kind == "file":
        _write_big(path, spec)
    else:
        _write_small(path, spec)
    stamp.write_text(json.dumps(wanted))
    return path, True


def _intact(path: Path, spec: DatasetSpec) -> bool:
    if spec.kind == "file":
        return path.is_file() and path.stat().st_size == spec.size
    return path.is_dir() and sum(len(files) for _, _, files in os.walk(path)) == spec.size


def _write_big(path: Path, spec: DatasetSpec) -> None:
    # Random bytes: incompressible, like the model weights or media a 1 GiB file usually holds.
    rng = np.random.default_rng(spec.seed)
    left = spec.size
    with open(path, "wb") as handle:
        while left:
            n = min(CHUNK, left)
            handle.write(rng.bytes(n))
            left -= n


def _write_small(path: Path, spec: DatasetSpec) -> None:
    # Text files of hex digits, 4,000 bytes each, 1,000 to a folder (part000/f000000.csv, ...).
    rng = np.random.default_rng(spec.seed)
    path.mkdir(parents=True)
    per_file = SMALL_FILE_BYTES // 2
    done = 0
    while done < spec.size:
        batch = min(spec.size - done, 10_000)
        text = rng.bytes(batch * per_file).hex().encode()
        for i in range(batch):
            _write_one(path, done + i, text[i * SMALL_FILE_BYTES:(i + 1) * SMALL_FILE_BYTES - 1] + b"\n")
        done += batch


def small_file(root: Path, index: int) -> Path:
    return root / f"part{index // FILES_PER_FOLDER:03d}" / f"f{index:06d}.csv"


def _write_one(root: Path, index: int, content: bytes) -> None:
    target = small_file(root, index)
    if index % FILES_PER_FOLDER == 0:
        target.parent.mkdir(exist_ok=True)
    target.write_bytes(content)


def change_files(folder: Path, count: int, salt: int) -> list[Path]:
    """Rewrite COUNT small files with new content (a new inode each, as editors and tools do)."""
    rng = np.random.default_rng(10_000 + salt)
    changed = []
    for index in range(count):
        target = small_file(folder, index)
        content = rng.bytes(SMALL_FILE_BYTES // 2).hex().encode()[:-1] + b"\n"
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
        changed.append(target)
    return changed


def copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def md5sum_command(paths: list[Path]) -> list[str]:
    """The floor for hashing: GNU md5sum over the same files, one read of every byte."""
    if len(paths) == 1 and paths[0].is_file():
        return ["md5sum", str(paths[0])]
    script = 'find "$@" -type f -print0 | xargs -0 md5sum > /dev/null'
    return ["sh", "-c", script, "sh", *map(str, paths)]
