"""`mlv checkout REV`: put an experiment's code and data into the working tree.

A commit without an mlv record (made with DVC alone, or a revert) is checked out the same way,
with the data its tree pins: every `.dvc` file and every cached stage output of its `dvc.lock`.

Everything that could refuse runs before anything changes: the experiment is read, the working
tree must be clean, the data restore is planned and checked (unsaved data, missing objects
fetched from the DVC remote, cache objects verified, no symlink committed on a data path). Only
then does git switch the code and the data get written. Should writing fail even so (a full disk,
a read-only folder, a symlink that appeared meanwhile) or Ctrl-C stop it, HEAD and the data are
put back as they were. A kill (SIGKILL, a power cut) between git's switch and the last file
cannot be undone: it leaves HEAD at the target with each data file whole, either the old
experiment's (saved in the cache, checked before) or the new one's; running the same checkout
again completes it (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlv import locking
from mlv.adapters import git
from mlv.data import restore, watcher
from mlv.data.track import ProgressSink
from mlv.errors import GitError, Interrupted, MlvError, NotAnExperimentError
from mlv.record import history, treecheck
from mlv.record.record import InvalidRecordError
from mlv.registry import revisions

if TYPE_CHECKING:
    from mlv.adapters.dvc import Pointer


@dataclass
class CheckoutResult:
    commit: str
    message: str
    branch: str | None  # the branch now checked out, None when HEAD is detached
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    fetched: int = 0
    warnings: list[str] = field(default_factory=list)  # a rewritten record: the tree's data was restored
    # False for a commit without an mlv record (a plain DVC commit): the data restored is what its
    # tree pins, its `.dvc` files and its `dvc.lock`.
    has_record: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "message": self.message, "branch": self.branch,
                "restored": self.restored, "unchanged": self.unchanged, "fetched": self.fetched,
                "warnings": self.warnings, "has_record": self.has_record}


def checkout_experiment(cwd: Path, rev: str, *, force: bool = False,
                        progress: ProgressSink | None = None) -> CheckoutResult:
    root = git.find_root(cwd)
    with locking.repository_lock(root):  # a snapshot must not record a half-switched work tree
        rev = switch_target(root, rev)
        upstream = _branch_from_remote(root, rev)
        target = _read_target(root, upstream or rev)
        if not force:
            _require_clean(root, upstream or rev)
        # Before downloading anything for it; the record's paths too, whatever the tree says.
        restore.check_commit_paths(root, target.commit, target.checked)
        watch = watcher.connect(str(root))
        try:
            prepared = restore.prepare_restore(root, target.pointers, fetch_missing=True, force=force,
                                               honour_links=True, watcher=watch,
                                               git_changes=_files_git_replaces(root, target.commit, target.pointers))
        finally:
            if watch is not None:
                watch.close()
        before = _where_head_is(root)
        if upstream:
            git.create_tracking_branch(root, rev, upstream)
        try:
            git.checkout(root, rev, force=force)
        except MlvError:
            if upstream:
                git.delete_branch(root, rev, target.commit)  # refused: no branch left behind
            raise
        try:
            report = prepared.apply(progress)
        except (MlvError, OSError) as exc:
            raise _roll_back(root, before, prepared, exc, force=force) from None
        except KeyboardInterrupt:  # Ctrl-C is undone like a failure; only a kill can leave it half-done
            stopped = Interrupted("interrupted (SIGINT) while the data was restored")
            raise _roll_back(root, before, prepared, stopped, force=force) from None
    ref = git.head_ref(root)
    warnings = [*target.warnings, *_left_behind(root, before, target.commit)]
    return CheckoutResult(target.commit, target.message, ref.removeprefix("refs/heads/") if ref else None,
                          report.restored, report.unchanged, report.fetched, warnings, target.has_record)


def switch_target(root: Path, rev: str) -> str:
    """What `git checkout REV` would switch to, as git reads REV: a branch name switches to that
    branch, `HEAD` (or `@`) stays on the current branch, `-` goes back to the branch or commit
    checked out before; a registry name becomes its commit; anything else is a commit to detach at."""
    if rev == "-":
        previous = git.previous_checkout(root)
        if previous is None:
            raise MlvError("there is no previous branch or commit to go back to (`-`); nothing was changed",
                           hint="Name the branch or commit: `mlv checkout main`.")
        return previous
    if rev in ("HEAD", "@"):
        return git.current_branch(root) or rev
    return revisions.resolve(root, rev)


def _left_behind(root: Path, before: str | None, after: str) -> list[str]:
    """git's warning when HEAD leaves a detached commit that no branch, tag or remote reaches."""
    if before is None or git.branch_exists(root, before):
        return []
    lost = git.commits_left_behind(root, before, after)
    if not lost:
        return []
    first = lost[0][:10]
    subject = (git.commit_messages(root, [lost[0]])[lost[0]].strip().splitlines() or [""])[0]
    return [f"you are leaving {len(lost)} commit(s) behind, not connected to any of your branches "
            f"({first} {subject}".rstrip() + f"); to keep them, create a branch now: `git branch NAME {first}`"]


def _branch_from_remote(root: Path, rev: str) -> str | None:
    """`R/REV` when REV names nothing here but exactly one remote R has a branch REV: then, as
    `git checkout REV` does, the local branch REV is made from it (and follows it)."""
    if git.revision_exists(root, rev):
        return None
    found = [f"{remote}/{rev}" for remote in git.remote_names(root)
             if git.ref_sha(root, f"refs/remotes/{remote}/{rev}")]
    return found[0] if len(found) == 1 else None


@dataclass
class _Target:
    """The commit to check out and the data to restore with it."""

    commit: str
    message: str
    pointers: list[Pointer]  # what the commit's tree pins
    checked: list[Pointer]  # every path to check before anything is written: the record's too
    warnings: list[str]
    has_record: bool


def _read_target(root: Path, rev: str) -> _Target:
    """REV as an experiment; a commit without a record (a plain DVC commit, a revert in an mlv
    project) by what its tree pins: its `.dvc` files and its `dvc.lock`'s stage outputs."""
    try:
        exp = history.show_experiment(root, rev)
    except InvalidRecordError:
        raise  # a record that cannot be read is not "no record": its commit claims a run
    except NotAnExperimentError:
        sha = git.resolve_commit(root, rev)
        plain = treecheck.read_plain_commit(root, sha, with_pointers=True, dvc_projects=True)
        if plain is None:
            raise
        message = git.commit_messages(root, [sha])[sha].strip()
        return _Target(sha, message, plain.pointers, plain.pointers, [], has_record=False)
    # What the commit's tree pins (a rewritten record may name other data); paths were checked
    # when the record and the pointer files were read.
    pointers = [*exp.data, *exp.outputs]
    warnings = [f"the record of {exp.commit[:10]} is rewritten ({'; '.join(d.describe() for d in exp.differences)}): "
                "the data restored is what the commit's tree pins"] if exp.rewritten else []
    return _Target(exp.commit, exp.message, pointers, [*pointers, *exp.record.data, *exp.record.outputs],
                   warnings, has_record=True)


def _require_clean(root: Path, rev: str) -> None:
    operation = git.operation_in_progress(root)
    if operation:
        raise GitError(f"a {operation} is in progress; nothing was changed",
                       hint=f"Finish or abort it (`git {operation} --continue` or `--abort`) first.")
    changed = _changes_git_would_refuse(root, rev, git.changed_paths(root))
    if changed:
        more = f" and {len(changed) - 1} more" if len(changed) > 1 else ""
        raise MlvError(
            f"uncommitted changes ({changed[0]}{more}) would be overwritten by checking out {rev}; "
            "nothing was changed",
            hint="Save them with `mlv snapshot` or `git commit`, or pass --force to discard them.",
        )


def _changes_git_would_refuse(root: Path, rev: str, changed: list[str]) -> list[str]:
    """The CHANGED paths (modified, staged or untracked) that checking out REV would overwrite.

    As git decides: a change to a file that is the same in HEAD and REV is carried over, and an
    untracked file REV does not have is left alone, so neither blocks (`scratch.txt`, a local
    edit of `.dvc/config`). A path REV changes, or a file where REV has a folder (or the reverse),
    does. Unsaved data is checked separately, against the DVC cache.
    """
    if not changed:
        return []
    if git.head_sha(root) is None:
        return changed  # no commit to compare with: every change is at risk
    differing = set(git.diff_names(root, ["HEAD", git.resolve_commit(root, rev)], ":(top)"))
    folders = {str(parent) for path in differing for parent in PurePosixPath(path).parents}
    return [path for path in changed
            if path in differing or path.rstrip("/") in folders
            or any(str(parent) in differing for parent in PurePosixPath(path).parents)]


def _files_git_replaces(root: Path, commit: str, pointers: list[Pointer]) -> list[str]:
    """The files under the data paths that git tracks at HEAD and will delete or replace when it
    switches to COMMIT: data committed to git before it moved to DVC. The restore is planned as if
    they were gone already, so it writes them back after git's switch."""
    if git.head_sha(root) is None or not pointers:
        return []
    roots = tuple(p.path for p in pointers)
    return [path for path in git.diff_names(root, ["HEAD", commit], ":(top)")
            if path in roots or path.startswith(tuple(f"{r}/" for r in roots))]


def _where_head_is(root: Path) -> str | None:
    """The branch HEAD is on, else its commit (None in a repository without commits)."""
    ref = git.head_ref(root)
    return ref.removeprefix("refs/heads/") if ref else git.head_sha(root)


def _roll_back(root: Path, before: str | None, prepared: restore.PreparedRestore,
               exc: MlvError | OSError, *, force: bool) -> MlvError | OSError:
    """Undo a checkout whose data could not be written; the error to report, saying what was undone.

    An OSError that is not the machine's doing (safe_write turns a full disk or a read-only folder
    into an MlvError) is a bug: it is undone too, then reported as it is.
    """
    if before is None:
        return exc
    hint: str | None
    try:
        # Not forced unless the checkout was: local changes git carried over must come back too.
        git.checkout(root, before, force=force)
    except MlvError:
        note, hint = f"HEAD could not be moved back to {before}", f"Run `mlv checkout {before} --force` to return."
    else:
        if prepared.undo():
            note, hint = f"nothing was changed (HEAD is back at {before})", None
        else:
            note = f"HEAD is back at {before}, but some data files could not be put back"
            hint = f"Run `mlv checkout {before} --force` once the cause is fixed."
    if not isinstance(exc, MlvError):
        return exc
    return exc.with_context(suffix=f"; {note}", hint=hint or exc.hint)
