"""Make DVC-tracked paths in a work tree match pointers exactly, without ever losing unsaved data.

Used by `mlv checkout`, `mlv reproduce`, `mlv pull` and the git hooks. Three phases, so a refusal
changes nothing: plan (stat every file, hash only those the stat cache does not know), check
(every file to delete or overwrite must be saved in the DVC cache; every object to write must be
present, fetched if allowed, and verified), then write (each file atomically, and never through a
symlink: every folder is opened without following one, see mlv.data.safe_write).

Files are copies unless the caller honours DVC's `cache.type` (`honour_links`): then they are
written as DVC writes them, symlinks or hardlinks into the cache included (see mlv.data.objects).
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlv.adapters import dvc, git, remote_trust
from mlv.data import objects, statecache, track
from mlv.data.ignore import dvcignore_filter
from mlv.data.pathsafety import UnsafePathError, checked_path, data_path, safe_relpath
from mlv.data.safe_write import TEMP_MARK, SafeTree
from mlv.data.statecache import StateCache
from mlv.data.track import NoProgress, ProgressSink
from mlv.data.walk import walk
from mlv.data.watcher import Watcher
from mlv.errors import DvcError, MlvError, UntrustedRemoteError
from mlv.faults import crash_point
from mlv.text import visible


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)  # work-tree paths (data/output roots) changed
    unchanged: list[str] = field(default_factory=list)
    fetched: int = 0  # objects downloaded from the DVC remote


@dataclass(frozen=True)
class _Current:
    """A file (or symlink) now in the work tree under a tracked path."""

    abspath: str  # a plain string: one is made per file, and pathlib costs 40 us each
    stat: os.stat_result
    is_link: bool


@dataclass
class _Plan:
    pointer: dvc.Pointer
    desired: dict[str, str]  # work-tree relative path -> md5
    current: dict[str, _Current]
    writes: list[str] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    previous: dict[str, str] = field(default_factory=dict)  # key -> md5 saved in the cache, for undo
    # Files git tracks now that the coming `git checkout` deletes or replaces: planned as absent,
    # and never removed by `undo` (git's own switch back puts them back).
    git_owned: set[str] = field(default_factory=set)

    @property
    def changes(self) -> bool:
        return bool(self.writes or self.deletes)


def _trust(root: Path) -> objects.ObjectTrust:
    return objects.ObjectTrust.load(git.common_dir(root) / "mlv" / "verified-objects.json")


@dataclass
class PreparedRestore:
    """A restore that passed every check; `apply` writes it. Lets a caller check before it acts."""

    root: Path
    cache: Path
    plans: list[_Plan]
    state: StateCache
    fetched: int
    done: set[str] = field(default_factory=set)  # keys `apply` wrote or deleted: what `undo` reverts
    linker: objects.Linker = field(default_factory=objects.Linker)

    def apply(self, progress: ProgressSink | None = None) -> RestoreReport:
        _apply(self.root, self.cache, self.plans, self.state, progress or NoProgress(), self.done,
               self.linker)
        report = RestoreReport(fetched=self.fetched)
        for plan in self.plans:
            (report.restored if plan.changes else report.unchanged).append(plan.pointer.path)
        return report

    def undo(self) -> bool:
        """Put back what `apply` changed, as far as the cache holds it; True when all of it was.

        Files that did not exist are removed first (on a full disk that frees the space the rest
        needs), then the replaced and deleted ones are written back from the cache.
        """
        complete = True
        with SafeTree(self.root) as tree:
            for plan in self.plans:
                for key in plan.writes:
                    if key in self.done and key not in plan.current and key not in plan.git_owned:
                        try:
                            tree.unlink(key)
                        except (MlvError, OSError):
                            complete = False
                tree.prune_empty_dirs(plan.pointer.path)
            for plan in self.plans:
                for key in [*plan.writes, *plan.deletes]:
                    if key not in self.done or key not in plan.current:
                        continue
                    md5 = plan.previous.get(key)
                    if md5 is None or not dvc.has_object(self.cache, md5):
                        complete = False  # discarded with --force, or a symlink: nothing to put back
                        continue
                    try:
                        _write_files(tree, self.cache, os.path.dirname(key), [(key, md5)], set(),
                                     self.linker)
                    except (MlvError, OSError):
                        complete = False
        return complete


def prepare_restore(
    root: Path,
    pointers: Sequence[dvc.Pointer],
    *,
    fetch_missing: bool = False,
    remote: str | None = None,
    force: bool = False,
    target: Path | None = None,
    state: StateCache | None = None,
    honour_links: bool = False,
    transfer: dvc.TransferProgress | None = None,
    git_changes: Collection[str] = (),
    watcher: Watcher | None = None,
) -> PreparedRestore:
    """Plan and check a restore (fetching what is missing if allowed) without changing anything.

    ROOT is the repository whose DVC cache and remote are used. The files go to TARGET (default
    ROOT), whose stat cache is STATE (default ROOT's); `mlv reproduce` restores into a private
    folder of its own that way. HONOUR_LINKS: write files as ROOT's DVC `cache.type` asks (links
    into the cache too); else copies, so nothing a command does to them can reach the cache.
    GIT_CHANGES: the work-tree files a `git checkout` about to run will delete or replace (data
    that was committed to git before it moved to DVC): planned as if already gone, so the restore
    writes them back after git's switch.
    WATCHER: a path it vouches unchanged since its last walk, already holding the pointer's
    content, is not walked (nor its manifest read): there is nothing to restore there.
    """
    target = target or root
    cache = dvc.cache_dir(root)
    checked = [(checked_path(target, p.path, "data path", file_may_be_link=not p.is_dir), p) for p in pointers]
    fetched = _ensure_objects(root, cache, [(p.path, p.md5) for _, p in checked if p.is_dir],
                              fetch_missing, remote, transfer)
    state = state or statecache.of_work_tree(root)
    _, vouched = track.vouched_unchanged(watcher, state, [rel for rel, _ in checked])
    plans = [_Plan(p, {}, {}) if _nothing_to_restore(rel, p, vouched, git_changes)
             else _plan(target, cache, rel, p, state, git_changes) for rel, p in checked]
    _check_nothing_unsaved(cache, plans, state, force)
    needed = {(key, plan.desired[key]) for plan in plans for key in plan.writes}
    fetched += _ensure_objects(root, cache, sorted(needed), fetch_missing, remote, transfer)
    trust = _trust(root)
    for key, md5 in sorted(needed):
        if not trust.verify(cache, md5):
            raise objects.corrupt_object_error(cache, md5, key)
    trust.save()
    linker = _linker(root, target, cache, needed, honour_links)
    return PreparedRestore(target, cache, plans, state, fetched, linker=linker)


def _nothing_to_restore(rel: str, pointer: dvc.Pointer, vouched: dict[str, dvc.Pointer],
                        git_changes: Collection[str]) -> bool:
    """REL already holds POINTER's content as the watcher vouches, and git's switch touches nothing in it."""
    known = vouched.get(rel)
    return (known is not None and known.md5 == pointer.md5
            and not any(f == rel or f.startswith(rel + "/") for f in git_changes))


def _linker(root: Path, target: Path, cache: Path, needed: set[tuple[str, str]],
            honour_links: bool) -> objects.Linker:
    """How the files are written. Without `copy` among the types, the ones that work here are
    found before anything is written (as DVC tests them), so a refusal changes nothing; with it,
    something always works, and a type that fails is simply dropped at the first file."""
    if not honour_links:
        return objects.Linker()
    linker = objects.Linker(dvc.cache_link_types(root))
    if needed and "copy" not in linker.kinds:
        sample = max((md5 for _, md5 in needed), key=lambda md5: os.stat(dvc.object_file(cache, md5)).st_size)
        with SafeTree(target) as tree:
            linker.probe(tree, sample, cache)
    return linker


def restore_paths(
    root: Path,
    pointers: Sequence[dvc.Pointer],
    *,
    fetch_missing: bool = False,
    remote: str | None = None,
    force: bool = False,
    progress: ProgressSink | None = None,
    honour_links: bool = False,
    transfer: dvc.TransferProgress | None = None,
) -> RestoreReport:
    """Make each pointer's path under ROOT hold exactly the pointer's content (HONOUR_LINKS: as
    DVC's `cache.type` asks, see `prepare_restore`; PROGRESS hears the writing, TRANSFER the
    download of what the cache lacks)."""
    prepared = prepare_restore(root, pointers, fetch_missing=fetch_missing, remote=remote, force=force,
                               honour_links=honour_links, transfer=transfer)
    return prepared.apply(progress)


_warned_unhashed: set[str] = set()


def readable_pointer(data: bytes, pointer_file: str) -> dvc.Pointer | None:
    """`dvc.parse_pointer`, or None for a pointer file that pins no hash yet (`dvc import-url
    --no-download`): there is nothing to compare, push or restore, so it is skipped with one
    warning line (once per file), never a crash or a blocked commit."""
    try:
        return dvc.parse_pointer(data, pointer_file)
    except dvc.UnhashedPointerError as exc:
        if pointer_file not in _warned_unhashed:
            _warned_unhashed.add(pointer_file)
            sys.stderr.write(f"warning: {visible(exc.message)}\n")
        return None


def pointers_at(root: Path, rev: str, paths: Sequence[str] | None = None) -> list[dvc.Pointer]:
    """The pointers committed at REV for data PATHS; when None, every `.dvc` file's at REV and
    every cached stage output its `dvc.lock` pins (those carry their stage).

    Paths with no pointer at REV are left out; callers compare against what they asked for.
    """
    from mlv.pipeline import dvcfiles

    if paths is None:
        files = git.ls_tree_paths(root, rev, ".dvc")
    else:
        files = [dvc.pointer_path(safe_relpath(p, "data path")) for p in paths]
    pipeline_files = [dvcfiles.PIPELINE_FILE, dvcfiles.LOCK_FILE] if paths is None else []
    blobs = git.read_blobs(root, [f"{rev}:{f}" for f in [*files, *pipeline_files]])
    found = []
    for f in files:
        data = blobs.get(f"{rev}:{f}")
        pointer = readable_pointer(data, f) if data is not None else None
        if pointer is not None:
            found.append(pointer)
    if pipeline_files:
        found += dvcfiles.stage_outputs(blobs.get(f"{rev}:{dvcfiles.PIPELINE_FILE}"),
                                        blobs.get(f"{rev}:{dvcfiles.LOCK_FILE}"))
    return found


# -- plan ----------------------------------------------------------------------------------------


def _desired(cache: Path, rel: str, pointer: dvc.Pointer) -> dict[str, str]:
    if not pointer.is_dir:
        return {rel: pointer.md5}
    entries = dvc.load_manifest(cache, pointer.md5)
    if entries is None:  # _ensure_objects fetched it or raised; only a race gets here
        raise _missing_error(rel, pointer.md5, fetched=False)
    return {f"{rel}/{data_path(e.relpath, f'file in {rel}')}": e.md5 for e in entries}


def _walk(root: Path, rel: str, ignored: Callable[[str, bool], bool] | None = None) -> dict[str, _Current]:
    """Files and symlinks under REL, never following a symlink; what `.dvcignore` leaves out is
    not there for a restore either (never deleted, never refused on)."""
    found: dict[str, _Current] = {}
    try:
        for sub, full, st in walk(os.fspath(root), rel, follow_links=False, ignored=ignored):
            link = stat.S_ISLNK(st.st_mode)
            if sub and link and os.path.isdir(full):
                continue  # a symlink to a folder inside a data folder is not data to DVC: left alone
            found[f"{rel}/{sub}" if sub else rel] = _Current(full, st, link)
    except FileNotFoundError:
        return {}
    return found


def cache_link_md5(cache: Path, link: str) -> str | None:
    """The md5 of the cache object the symlink LINK points to, None when it points elsewhere.

    `cache.type = symlink` (then `dvc checkout --relink`) leaves data files as symlinks into the
    cache: DVC counts them as clean, and so does mlv. A cache object's name is its content's md5
    (verified before anything is restored from it); any other symlink is not data mlv can vouch for.
    """
    try:
        real = os.path.realpath(link)
    except OSError:
        return None
    base = os.path.realpath(cache)
    for layout in (os.path.join(base, "files", "md5"), base):  # DVC 3's layout, then DVC 2's
        rel = os.path.relpath(real, layout)
        folder, _, rest = rel.partition(os.sep)
        md5 = folder + rest
        if len(folder) == 2 and os.sep not in rest and dvc.is_object_hash(md5) and not md5.endswith(".dir"):
            return md5 if os.path.isfile(real) else None
    return None


def _current_md5(key: str, cur: _Current, state: StateCache, cache: Path | None = None) -> str | None:
    """The content hash of a work-tree file, from the stat cache if it can. A symlink is hashed as
    DVC hashes it, by the file it points to: a link into the cache by the object's name, any other
    by its target's content (None when it leads to no regular file)."""
    st = cur.stat
    if cur.is_link:
        in_cache = cache_link_md5(cache, cur.abspath) if cache is not None else None
        if in_cache is not None:
            return in_cache
        try:
            st = os.stat(cur.abspath)  # only read through it; a write replaces the link itself
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
    md5 = state.lookup(key, st, need_stored=False)
    if md5 is None:
        md5 = dvc.hash_file(Path(cur.abspath))
        state.remember(key, st, md5, stored=False)
    return md5


def _plan(root: Path, cache: Path, rel: str, pointer: dvc.Pointer, state: StateCache,
          git_changes: Collection[str] = ()) -> _Plan:
    plan = _Plan(pointer, _desired(cache, rel, pointer), _walk(root, rel, dvcignore_filter(os.fspath(root))))
    for key in git_changes:
        if plan.current.pop(key, None) is not None:
            plan.git_owned.add(key)
    for key, md5 in plan.desired.items():
        cur = plan.current.get(key)
        if cur is None or _current_md5(key, cur, state, cache) != md5:
            plan.writes.append(key)
    plan.deletes = [key for key in plan.current if key not in plan.desired]
    return plan


def _is_stray_temp(key: str) -> bool:
    """A half-written file an interrupted restore left behind: ours, so safe to delete."""
    name = key.rsplit("/", 1)[-1]
    return name.startswith(".") and TEMP_MARK in name


# -- check ---------------------------------------------------------------------------------------


def _check_nothing_unsaved(cache: Path, plans: list[_Plan], state: StateCache, force: bool) -> None:
    if force:
        return
    for plan in plans:
        for key in [*plan.deletes, *plan.writes]:
            cur = plan.current.get(key)
            if cur is None or _is_stray_temp(key):
                continue
            md5 = _current_md5(key, cur, state, cache)
            if cur.is_link and cache_link_md5(cache, cur.abspath) is None:
                md5 = None  # a symlink of the user's: its content may be saved, the link is not
            if md5 is not None:
                plan.previous[key] = md5
            if md5 is None or not dvc.has_object(cache, md5):
                what = "is a symlink" if md5 is None else "has changes that are not saved in the DVC cache"
                raise MlvError(
                    f"{key} {what}; restoring {plan.pointer.path} would lose it, so nothing was changed",
                    hint="Save it first with `mlv snapshot`, or pass --force to discard it.",
                )


def _missing_error(path: str, md5: str, fetched: bool) -> DvcError:
    where = "in the local DVC cache or on the DVC remote" if fetched else "in the local DVC cache"
    return DvcError(
        f"{path}: content {md5} is not {where}; nothing was changed",
        hint="Download it with `mlv pull` or `dvc fetch` (a DVC remote must hold it), "
        "or restore it on the machine that made the experiment and `dvc push` from there.",
    )


def _ensure_objects(root: Path, cache: Path, wanted: Sequence[tuple[str, str]], fetch_missing: bool,
                    remote: str | None, transfer: dvc.TransferProgress | None = None) -> int:
    """Make every (path, md5) object present in the cache, fetching if allowed; objects fetched."""
    missing = [(path, md5) for path, md5 in wanted if not os.path.exists(dvc.object_file(cache, md5))]
    if not missing:
        return 0
    if not fetch_missing:
        raise _missing_error(*missing[0], fetched=False)
    try:
        fetched = remote_trust.fetch_objects(root, sorted({md5 for _, md5 in missing}), remote, transfer)
    except UntrustedRemoteError:
        raise
    except DvcError as exc:
        path, md5 = missing[0]
        raise DvcError(f"{path}: content {md5} is not in the local DVC cache and cannot be fetched: "
                       f"{exc.message.rstrip('.')}", hint=exc.hint) from None
    for path, md5 in missing:
        if not dvc.has_object(cache, md5):
            raise _missing_error(path, md5, fetched=True)
    return fetched


# -- write ---------------------------------------------------------------------------------------


# Copies are bound by file-system latency (create, rename), not CPU: a few threads overlap it.
_WRITERS = 4


def _apply(root: Path, cache: Path, plans: list[_Plan], state: StateCache, progress: ProgressSink,
           done: set[str], linker: objects.Linker) -> None:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    with SafeTree(root) as tree:
        for plan in plans:
            for key in plan.deletes:
                tree.unlink(key)
                done.add(key)
            if plan.deletes:
                tree.prune_empty_dirs(plan.pointer.path)
        jobs = [(key, plan.desired[key]) for plan in plans for key in plan.writes]
        progress.start(sum(os.stat(dvc.object_file(cache, md5)).st_size for _, md5 in jobs), "Restoring data")
        try:
            with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
                futures = [pool.submit(_write_files, tree, cache, folder, batch, done, linker)
                           for folder, batch in _batches(jobs)]
                try:
                    for future in as_completed(futures):
                        for key, md5, st in future.result():
                            state.remember(key, st, md5, stored=True)
                            progress.advance(st.st_size)
                except BaseException:
                    for future in futures:  # one failed (full disk, a symlink): start no more batches
                        future.cancel()
                    raise
        finally:
            progress.finish()
            with contextlib.suppress(OSError):  # only a speed-up; the write's own error matters more
                state.save()


_BATCH = 64  # files written per folder descriptor: opening the folder is paid once per batch


def _batches(jobs: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """JOBS grouped by folder, in batches small enough to spread a big folder over the writers."""
    by_folder: dict[str, list[tuple[str, str]]] = {}
    for key, md5 in jobs:
        by_folder.setdefault(os.path.dirname(key), []).append((key, md5))
    return [(folder, items[i:i + _BATCH]) for folder, items in sorted(by_folder.items())
            for i in range(0, len(items), _BATCH)]


def _write_files(tree: SafeTree, cache: Path, folder: str, batch: list[tuple[str, str]],
                 done: set[str], linker: objects.Linker) -> list[tuple[str, str, os.stat_result]]:
    """Write each (key, md5) of BATCH, all in FOLDER, opened once (created, never via a symlink);
    each key is added to DONE as soon as it is written (set.add is atomic: the writers share it)."""
    fd = tree.open_dir(folder, create=True)
    if fd is None:  # cannot happen with create=True; keeps the type checker honest
        raise MlvError(f"cannot restore {folder}: the folder could not be created")
    written = []
    try:
        for key, md5 in batch:
            written.append((key, md5, linker.write(tree, fd, key.rsplit("/", 1)[-1], md5, cache, key)))
            done.add(key)
            crash_point("restore-file-written")
        return written
    finally:
        os.close(fd)


def check_commit_paths(root: Path, rev: str, pointers: Sequence[dvc.Pointer]) -> None:
    """Refuse, before git moves anything, a commit with a symlink at, above or under a data path.

    The work tree does not hold that commit's files yet, so the write-time checks would only catch
    it after HEAD had moved; reading the commit's tree lets `mlv checkout` and `mlv pull` refuse
    with nothing changed.
    """
    rels = [data_path(p.path, "data path") for p in pointers]
    if not rels:
        return
    wanted = sorted({"/".join(rel.split("/")[:i]) for rel in rels for i in range(1, rel.count("/") + 2)})
    for path in git.symlinks_in_tree(root, rev, wanted):
        for rel in rels:
            if rel == path or rel.startswith(f"{path}/") or path.startswith(f"{rel}/"):
                raise UnsafePathError(
                    f"data path {rel!r} goes through the symlink {path} committed in {rev[:10]}; "
                    "refusing to write through a symlink, so nothing was changed", absolute=False)
