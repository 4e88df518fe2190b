"""Publish a prepared commit atomically, and finish or discard an interrupted publish.

A snapshot prepares every git object first, touching neither the user's index nor work tree.
Publishing then: (1) writes a journal, (2) moves the branch with a compare-and-swap `update-ref`
(the single point of no return), (3) writes the few files mlv generated (pointer files,
.gitignore entries, the lockfile) into the work tree and installs the prepared index, and
(4) deletes the journal. If the process dies before (2) the repository is as it was; if it dies
after, the next mlv command (or mlv git hook) finds the journal and completes (3).
"""

from __future__ import annotations

import filecmp
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from mlv import locking
from mlv.adapters import git
from mlv.errors import MlvError
from mlv.faults import crash_point

JOURNAL = "mlv/publish-journal.json"
INDEX_LOCK_WAIT = 5.0  # seconds to wait for a git command that holds .git/index.lock


@dataclass(frozen=True)
class PreparedCommit:
    commit: str
    ref: str
    old: str | None
    index_file: Path
    writes: dict[str, str]  # work-tree path -> blob sha to write there
    deletes: list[str]  # work-tree paths to remove
    contents: dict[str, bytes] = field(default_factory=dict)  # the blobs' bytes, when known
    # A copy of the user's index taken when the prepared one was copied from it: what "unchanged
    # since the snapshot began" means. None: replace the user's index unconditionally.
    index_base: Path | None = None


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block is done, so publishing is never cut in half by it."""
    received: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, remember)
    except ValueError:  # not the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def publish(root: Path, prepared: PreparedCommit) -> None:
    journal = git.git_dir(root) / JOURNAL
    journal.parent.mkdir(parents=True, exist_ok=True)
    doc: dict[str, object] = {
        "commit": prepared.commit, "ref": prepared.ref, "old": prepared.old,
        "index_file": str(prepared.index_file), "writes": prepared.writes, "deletes": prepared.deletes,
        "index_base": str(prepared.index_base) if prepared.index_base else None,
    }
    with interrupts_deferred():
        _write_atomic(journal, json.dumps(doc).encode())
        crash_point("before-ref-update")
        git.advance_ref(root, prepared.ref, prepared.commit, prepared.old, "mlv snapshot")
        crash_point("after-ref-update")
        if not _complete(root, doc, prepared.contents):
            # The commit is made; the journal stays, so the next mlv command installs the index.
            raise MlvError(f"the snapshot {prepared.commit[:10]} was committed, but git's index is locked "
                           "by another git command, so `git status` may show it as changed for now",
                           hint="The next mlv command finishes updating the index (if no git command "
                                "is running, remove .git/index.lock first).")
        journal.unlink()


def recover(root: Path) -> str | None:
    """Finish or discard a publish that a killed process left; a note on what was done, or None.

    Never while another process holds the repository lock: its journal is live, not stale.
    """
    journal = git.git_dir(root) / JOURNAL
    if not journal.exists():
        return None
    with locking.try_repository_lock(root) as free:
        if not free:
            return None
        try:
            doc = json.loads(journal.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if git.ref_sha(root, doc["ref"]) == doc["commit"]:
            if not _complete(root, doc):
                return (f"an interrupted snapshot ({doc['commit'][:10]}) is committed, but git's index is "
                        "locked by another git command; the next mlv command finishes it")
            note = f"completed an interrupted snapshot ({doc['commit'][:10]})"
        else:
            Path(doc["index_file"]).unlink(missing_ok=True)
            if doc.get("index_base"):
                Path(doc["index_base"]).unlink(missing_ok=True)
            note = "discarded an interrupted snapshot; the repository was not changed"
        journal.unlink(missing_ok=True)
        return note


def _complete(root: Path, doc: dict[str, object], known: dict[str, bytes] | None = None) -> bool:
    """Write the generated files and install the index; False when git's index lock never freed."""
    writes = doc["writes"]
    assert isinstance(writes, dict)  # noqa: S101 - written by publish() above
    known = known or {}
    missing = [blob for rel, blob in writes.items() if rel not in known]
    blobs = git.read_blobs(root, missing)
    for rel, blob in writes.items():
        data = known.get(rel, blobs.get(blob))
        if data is not None:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(target, data)
    for rel in doc["deletes"]:  # type: ignore[attr-defined]
        (root / rel).unlink(missing_ok=True)
    index_file = Path(str(doc["index_file"]))
    base = doc.get("index_base")
    if index_file.exists() and not _install_index(root, index_file, Path(str(base)) if base else None):
        return False
    if base:
        Path(str(base)).unlink(missing_ok=True)
    crash_point("after-work-tree")
    return True


def _install_index(root: Path, prepared: Path, base: Path | None) -> bool:
    """Make the prepared index the user's, keeping what they staged since BASE was copied.

    Done under git's own `index.lock`, so no git command writes the index between our look at it
    and our replacing it. Unchanged since BASE (the usual case): the prepared index replaces it.
    Changed (a `git add` while the snapshot ran): the user's index is kept, and each path they did
    not touch takes the committed entry, so neither their staging nor the commit is lost.
    """
    real = git.git_dir(root) / "index"
    lock = real.with_name("index.lock")
    deadline = time.monotonic() + INDEX_LOCK_WAIT
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
    try:
        if base is None or _same_content(base, real):
            os.replace(prepared, real)
        else:
            _merge_index(root, base, real, prepared)
            prepared.unlink(missing_ok=True)
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)
    return True


def _same_content(a: Path, b: Path) -> bool:
    if not a.exists() or not b.exists():
        return a.exists() == b.exists()
    return filecmp.cmp(a, b, shallow=False)


def _index_entries(root: Path, index: Path) -> dict[str, str]:
    """Path -> "mode sha stage" of every entry in the index file INDEX ({} when there is none)."""
    if not index.exists():
        return {}
    return git.index_entries(root, index)


def _merge_index(root: Path, base: Path, real: Path, prepared: Path) -> None:
    before, theirs, ours = (_index_entries(root, p) for p in (base, real, prepared))
    lines = []
    for path in sorted(set(before) | set(theirs) | set(ours)):
        if before.get(path) != theirs.get(path) or theirs.get(path) == ours.get(path):
            continue  # staged by the user meanwhile (theirs wins), or already as committed
        entry = ours.get(path)
        mode, sha = entry.split()[:2] if entry else ("0", git.ZERO_SHA)
        lines.append(f"{mode} {sha}\t{path}\0")
    merged = real.with_name("mlv-merged.index")
    if real.exists():
        merged.write_bytes(real.read_bytes())
    else:
        merged.unlink(missing_ok=True)
    if lines:
        git.update_index_entries(root, merged, lines)
    if merged.exists():
        os.replace(merged, real)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.mlv-tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def recover_in(cwd: Path) -> str | None:
    """`recover` for the repository around CWD, if there is one (every mlv command calls this)."""
    try:
        root = git.find_root(cwd)
    except MlvError:
        return None
    return recover(root)
