"""Publish a prepared commit atomically, and finish or discard an interrupted publish.

A snapshot prepares every git object first, touching neither the user's index nor work tree.
Publishing then: (1) writes a journal, (2) moves the branch with a compare-and-swap `update-ref`
(the single point of no return), (3) writes the few files mlv generated (pointer files,
.gitignore entries, the lockfile) into the work tree and installs the prepared index, and
(4) deletes the journal. If the process dies before (2) the repository is as it was; if it dies
after, the next mlv command (or mlv git hook) finds the journal and completes (3).
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from mlv.adapters import git

JOURNAL = "mlv/publish-journal.json"


@dataclass(frozen=True)
class PreparedCommit:
    commit: str
    ref: str
    old: str | None
    index_file: Path
    writes: dict[str, str]  # work-tree path -> blob sha to write there
    deletes: list[str]  # work-tree paths to remove
    contents: dict[str, bytes] = field(default_factory=dict)  # the blobs' bytes, when known


def crash_point(name: str) -> None:
    """Test instrumentation: die with SIGKILL here when MLV_TEST_CRASH_AT names this point."""
    if os.environ.get("MLV_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


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
    }
    with interrupts_deferred():
        _write_atomic(journal, json.dumps(doc).encode())
        crash_point("before-ref-update")
        git.advance_ref(root, prepared.ref, prepared.commit, prepared.old, "mlv snapshot")
        crash_point("after-ref-update")
        _complete(root, doc, prepared.contents)
        journal.unlink()


def recover(root: Path) -> str | None:
    """Finish or discard a publish that a killed process left; a note on what was done, or None."""
    try:
        journal = git.git_dir(root) / JOURNAL
        doc = json.loads(journal.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    current = git.run(["rev-parse", "-q", "--verify", doc["ref"]], root, check=False)
    if current.stdout.decode().strip() == doc["commit"]:
        _complete(root, doc)
        note = f"completed an interrupted snapshot ({doc['commit'][:10]})"
    else:
        Path(doc["index_file"]).unlink(missing_ok=True)
        note = "discarded an interrupted snapshot; the repository was not changed"
    journal.unlink(missing_ok=True)
    return note


def _complete(root: Path, doc: dict[str, object], known: dict[str, bytes] | None = None) -> None:
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
    if index_file.exists():
        os.replace(index_file, git.git_dir(root) / "index")
    crash_point("after-work-tree")


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.mlv-tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def recover_in(cwd: Path) -> str | None:
    """`recover` for the repository around CWD, if there is one (every mlv command calls this)."""
    from mlv.errors import MlvError

    try:
        root = git.find_root(cwd)
    except MlvError:
        return None
    return recover(root)
