"""`mlv status`: where the work tree stands against the latest experiment, the remotes and the hooks.

Three questions, each answered from what is cheap to know:

- what changed since the latest experiment: `mlv diff --workspace` against it (code, data through
  the stat cache, params, metrics, environment);
- what is not shared: commits the git remote lacks (`mlv push` would send them), and how many data
  objects a folder DVC remote lacks (a cloud remote would cost DVC's start-up and the network, so
  its count is "unknown");
- whether mlv's git hooks are installed.

Nothing is written except the stat cache (as `mlv diff` does), and DVC itself is never imported.
JSON contract: docs/reference/json.md, schema mlv/schemas/status.schema.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.adapters import dvc, git
from mlv.errors import MlvError
from mlv.record import history

if TYPE_CHECKING:
    from mlv.diff.compare import DiffResult
    from mlv.hooks.hooks import HookStatus

JSON_SCHEMA_VERSION = 1


@dataclass
class Unshared:
    """What `mlv push` would send. A None count is unknown; its reason says why."""

    git_remote: str | None = None
    commits: int | None = None
    commits_reason: str | None = None
    dvc_remote: str | None = None
    data_objects: int | None = None
    data_reason: str | None = None
    tags: list[str] | None = None  # the model registry's tags the git remote lacks (or has otherwise)
    tags_reason: str | None = None
    verdicts: list[str] | None = None  # saved verdicts' branches (mlv/reproduced/...) not on the git remote
    verdicts_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"git_remote": self.git_remote, "commits": self.commits, "commits_reason": self.commits_reason,
                "dvc_remote": self.dvc_remote, "data_objects": self.data_objects, "data_reason": self.data_reason,
                "tags": self.tags, "tags_reason": self.tags_reason,
                "verdicts": self.verdicts, "verdicts_reason": self.verdicts_reason}


@dataclass
class HooksState:
    state: str  # "installed" (all), "partial", "absent", "unknown"
    hooks: list[HookStatus] = field(default_factory=list)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "reason": self.reason, "hooks": [h.to_json() for h in self.hooks]}


@dataclass
class StatusReport:
    root: Path
    branch: str | None  # None: detached HEAD, or no commits yet
    head: str | None
    experiment: history.Experiment | None  # the latest readable experiment of HEAD
    commits_since: int | None  # commits on top of it (0: HEAD is the experiment)
    changes: DiffResult | None  # the latest experiment against the work tree
    changes_error: str | None
    unshared: Unshared
    hooks: HooksState
    change_detection: str = "walk"  # "watcher": Watchman answers what changed; "walk": every file is stat-ed

    @property
    def clean(self) -> bool:
        """Nothing changed since the latest experiment (False when there is none, or it is unknown)."""
        return self.changes is not None and self.changes.identical

    def to_json(self) -> dict[str, Any]:
        exp = self.experiment
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "root": str(self.root),
            "branch": self.branch,
            "head": self.head,
            "experiment": None if exp is None else {
                "commit": exp.commit, "message": exp.message.splitlines()[0] if exp.message else "",
                "commits_since": self.commits_since},
            "clean": self.clean,
            "changes": None if self.changes is None else self.changes.to_json(),
            "changes_error": self.changes_error,
            "unshared": self.unshared.to_json(),
            "hooks": self.hooks.to_json(),
            "change_detection": self.change_detection,
        }


def status(root: Path) -> StatusReport:
    head = git.head_sha(root)
    branch = git.current_branch(root)
    found = history.latest_valid(root, 1) if head else []
    experiment = found[0] if found else None
    changes, error, since = None, None, None
    if experiment is not None:
        assert head is not None  # noqa: S101 - an experiment implies a commit
        since = git.count_commits(root, head, excluded=[experiment.commit])
        changes, error = _changes(root, experiment)
    from mlv.data import watcher

    return StatusReport(root, branch, head, experiment, since, changes, error,
                        _unshared(root, branch, head), _hooks(root), watcher.mode(str(root)))


def _changes(root: Path, experiment: history.Experiment) -> tuple[DiffResult | None, str | None]:
    from mlv.diff import compare

    try:
        return compare.diff(root, [experiment.commit], workspace=True), None
    except MlvError as exc:  # a broken config must not hide the rest of the status
        return None, exc.one_line()


def _unshared(root: Path, branch: str | None, head: str | None) -> Unshared:
    from mlv.share import push, remotes

    result = Unshared()
    if head is None or branch is None:
        result.commits_reason = "no commits yet" if head is None else "HEAD is detached (not on a branch)"
        result.data_reason = result.commits_reason
        return result
    result.git_remote = remotes.default_git_remote(root, branch)
    if result.git_remote is None:
        result.commits_reason = "no git remote (add one with `git remote add origin URL`)"
        result.tags_reason = result.verdicts_reason = result.commits_reason
    else:
        result.commits = git.count_commits(root, head, not_on_remote=result.git_remote)
        _unshared_refs(root, result, result.git_remote)
    try:
        result.dvc_remote = dvc.default_remote(root) if dvc.is_dvc_repo(root) else None
        if result.dvc_remote is None:
            result.data_reason = "no default DVC remote (add one with `dvc remote add -d NAME URL`)"
            return result
        needed = push.objects_needed(root, push.pointers_to_push(root, [head], result.git_remote or ""))
        result.data_objects = push.missing_on_local_remote(root, needed, None)
    except MlvError as exc:
        result.data_reason = exc.one_line()
        return result
    if result.data_objects is None:
        result.data_reason = "the DVC remote is not a local folder; `dvc status --cloud` asks it"
    return result


def _unshared_refs(root: Path, result: Unshared, remote: str) -> None:
    """The registry's tags and the saved verdicts that `mlv push` would send to REMOTE.

    Verdicts are compared with the remote-tracking branches (as commits are); tags have no such
    copy, so the remote is asked (`git ls-remote`), and when it cannot answer the reason says why."""
    from mlv.share import push, verdicts

    result.verdicts = sorted(verdicts.unpushed_verdicts(root, remote))
    local = push.registry_tags(root)
    if not local:
        result.tags = []
        return
    try:
        theirs = git.remote_tags(root, remote)
    except MlvError as exc:
        result.tags_reason = exc.one_line()
        return
    result.tags = [t for t in local if theirs.get(t) != git.ref_sha(root, f"refs/tags/{t}")]


def _hooks(root: Path) -> HooksState:
    from mlv.hooks import hooks

    try:
        hook_states = hooks.status(root)
    except MlvError as exc:  # core.hooksPath set: mlv does not manage those hooks
        return HooksState("unknown", reason=exc.message)
    ours = [h for h in hook_states if h.state in {"mlv", "chained"} and h.interpreter_ok]
    state = "installed" if len(ours) == len(hook_states) else "partial" if ours else "absent"
    return HooksState(state, hook_states)
