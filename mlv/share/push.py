"""`mlv push`: share experiment commits together with their DVC data.

The data goes first and the commits second, so a commit never reaches the git remote before its
data reaches the DVC remote. The pre-push hook and `mlv status` use the same reading of which data
a push needs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlv.adapters import dvc, git, remote_trust
from mlv.data.restore import readable_pointer
from mlv.errors import DvcError, GitError
from mlv.share import verdicts
from mlv.share.remotes import SKIP_HOOKS_ENV, choose_git_remote, current_branch, remote_branch, unshared_remote_config

if TYPE_CHECKING:
    from mlv.adapters.dvc import TransferProgress


@dataclass
class PushOutcome:
    uploaded: int  # objects sent to the DVC remote
    objects: int  # cache objects the pushed commits need (a folder counts its manifest and files)
    # Objects only older commits need that are in neither the cache nor the remote: not uploaded.
    unavailable: list[str] = field(default_factory=list)


@dataclass
class DataToPush:
    """The pointers of the commits being pushed, and which of them the pushed tips themselves hold."""

    tips: list[str]
    pointers: list[dvc.Pointer]
    at_tips: list[dvc.Pointer]
    sources: dict[str, str]  # md5 -> blob sha of an older pointer file (or dvc.lock) naming it


@dataclass
class PushResult:
    remote: str
    branch: str
    commits: int  # commits the git remote did not have
    data: PushOutcome
    registry_tags: int = 0  # the model registry's tags, pushed beside the branch
    warnings: list[str] = field(default_factory=list)
    verdicts: int = 0  # saved verdicts' branches (mlv/reproduced/...) the remote lacked, pushed after it

    def to_json(self) -> dict[str, object]:
        return {"remote": self.remote, "branch": self.branch, "commits": self.commits,
                "data_objects": self.data.objects, "uploaded": self.data.uploaded,
                "registry_tags": self.registry_tags, "verdicts": self.verdicts, "warnings": self.warnings}


# -- which data a push needs ---------------------------------------------------------------------


def pointers_to_push(root: Path, tips: Sequence[str], git_remote: str,
                     excluded: Sequence[str] = ()) -> list[dvc.Pointer]:
    """Pointers of the commits reachable from TIPS but not from GIT_REMOTE's branches or EXCLUDED.

    That is every pointer file version those commits introduced, plus every pointer at each tip
    (cheap, and it covers data an earlier push sent without its objects).
    """
    return data_to_push(root, tips, git_remote, excluded).pointers


def data_to_push(root: Path, tips: Sequence[str], git_remote: str, excluded: Sequence[str] = ()) -> DataToPush:
    """`pointers_to_push`, telling the tips' own pointers apart from those only older commits hold."""
    from mlv.pipeline import dvcfiles

    specs: dict[str, str] = {}  # blob spec -> pointer file (or dvc.yaml / dvc.lock)
    pipeline_files = (dvcfiles.PIPELINE_FILE, dvcfiles.LOCK_FILE)
    for sha, path in git.blobs_not_on_remote(root, tips, git_remote, excluded):
        if (path.endswith(".dvc") and not path.endswith("/.dvc") and path != ".dvc") or path in pipeline_files:
            specs[sha] = path
    for tip in tips:
        for path in [*git.ls_tree_paths(root, tip, ".dvc"), *pipeline_files]:
            specs[f"{tip}:{path}"] = path
    found = _read_pointers(specs, git.read_blobs(root, list(specs)))
    tip_specs = tuple(f"{tip}:" for tip in tips)
    return DataToPush(
        tips=list(tips),
        pointers=[pointer for pointer, _ in found.values()],
        at_tips=[pointer for pointer, spec in found.values() if spec.startswith(tip_specs)],
        sources={pointer.md5: spec for pointer, spec in found.values() if not spec.startswith(tip_specs)},
    )


_Found = dict[tuple[str, str], tuple[dvc.Pointer, str]]  # (path, md5) -> (pointer, the spec it came from)


def _read_pointers(specs: dict[str, str], blobs: dict[str, bytes | None]) -> _Found:
    """(path, md5) -> (pointer, the blob spec it was read from) for the pointer files and
    `dvc.lock` versions in SPECS (spec -> path)."""
    from mlv.pipeline import dvcfiles

    found: _Found = {}
    locks: list[tuple[str, bytes]] = []
    # A `cache: false` output is in git, not in the DVC cache: left out of every dvc.lock version,
    # as any dvc.yaml version being pushed declares it.
    uncached: set[str] = set()
    for spec, path in specs.items():
        data = blobs.get(spec)
        if data is None:
            continue
        if path == dvcfiles.LOCK_FILE:
            locks.append((spec, data))
        elif path == dvcfiles.PIPELINE_FILE:
            uncached |= dvcfiles.parse_pipeline(data).uncached
        elif (pointer := readable_pointer(data, path)) is not None:
            _keep(found, pointer, spec)
    for spec, data in locks:
        for stage in dvcfiles.parse_lock(data).values():
            for out in stage.outs:
                if out.path not in uncached:
                    _keep(found, out, spec)
    return found


def _keep(found: _Found, pointer: dvc.Pointer, spec: str) -> None:
    """Remember POINTER read from SPEC; a tip's own copy (`TIP:PATH`, not a bare blob sha) wins."""
    key = (pointer.path, pointer.md5)
    if key not in found or ":" in spec:
        found[key] = (pointer, spec)


def objects_needed(root: Path, pointers: Sequence[dvc.Pointer]) -> set[str]:
    """The cache objects POINTERS' content consists of: each folder's manifest and its files."""
    return set(_object_owners(root, pointers))


def _object_owners(root: Path, pointers: Sequence[dvc.Pointer]) -> dict[str, dvc.Pointer]:
    """Each cache object of POINTERS' content -> a pointer whose content holds it."""
    # DVC compares a folder by its `.dir` object alone: list its files too, or only the manifest
    # would be sent. A manifest missing from the cache comes back as failed.
    cache = dvc.cache_dir(root)
    owners: dict[str, dvc.Pointer] = {}
    for pointer in sorted(pointers, key=lambda p: (p.md5, p.path)):
        owners.setdefault(pointer.md5, pointer)
        if pointer.md5.endswith(".dir"):
            for md5 in (dvc.load_manifest_map(cache, pointer.md5) or {}).values():
                owners.setdefault(md5, pointer)
    return owners


def missing_on_local_remote(root: Path, md5s: set[str], dvc_remote: str | None) -> int | None:
    """How many of MD5S a folder DVC remote lacks; None when the remote is not a local folder
    (asking a cloud remote costs a DVC start-up and the network)."""
    local = _local_remote_dir(root, dvc_remote)
    if local is None:
        return None
    return sum(1 for md5 in md5s if not dvc.has_object(local, md5))


def push_data(root: Path, pointers: Sequence[dvc.Pointer], dvc_remote: str | None,
              required: Sequence[dvc.Pointer] | None = None,
              transfer: TransferProgress | None = None) -> PushOutcome:
    """Upload what the DVC remote lacks of POINTERS' content; DvcError when some cannot be sent.

    Every object the remote lacks is checked against its name before it goes (an object changed
    in the cache would spread a corrupt copy), whichever layout holds it (DVC 2's objects go to
    DVC 2's layout on the remote, as DVC sends them), and the remote is asked afterwards: an
    object it still lacks is named. Content that is in neither the cache nor the remote refuses
    the push when REQUIRED's pointers (all of POINTERS when None) need it; otherwise it is left
    out and listed as `unavailable`.
    """
    wanted = objects_needed(root, pointers)
    cache = dvc.cache_dir(root)
    local = _local_remote_dir(root, dvc_remote)
    if local is not None and all(dvc.has_object(local, m) for m in wanted):
        return PushOutcome(0, len(wanted))  # a folder remote that has it all: no need to start DVC
    owners = _object_owners(root, pointers)
    # Before DVC looks at the cache: DVC deletes a corrupt object it comes across, silently.
    _verify_before_upload(root, cache, sorted(m for m in wanted if dvc.has_object(cache, m)
                                              and not (local is not None and dvc.has_object(local, m))), owners)
    with dvc.quiet_dvc_logs():
        to_send = remote_trust.absent_from_remote(root, sorted(wanted), dvc_remote, "dvc push failed")
        report = remote_trust.push_objects(root, to_send, dvc_remote, transfer)
        leftovers = _remove_upload_leftovers(local, to_send, report.started) if local is not None else []
        try:
            still = set(remote_trust.absent_from_remote(root, to_send, dvc_remote, "dvc push failed"))
        except DvcError:
            if not report.failed:
                raise
            still = set(report.failed)  # the remote went away mid-push: what DVC could not send
    lost = {m for m in still if not dvc.has_object(cache, m)}  # in neither place: DVC skips them
    needed = wanted if required is None else objects_needed(root, required)
    if lost & needed:
        lost_needed = sorted(lost & needed)
        raise DvcError(
            f"{len(lost_needed)} data object(s), e.g. {_shown(lost_needed[0], owners)}, are neither in the "
            "local DVC cache nor on the DVC remote",
            hint="Push them from the machine that made them (`dvc push`), or `mlv pull` them first.",
        )
    # What the cache has and the remote still lacks was refused (a full or read-only remote, a
    # server going down mid-push) or silently skipped: never report it pushed. A folder whose
    # manifest DVC held back because some of its files are nowhere is only an older commit's loss.
    unsent = sorted(m for m in still - lost if not _holds_lost_files(cache, m, lost))
    if unsent:
        raise _upload_error(unsent, len(wanted), owners, report.errors, leftovers, local)
    return PushOutcome(report.uploaded, len(wanted), sorted(lost))


def _holds_lost_files(cache: Path, md5: str, lost: set[str]) -> bool:
    return md5.endswith(".dir") and bool(lost) and any(
        m in lost for m in (dvc.load_manifest_map(cache, md5) or {}).values())


def _shown(md5: str, owners: dict[str, dvc.Pointer]) -> str:
    owner = owners.get(md5)
    return f"{owner.path} ({md5})" if owner is not None else md5


def _verify_before_upload(root: Path, cache: Path, md5s: Sequence[str], owners: dict[str, dvc.Pointer]) -> None:
    """Refuse, before anything is sent, an object whose content no longer matches its name. Each
    is hashed unless its (inode, mtime, ctime, size) is the one it had when last verified."""
    from mlv.data.objects import ObjectTrust, corrupt_object_error

    trust = ObjectTrust.load(git.common_dir(root) / "mlv" / "verified-objects.json")
    for md5 in md5s:
        if md5.endswith(".dir"):
            continue  # a manifest is hashed whenever it is read (objects_needed read it)
        if not trust.verify(cache, md5):
            error = corrupt_object_error(cache, md5, _shown(md5, owners))
            raise error.with_context(suffix="; nothing was pushed") from None
    trust.save()


_CAUSE_HINTS = {  # what the remote's file system said -> what to do
    "No space left": "Free space on the DVC remote",
    "Disk quota": "Free space on the DVC remote (a quota is exceeded)",
    "Read-only": "Make the DVC remote writable",
    "Permission denied": "Make the DVC remote writable for you",
}


def _upload_error(unsent: Sequence[str], total: int, owners: dict[str, dvc.Pointer], causes: Sequence[str],
                  leftovers: Sequence[str], local: Path | None) -> DvcError:
    """One line: how many objects did not reach the remote, one of them, and why (a full or
    read-only remote, with the remote's folder)."""
    cause = ""
    if causes:
        cause = f": {causes[0]}" + (f" ({local})" if local is not None else "")
    debris = (f"; {len(leftovers)} half-written file(s) could not be removed from the remote, e.g. {leftovers[0]}"
              if leftovers else "")
    todo = next((hint for text, hint in _CAUSE_HINTS.items() if causes and text in causes[0]),
                "Check that the DVC remote is reachable (`dvc remote list`)")
    return DvcError(f"{len(unsent)} of {total} data object(s), e.g. {_shown(unsent[0], owners)}, could not be "
                    f"uploaded to the DVC remote; the commits were not pushed{cause}{debris}",
                    hint=f"{todo}, then push again: what was uploaded stays there.")


def _remove_upload_leftovers(local: Path, md5s: Sequence[str], since: float) -> list[str]:
    """Delete the temporary files an interrupted upload left in a folder remote (DVC writes each
    object to `.NAME.tmp` beside it, and does not remove it when the write fails); those it
    could not delete."""
    folders = {local / "files" / "md5" / m[:2] for m in md5s} | {local / m[:2] for m in md5s}
    stuck = []
    for folder in sorted(folders):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not _UPLOAD_TEMP.fullmatch(entry.name):
                continue
            try:
                if entry.stat(follow_symlinks=False).st_mtime >= since - 1:
                    os.unlink(entry.path)
            except OSError:
                stuck.append(entry.path)
    return stuck


_UPLOAD_TEMP = re.compile(r"\.[A-Za-z0-9_-]{22}\.tmp")  # dvc_objects' tmp_fname()


def _local_remote_dir(root: Path, dvc_remote: str | None) -> Path | None:
    """The folder of a local-directory DVC remote (it has DVC's cache layout), else None."""
    name = dvc_remote or dvc.default_remote(root)
    url = dvc.remote_url(root, name) if name else None
    if not url or ("://" in url and not url.startswith("file://")):
        return None
    path = Path(url.removeprefix("file://"))
    return path if path.is_absolute() else (root / ".dvc" / path).resolve()  # relative to .dvc/


def hooks_strict(root: Path) -> bool:
    """`hooks: {strict: true}` in .mlv/config.yaml: refuse a push whose data cannot be uploaded.
    An unreadable configuration is not strict: the push goes on and `mlv snapshot` names the fault."""
    from mlv.errors import ConfigError
    from mlv.project import config

    try:
        return config.load(root).hooks_strict
    except ConfigError:
        return False


# -- push ----------------------------------------------------------------------------------------


def push(root: Path, remote: str | None = None, dvc_remote: str | None = None,
         transfer: TransferProgress | None = None) -> PushResult:
    """Upload the data of the commits the git remote lacks (TRANSFER hears the upload), then git
    push the current branch."""
    branch = current_branch(root, "push")
    name = choose_git_remote(root, branch, remote)
    head = git.resolve_commit(root, "HEAD")
    commits = git.count_commits(root, head, not_on_remote=name)
    saved = verdicts.unpushed_verdicts(root, name)  # their re-runs' data goes too: their evidence needs it
    data = data_to_push(root, [head, *saved.values()], name)
    pointers = data.pointers
    outcome = push_data(root, pointers, dvc_remote, data.at_tips, transfer) if pointers else PushOutcome(0, 0)
    warnings = [note] if pointers and (note := unshared_remote_config(root, dvc_remote)) else []
    if outcome.unavailable:
        warnings.append(unavailable_note(root, data, outcome.unavailable))
    target = remote_branch(root, branch, name)
    try:
        git.push_refs(root, name, [f"refs/heads/{branch}:{target}"], env=SKIP_HOOKS_ENV,
                      set_upstream=git.config_get(root, f"branch.{branch}.remote") is None)
    except GitError as exc:
        raise exc.with_context(hint=f"{(exc.hint or '').rstrip('.')}; the data was uploaded already.") from None
    tags = registry_tags(root)
    if tags:  # after the branch: a tag never reaches the remote before the commit it names
        git.push_refs(root, name, [f"refs/tags/{t}" for t in tags], env=SKIP_HOOKS_ENV)
    if note := verdicts.push_verdicts(root, name, saved, SKIP_HOOKS_ENV):
        warnings.append(note)
    return PushResult(name, branch, commits, outcome, len(tags), warnings, 0 if note else len(saved))


def unavailable_note(root: Path, data: DataToPush, md5s: Sequence[str], named: int = 3) -> str:
    """One line on the older commits' data that is nowhere to upload from: how much, and where.

    Like `dvc push`, which warns about such objects and uploads the rest: refusing would block
    every push of the branch for good (an old import whose source is gone, a cache cleaned by
    `dvc gc`), and the pushed tip has all of its data.
    """
    owners = _object_owners(root, [p for p in data.pointers if p.md5 in data.sources])
    places: list[str] = []
    for md5 in md5s:
        owner = owners.get(md5)
        if owner is None:
            continue
        commit = git.first_commit_with_object(root, data.sources[owner.md5], data.tips)
        place = f"{owner.path} @ {commit[:7]}" if commit else owner.path
        if place not in places:
            places.append(place)
        if len(places) == named:
            break
    return (f"{len(md5s)} data object(s) of older commits, e.g. {', '.join(places) or md5s[0]}, are neither in "
            "the local DVC cache nor on the DVC remote, so they were not uploaded (those commits' data "
            "cannot be checked out elsewhere); everything else was pushed")


def registry_tags(root: Path) -> list[str]:
    """The local tags that are model registry events (GTO's names), which push and pull share."""
    from mlv.registry.names import parse_tag

    return [t for t in git.tag_names(root) if parse_tag(t) is not None]
