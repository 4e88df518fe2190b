"""The two things `mlv diff` compares, each loaded into one `Side`: a commit or the work tree.

A commit is read from git objects only (its message, its `.dvc` pointer files, its lockfile), in
a handful of batched git processes, so nothing is checked out and the work tree is never touched.
The work tree is read from disk: data hashed through the stat cache (only what changed is read),
params and metrics from their files, the environment from the configured interpreter.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv.adapters import dvc, git
from mlv.data.restore import readable_pointer
from mlv.data.statecache import StateCache
from mlv.env import environment
from mlv.env.environment import Environment
from mlv.errors import MlvError
from mlv.pipeline import dvcfiles
from mlv.project import config
from mlv.record import record
from mlv.record.history import Experiment

PLOT = "plot"  # a pipeline's plots file: compared by hash in the data section
WORKSPACE = "workspace"


@dataclass
class Side:
    """One end of a diff. `has_record` False means a plain commit (no experiment record)."""

    label: str  # what the user named: a revision, or "workspace"
    commit: str | None  # None for the work tree
    message: str
    has_record: bool
    pointers: dict[str, dvc.Pointer] = field(default_factory=dict)  # data path -> pointer
    kinds: dict[str, str] = field(default_factory=dict)  # data path -> "data" or "output"
    command: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # params file -> content
    metrics: dict[str, Any] = field(default_factory=dict)
    env: Environment | None = None  # packages None when the commit's lockfile cannot be read
    env_error: str | None = None  # why the work tree's environment could not be captured
    # Folder manifests computed from the work tree (they are not in the cache): md5 -> entries.
    manifests: dict[str, dict[str, str]] = field(default_factory=dict)  # md5 -> {relpath: md5}
    status: str = "ok"  # "rewritten" when the commit's record disagrees with its tree
    # A commit without a record (a revert, a merge) described by its tree: config, params and
    # metrics files, its one lockfile.
    from_tree: bool = False
    notes: list[str] = field(default_factory=list)  # what the tree says against the record, two lockfiles
    knows_plots: bool = False  # its plots are known (a record with `plots`, or the work tree's dvc.yaml)

    @property
    def is_workspace(self) -> bool:
        return self.commit is None


@dataclass(frozen=True)
class Named:
    """A commit as the user named it; EXPERIMENT is set when already found and parsed."""

    label: str
    sha: str
    experiment: Experiment | None = None


def load_commits(root: Path, commits: list[Named]) -> list[Side]:
    """Sides for COMMITS, reading every object they need in at most two batched git reads."""
    messages = git.commit_messages(root, [c.sha for c in commits if c.experiment is None])
    sides: list[Side] = []
    lockfiles: dict[str, str] = {}  # sha -> "sha:lockfile path"
    records: dict[str, record.Record] = {}
    for named in commits:
        exp = named.experiment
        if exp is None:
            # Parsed once here; a damaged or newer record is reported, not guessed around.
            user, rec = record.parse_if_present(messages[named.sha], named.sha)
        else:
            user, rec = exp.message, exp.record
        side = Side(named.label, named.sha, user.splitlines()[0] if user else "", has_record=False)
        if rec is not None:
            side.has_record = True
            records[named.sha] = rec
            side.command = rec.command
            side.params, side.metrics = rec.params, rec.metrics
            side.kinds = {item.path: "output" for item in rec.outputs}
            side.kinds.update({item.path: "data" for item in rec.data})
            if rec.plots is not None:
                _add_plots(side, rec.plots)
            side.env = rec.environment
            lockfiles[named.sha] = f"{named.sha}:{rec.environment.lockfile}"
        sides.append(side)
    pointer_files = {c.sha: git.ls_tree_paths(root, c.sha, ".dvc") for c in commits}
    pipeline_files = (dvcfiles.PIPELINE_FILE, dvcfiles.LOCK_FILE)
    wanted = [f"{c.sha}:{path}" for c in commits for path in [*pointer_files[c.sha], *pipeline_files]]
    blobs = git.read_blobs(root, wanted + list(lockfiles.values()))
    for side in sides:
        assert side.commit is not None  # noqa: S101 - commit sides only here
        for path in pointer_files[side.commit]:
            data = blobs[f"{side.commit}:{path}"]
            pointer = readable_pointer(data, path) if data is not None else None
            if pointer is not None:
                side.pointers[pointer.path] = pointer
        # Stage outputs are data too, pinned by dvc.lock instead of a pointer file each.
        for pointer in dvcfiles.stage_outputs(*(blobs.get(f"{side.commit}:{f}") for f in pipeline_files)):
            side.pointers[pointer.path] = pointer
            side.kinds.setdefault(pointer.path, "output")
        if side.env is not None:
            lock = blobs.get(lockfiles[side.commit])
            side.env.packages = environment.packages_from_lockfile(lock) if lock is not None else None
    _note_tree_truth(root, sides, records)
    for side in sides:
        if not side.has_record and side.commit is not None:
            _describe_by_tree(root, side)
    return sides


def _describe_by_tree(root: Path, side: Side) -> None:
    """Fill a record-less commit's side from what its tree holds (nothing there is a claim)."""
    from mlv.record import treecheck

    assert side.commit is not None  # noqa: S101
    plain = treecheck.read_plain_commit(root, side.commit)
    if plain is None:
        return
    side.from_tree = True
    side.command, side.params, side.metrics, side.env = plain.command, plain.params, plain.metrics, plain.environment
    if side.env is None and not plain.lockfiles:
        side.env_error = "the commit's tree holds no environment lockfile"


def _note_tree_truth(root: Path, sides: list[Side], records: dict[str, record.Record]) -> None:
    """Mark each side whose record disagrees with its tree, and each tree with two lockfiles.

    The data compared is always the tree's (its pointer files); the notes say when the record's
    params and metrics therefore describe another tree.
    """
    from mlv.record import treecheck

    facts = treecheck.check_all(root, list(records.items()))
    plain = [s.commit for s in sides if s.commit is not None and s.commit not in facts]
    lockfiles = treecheck.lockfiles_of(root, plain)
    for side in sides:
        assert side.commit is not None  # noqa: S101 - commit sides only here
        found = facts.get(side.commit)
        if found is not None and found.differences:
            side.status = treecheck.REWRITTEN
            side.notes.append("its record is rewritten (" + "; ".join(d.describe() for d in found.differences)
                              + "): the data compared is the tree's; its params and metrics came from another tree")
        locks = found.lockfiles if found is not None else lockfiles.get(side.commit, [])
        if len(locks) > 1 and found is None:
            side.env_error = "environment not compared: " + treecheck.two_lockfiles_note(locks)
        if len(locks) > 1:
            side.notes.append(treecheck.two_lockfiles_note(locks))


def load_workspace(root: Path, other: Side) -> Side:
    """The work tree as it is now, uncommitted changes and untracked files included.

    Folder manifests are listed only for folders that differ from OTHER's: the rest are unchanged.
    """
    from mlv.data import track, watcher
    from mlv.data.statecache import of_work_tree
    from mlv.project import paramfiles

    if not config.exists(root):
        # A plain DVC repository: the pointer files on disk say what the data is.
        side = Side(WORKSPACE, None, "uncommitted changes", has_record=False)
        for rel in _pointer_files_on_disk(root):
            pointer = readable_pointer((root / rel).read_bytes(), rel)
            if pointer is not None:
                side.pointers[pointer.path] = pointer
        return side
    cfg = config.load(root)
    state = of_work_tree(root)
    stage_outputs = [p.path for p in dvcfiles.worktree_stage_outputs(root)]  # hashed as they are now
    tracked = [*cfg.tracked, *(p for p in stage_outputs if p not in cfg.tracked)]
    present = [p for p in tracked if (root / p).exists()]  # a deleted output is "removed"
    watch = watcher.connect(str(root))
    try:
        pointers = track.track_paths(root, present, state, store=False, watcher=watch)
    finally:
        if watch is not None:
            watch.close()
    side = Side(WORKSPACE, None, "uncommitted changes", has_record=True, command=cfg.command)
    side.pointers = {p.path: p for p in pointers}
    side.kinds = {p: ("data" if p in cfg.data else "output") for p in tracked}
    side.params = paramfiles.read_all(root, cfg.params, "params", required=False)
    side.metrics = paramfiles.read_all(root, cfg.metrics, "metrics", required=False)
    pipeline = dvcfiles.read_pipeline(root)
    if pipeline is not None:
        plots = [p for p in pipeline.plots if (root / p).exists()]
        _add_plots(side, track.track_paths(root, plots, state, store=False) if plots else [])
    for pointer in pointers:
        old = other.pointers.get(pointer.path)
        if pointer.is_dir and (old is None or old.md5 != pointer.md5):
            side.manifests[pointer.md5] = _manifest_from_state(root, pointer.path, state)
    with contextlib.suppress(OSError):  # only a cache: a read-only .git must not fail a read command
        state.save()  # the hashes just computed make the next diff or snapshot faster
    try:
        interpreter = environment.resolve_interpreter(cfg.command, cfg.python, root)
        if interpreter.from_repository:  # diff is a read command: it never runs repository code
            raise MlvError(f"the interpreter {interpreter.named!r} is inside the repository, and "
                           "`mlv diff` runs nothing from it")
        env = environment.capture(interpreter.path, git.git_dir(root) / "mlv")
    except MlvError as exc:  # the other sections are still worth showing
        side.env_error = f"environment not captured ({exc.message})"
    else:
        side.env = env
    return side


def _manifest_from_state(root: Path, path: str, state: StateCache) -> dict[str, str]:
    """The folder's relpath -> md5, from the stat cache that `track_paths` has just brought up to
    date: the same walk, so the same files (symlinked folders skipped, `.dvcignore` honoured)."""
    from mlv.data.ignore import dvcignore_filter
    from mlv.data.walk import walk

    ignored = dvcignore_filter(os.fspath(root))
    return {rel: state.lookup(f"{path}/{rel}", st, need_stored=False) or ""
            for rel, _full, st in walk(os.fspath(root), path, ignored=ignored)}


def _pointer_files_on_disk(root: Path) -> list[str]:
    tracked = git.ls_tree_paths(root, "HEAD", ".dvc") if git.head_sha(root) else []
    untracked = [p for p in git.untracked_files(root) if p.endswith(".dvc")]
    return [p for p in sorted({*tracked, *untracked}) if (root / p).is_file()]


def _add_plots(side: Side, plots: list[dvc.Pointer]) -> None:
    """A pipeline's plots files (as a record or the work tree has them) into SIDE's data, as plots."""
    side.knows_plots = True
    for plot in plots:
        side.pointers.setdefault(plot.path, plot)
        side.kinds[plot.path] = PLOT
