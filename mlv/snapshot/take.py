"""`mlv snapshot`: record code, data, environment, command, params and metrics as one commit."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv import locking
from mlv._version import __version__
from mlv.adapters import dvc, git
from mlv.data import objects, statecache, track, watcher
from mlv.data.pathsafety import check_no_symlink
from mlv.data.safe_write import TEMP_MARK
from mlv.datahealth import store
from mlv.env import environment, project_lockfiles
from mlv.errors import EXIT_USAGE, CommandFailedError, GitError, MlvError, NotAnExperimentError
from mlv.faults import crash_point
from mlv.pipeline import dvcfiles
from mlv.project import config, dvcproject, paramfiles, pipeline_results, undeclared
from mlv.record.record import InvalidRecordError, Record, render_message
from mlv.snapshot import inputs, runner, secrets, selection
from mlv.snapshot.publish import PreparedCommit, publish, recover
from mlv.snapshot.runner import RunResult, now_iso, run_command

MAX_CODE_FILE_BYTES = 10 * 1024 * 1024


@dataclass
class SnapshotOptions:
    message: str | None = None
    run: str | None = None
    allow_failure: bool = False
    verify: bool = True  # run the repository's pre-commit and commit-msg hooks
    json_output: bool = False
    reproduces: dict[str, object] | None = None
    completed_run: RunResult | None = None  # a run made elsewhere (mlv reproduce --save) to record
    allow_empty: bool = False  # commit even when nothing changed since HEAD's experiment
    sign: bool = False  # sign the commit with the user's key (`git commit-tree -S`): a saved verdict
    include_untracked: bool = False  # commit untracked, un-ignored files too (as `git add -A`)
    dry_run: bool = False  # say what would be committed and recorded; change nothing
    allowed_secrets: list[str] = field(default_factory=list)  # files whose secret-scan findings are accepted


@dataclass
class SnapshotResult:
    commit: str
    message: str
    record: Record
    warnings: list[str] = field(default_factory=list)
    files_changed: int = 0
    made: bool = True  # False: nothing changed since HEAD's experiment, and no commit was made
    plan: DryRun | None = None  # with --dry-run: what the commit would hold


@dataclass
class DryRun:
    """What a snapshot would commit: (status letter, path) per change, and what it leaves out."""

    changes: list[tuple[str, str]]
    left_out: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"would_commit": [{"status": status, "path": path} for status, path in self.changes],
                "left_out": self.left_out}


class _NothingChangedError(Exception):
    """The prepared tree is HEAD's experiment's tree and nothing ran: a commit would duplicate it."""


def check_can_commit(root: Path) -> str:
    """The ref HEAD will advance; refuses a detached HEAD or a merge/rebase in progress."""
    operation = git.operation_in_progress(root)
    if operation:
        raise GitError(f"a {operation} is in progress",
                       hint=f"Finish or abort it (`git {operation} --continue` or `--abort`) first.")
    ref = git.head_ref(root)
    if ref is None:
        raise GitError("HEAD is detached, so an experiment commit would belong to no branch",
                       hint="Switch to a branch first: `git switch -c NAME`.")
    return ref


def check_identity(root: Path) -> None:
    """Refuse before the command runs when git cannot sign the experiment commit."""
    problem = git.identity_problem(root)
    if problem is not None:
        raise GitError(f"git does not know who you are ({problem}), so no experiment commit can be made; "
                       "nothing was run",
                       hint=git.IDENTITY_HINT)


def take_snapshot(
    cwd: Path, options: SnapshotOptions, progress: track.ProgressSink | None = None
) -> SnapshotResult:
    root = git.find_root(cwd)
    # Held from before the run to after the publish: a second snapshot must neither interleave
    # its commit with ours nor record the files our command is still writing.
    with locking.repository_lock(root):
        return _take_snapshot(root, options, progress)


def check_options(options: SnapshotOptions) -> None:
    """Refuse options that make no sense together, before anything is read or run."""
    if options.run is not None and not options.run.strip():
        raise MlvError("--run needs a command; an empty one would record an experiment nobody ran",
                       hint='Name the command: `mlv snapshot --run "python train.py"`, or leave --run out.',
                       exit_code=EXIT_USAGE)
    if options.dry_run and options.run is not None:
        raise MlvError("--dry-run cannot be combined with --run: what a command writes is known only "
                       "after it ran", hint="Leave --run out to see what a snapshot of the work tree "
                                            "would commit.", exit_code=EXIT_USAGE)


def _take_snapshot(root: Path, options: SnapshotOptions, progress: track.ProgressSink | None) -> SnapshotResult:
    check_options(options)
    # A dry run changes nothing, not even an interrupted snapshot's journal.
    warnings = [note] if not options.dry_run and (note := recover(root)) else []
    cfg = config.load(root)
    pipeline = dvcfiles.read_pipeline(root)
    ref, head = _check_before_run(root, cfg, pipeline, options)

    command = options.run or (options.completed_run.command if options.completed_run else cfg.command)
    interpreter = environment.resolve_interpreter(command, cfg.python, root)
    # Running a command (--run, or reproduce's confirmed re-run) is consent to run the repository's
    # code; without one, an interpreter that is repository content is never started.
    may_probe = not interpreter.from_repository or options.run is not None or options.completed_run is not None
    run, before, inputs_before = _run(root, cfg, options, progress)
    params, metrics, stale, from_lock = _results(root, cfg, pipeline, run, before, warnings)
    env, lockfile, project_locks = _environment(root, interpreter, may_probe, warnings)

    # Before anything is hashed into git or the cache: a refused file must leave no objects behind.
    untracked = _check_code_changes(root, cfg, pipeline, options.include_untracked, warnings)
    if options.dry_run:  # the plan lists what it leaves out itself
        warnings[:] = [w for w in warnings if w != untracked.warning()]
    # A dry run reads the data but puts nothing into the cache.
    pointers, stage_outputs = _track(root, cfg, pipeline, progress, store=not options.dry_run)
    modified = inputs.modified_by_run(inputs_before, pointers)
    pointers = inputs.settle(cfg, pointers, modified, warnings)

    record = _build_record(cfg, command, run, params, metrics, [*pointers, *stage_outputs], env, lockfile,
                           project_locks, options.reproduces)
    record.outputs = [p for p in record.outputs if p.path not in stale]
    record.lineage = _lineage(root, record.data, warnings)
    record.modified_by_run = [m.before.path for m in modified] or None
    _add_pipeline_results(root, pipeline, record, stage_outputs, from_lock)
    if run is not None:
        record.stdout = run.stdout_evidence()
        record.metrics_from = "stdout" if "stdout" in metrics and not cfg.metrics else None
    message = options.message or _default_message(command)
    skip_if_same = head is not None and run is None and not options.allow_empty
    staged = _stage(root, cfg, pointers, lockfile, record, [p.path for p in stage_outputs],
                    None if options.include_untracked or cfg.include_untracked else untracked.taken)
    if options.dry_run:
        return _dry_run(root, head, staged, untracked, message, record, warnings)
    try:
        prepared, changed = _prepare_commit(root, ref, head, staged, record, message, options.verify,
                                            skip_if_same, identity_checked=options.run is not None,
                                            allowed_secrets=options.allowed_secrets, sign=options.sign)
    except _NothingChangedError:
        assert head is not None  # noqa: S101 - only raised with a HEAD to compare with
        return SnapshotResult(head, message, record, warnings, 0, made=False)
    crash_point("before-publish")
    publish(root, prepared)
    if options.verify:
        git.run_hook(root, "post-commit", [], {})
    return SnapshotResult(prepared.commit, message, record, warnings, changed)


def _check_before_run(root: Path, cfg: config.ProjectConfig, pipeline: dvcfiles.Pipeline | None,
                      options: SnapshotOptions) -> tuple[str, str | None]:
    """The branch ref to commit on and HEAD (None before the first commit), once every check that
    must pass before the command runs has."""
    dvcproject.refuse_taken_paths(root, cfg.data, cfg.outputs, pipeline)  # before anything runs
    ref = check_can_commit(root)
    head = git.head_sha(root)
    if options.run is not None:
        check_identity(root)  # before the command runs: a run that could not be committed is wasted
    config.check_before_run(root, cfg, will_run=options.run is not None)
    return ref, head


def _run(root: Path, cfg: config.ProjectConfig, options: SnapshotOptions, progress: track.ProgressSink | None,
         ) -> tuple[RunResult | None, dict[str, runner.Fingerprint | None], list[dvc.Pointer]]:
    """The run to record (--run's, or one made elsewhere), the fingerprints of the metrics and
    outputs files before it (to record only what the run wrote) and the data as it read them."""
    if not options.run:
        return options.completed_run, {}, []
    # A command never writes into the cache: outputs a checkout left as links become copies.
    objects.unlink_from_cache(root, cfg.outputs)
    before = runner.fingerprints(root, [*cfg.metrics, *cfg.outputs])
    inputs_before = inputs.pin_before_run(root, cfg, progress)  # the data as the command will read them
    run = run_command(options.run, root, stdout_to_stderr=options.json_output)
    if run.exit_code != 0 and not options.allow_failure:
        raise CommandFailedError(
            f"the command exited with code {run.exit_code}; no experiment commit was made",
            hint="Fix it, or pass --allow-failure to record the failed run.",
        )
    return run, before, inputs_before


def _results(root: Path, cfg: config.ProjectConfig, pipeline: dvcfiles.Pipeline | None, run: RunResult | None,
             before: dict[str, runner.Fingerprint | None], warnings: list[str],
             ) -> tuple[dict[str, Any], dict[str, Any], list[str], dict[str, str]]:
    """(params, metrics, the paths left out as an earlier run's results, path -> stage of the
    results dvc.lock certifies). A result this run did not write is left out unless dvc.lock
    certifies it for this code, params and data."""
    params, metrics = _params_and_metrics(root, cfg, pipeline)
    from_lock: dict[str, str] = {}
    if pipeline is not None:
        candidates = [*cfg.metrics, *cfg.outputs, *pipeline.metrics, *pipeline.plots]
        from_lock = pipeline_results.certified(root, candidates, statecache.of_work_tree(root))
    stale = [path for path in runner.not_written_by_run(root, before) if path not in from_lock]
    if stale:
        warnings.append(f"left out of the record: {', '.join(stale)} (not written by this run; "
                        "they hold the results of an earlier one)")
        metrics = {name: content for name, content in metrics.items() if name not in stale}
    metrics = metrics or runner.stdout_metrics(run, cfg.metrics)
    return params, metrics, stale, from_lock


def _add_pipeline_results(root: Path, pipeline: dvcfiles.Pipeline | None, record: Record,
                          stage_outputs: list[dvc.Pointer], from_lock: dict[str, str]) -> None:
    """The plots, and where each result dvc.lock certifies comes from, into RECORD."""
    if pipeline is None:
        return
    certified = {**{p.path: p.stage for p in stage_outputs if p.stage is not None}, **from_lock}
    record.plots = pipeline_results.plots(root, pipeline, statecache.of_work_tree(root), certified) or None
    record.from_lock = dict(sorted(certified.items())) or None


def _check_code_changes(root: Path, cfg: config.ProjectConfig, pipeline: dvcfiles.Pipeline | None,
                        include_untracked: bool, warnings: list[str]) -> selection.UntrackedChoice:
    """Refuse a file too large for git among those the commit would take, note undeclared data and
    the untracked files left out (to WARNINGS); the untracked files taken and left out."""
    committed, untracked = _changes_for_git(root, cfg, pipeline, include_untracked)
    _refuse_large_files(root, committed, set())
    warnings += [hint.message() for hint in undeclared.hints(root, cfg, committed, untracked.left_out)]
    if (left_out := untracked.warning()) is not None:
        warnings.append(left_out)
    return untracked


def _track(root: Path, cfg: config.ProjectConfig, pipeline: dvcfiles.Pipeline | None,
           progress: track.ProgressSink | None, store: bool) -> tuple[list[dvc.Pointer], list[dvc.Pointer]]:
    """Pointers for the configured data and outputs, and the stage outputs dvc.lock pins, hashed
    (into the cache when STORE) through the stat cache."""
    state = statecache.of_work_tree(root)
    watch = watcher.connect(str(root))
    try:
        pointers = track.track_paths(root, cfg.tracked, state, progress, store=store, watcher=watch)
    finally:
        if watch is not None:
            watch.close()
    stage_outputs = (dvcproject.recorded_stage_outputs(root, pipeline, state, progress, store=store)
                     if pipeline is not None else [])
    if store:
        state.save()  # the cache objects exist now; remembering them is safe whatever happens next
    return pointers, stage_outputs


def _environment(root: Path, interpreter: environment.Interpreter, may_probe: bool,
                 warnings: list[str]) -> tuple[environment.Environment, bytes, dict[str, str]]:
    """The environment to record, its lockfile and the project's own lockfiles (notes go to WARNINGS)."""
    project_locks = project_lockfiles.find(root)
    if may_probe:
        env = environment.capture(interpreter.path, git.git_dir(root) / "mlv")
        warnings += project_lockfiles.disagreements(root, project_locks, env.package_versions())
        return env, environment.render_lockfile(env), project_locks
    env, lockfile, note = _uncaptured_environment(root, interpreter)
    warnings.append(note)
    return env, lockfile, project_locks


def _refuse_symlinked_folders(root: Path, rels: list[str]) -> None:
    """Refuse before anything is committed when a folder on the way to a file the snapshot writes
    (pointer files, .gitignore entries, the lockfile, profiles) or deletes (stray lockfiles) is a
    symlink: in a cloned repository, `.mlv/env -> elsewhere` would make it write, or delete,
    outside the work tree."""
    for rel in rels:
        parent = rel.rpartition("/")[0]
        if parent:
            check_no_symlink(root, parent, "file the snapshot writes")


def _params_and_metrics(root: Path, cfg: config.ProjectConfig,
                        pipeline: dvcfiles.Pipeline | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The configured params and metrics files, and those `dvc.yaml` declares (configured or not)."""
    params = paramfiles.read_all(root, cfg.params, "params", required=True)
    metrics = paramfiles.read_all(root, cfg.metrics, "metrics", required=False)
    if pipeline is not None:
        params.update(paramfiles.read_all(root, [p for p in pipeline.params if p not in params], "params",
                                          required=False))
        metrics.update(paramfiles.read_all(root, [m for m in pipeline.metrics if m not in metrics], "metrics",
                                           required=False))
    return params, metrics


def _uncaptured_environment(
    root: Path, interpreter: environment.Interpreter
) -> tuple[environment.Environment, bytes, str]:
    """The environment to record when it may not be captured: HEAD's, said so, else unknown.

    Repeating the last recorded environment keeps its lockfile in the tree (no change shows up
    in the diff for an environment nobody looked at); without one, every fact is "unknown".
    """
    why = interpreter.why_not_run("`mlv snapshot` without --run")
    hint = "Run it with `mlv snapshot --run COMMAND`, or name an interpreter on PATH in `python:`."
    facts = _head_environment(root)
    lockfile = git.read_blob(root, "HEAD", facts.lockfile) if facts is not None else None
    if facts is not None and lockfile is not None:
        env = environment.Environment(facts.python, facts.implementation, facts.os, facts.platform,
                                      facts.machine, facts.interpreter)
        return env, lockfile, f"{why}; the record repeats the environment of HEAD. {hint}"
    env = environment.Environment("unknown", "unknown", "unknown", "unknown", "unknown", interpreter.path)
    lockfile = (f"# mlv environment lockfile: not captured (the interpreter {interpreter.named} is inside "
                "the repository)\n").encode()
    return env, lockfile, f"{why}; it is recorded as unknown. {hint}"


def _head_environment(root: Path) -> environment.Environment | None:
    """The environment HEAD's record holds; None when there is no commit yet or HEAD is an ordinary
    commit. A record that cannot be read is an error, never taken for no record."""
    from mlv.record import history

    if git.head_sha(root) is None:
        return None
    try:
        return history.show_experiment(root, "HEAD").record.environment
    except InvalidRecordError:
        raise
    except NotAnExperimentError:
        return None


def _lineage(root: Path, data: list[dvc.Pointer], warnings: list[str]) -> list[dict[str, object]] | None:
    """The provenance sidecars of the data (mlv/record/lineage.py), checked against their files."""
    from mlv.record import lineage

    found = lineage.for_snapshot(root, dvc.cache_dir(root), data)
    warnings += found.warnings
    return found.entries or None


def _default_message(command: str | None) -> str:
    return f"Experiment: {command}" if command else "Experiment snapshot"


def _build_record(
    cfg: config.ProjectConfig,
    command: str | None,
    run: RunResult | None,
    params: dict[str, object],
    metrics: dict[str, object],
    pointers: list[dvc.Pointer],
    env: environment.Environment,
    lockfile: bytes,
    project_locks: dict[str, str],
    reproduces: dict[str, object] | None,
) -> Record:
    import hashlib

    data_set = set(cfg.data)
    return Record(
        created=now_iso(),
        command=command,
        run_by_mlv=run is not None,
        exit_code=run.exit_code if run else None,
        started=run.started if run else None,
        duration_s=run.duration_s if run else None,
        params=params,
        metrics=metrics,
        data=[p for p in pointers if p.path in data_set],
        outputs=[p for p in pointers if p.path not in data_set],
        environment=environment.Environment(
            python=env.python, implementation=env.implementation, os=env.os, platform=env.platform,
            machine=env.machine, interpreter=env.interpreter,
            lockfile=environment.lockfile_path(lockfile),
            lockfile_sha256=hashlib.sha256(lockfile).hexdigest(),
            project_lockfiles=project_locks,
        ),
        mlv_version=__version__,
        reproduces=reproduces,
    )


@dataclass
class _Staged:
    """The commit's content in a private index, and the files mlv generated for it."""

    index: git.TempIndex
    base: Path  # a copy of the user's index as it was when the private one was copied from it
    contents: dict[str, bytes]  # generated path -> bytes (pointer files, .gitignore entries, lockfile)
    writes: dict[str, str]  # generated path -> blob sha
    deletes: list[str]

    def discard(self) -> None:
        self.index.path.unlink(missing_ok=True)
        self.base.unlink(missing_ok=True)


def _stage(
    root: Path,
    cfg: config.ProjectConfig,
    pointers: list[dvc.Pointer],
    lockfile: bytes,
    record: Record,
    stage_outputs: list[str],
    untracked: list[str] | None,
) -> _Staged:
    """Stage the commit in a private index; the user's index and files are untouched. UNTRACKED:
    the untracked files to take (None: all of them, as `git add -A`)."""
    index = git.new_temp_index(root)
    # What the user's index held when the prepared one was copied from it: publishing keeps
    # anything staged after this moment (a `git add` while the snapshot runs its hooks).
    base = index.path.with_name("mlv-snapshot-base.index")
    base.unlink(missing_ok=True)
    if index.path.exists():
        shutil.copy2(index.path, base)
    # Stage outputs are DVC's (dvc.lock pins them, DVC's .gitignore entries keep them out of git):
    # never committed, and no pointer file or .gitignore entry is written for them.
    git.stage_changes_except(index, [*cfg.tracked, *stage_outputs, environment.LOCKFILE_DIR], untracked,
                             [f"*{TEMP_MARK}*"])
    contents: dict[str, bytes] = {
        dvc.pointer_path(p.path): dvc.render_pointer(p, _read_if_exists(root / dvc.pointer_path(p.path)))
        for p in pointers
    }
    contents.update(track.gitignore_updates(root, cfg.tracked))
    contents.update(store.profiles_for_snapshot(root, cfg.data, pointers))  # new dataset versions only
    lock_rel = record.environment.lockfile
    contents[lock_rel] = lockfile
    writes = dict(zip(contents, git.hash_objects(root, list(contents.values())), strict=True))
    git.stage_blobs(index, writes)
    return _Staged(index, base, contents, writes, _stray_lockfiles(root, lock_rel))


def _dry_run(root: Path, head: str | None, staged: _Staged, untracked: selection.UntrackedChoice,
             message: str, record: Record, warnings: list[str]) -> SnapshotResult:
    """What the commit would hold; the private index is thrown away, so nothing is changed."""
    try:
        plan = DryRun(git.staged_changes_vs(staged.index, head), untracked.left_out)
        _refuse_large_files(root, [path for _, path in plan.changes], set(staged.writes))
    finally:
        staged.discard()
    return SnapshotResult(head or "", message, record, warnings, len(plan.changes), made=False, plan=plan)


def _prepare_commit(
    root: Path,
    ref: str,
    head: str | None,
    staged: _Staged,
    record: Record,
    message: str,
    verify: bool,
    skip_if_same: bool = False,
    identity_checked: bool = False,
    allowed_secrets: list[str] | None = None,
    sign: bool = False,
) -> tuple[PreparedCommit, int]:
    """Build the commit's objects from the staged index; the user's index and files are untouched."""
    index, writes = staged.index, staged.writes
    changed = git.staged_paths_vs(index, head)
    if skip_if_same and not changed and _head_repeats(root, head, record):
        raise _NothingChangedError
    if not identity_checked:
        check_identity(root)
    _refuse_large_files(root, changed, set(writes))
    # Only what this commit changes, and never mlv's own generated files: a no-op stays fast.
    secrets.refuse_secrets(root, [p for p in changed if p not in writes], allowed_secrets or [])
    if verify:
        _run_commit_hooks(root, index, message)
    _refuse_symlinked_folders(root, [*staged.contents, *staged.deletes])
    tree = git.write_tree(index)
    record.tree = tree  # so a reader can tell when the record travels to another tree (cherry-pick)
    commit = git.commit_tree(root, tree, head, render_message(message, record), sign=sign)
    return (PreparedCommit(commit, ref, head, index.path, writes, staged.deletes, staged.contents, staged.base),
            len(changed))


def _changes_for_git(
    root: Path, cfg: config.ProjectConfig, pipeline: dvcfiles.Pipeline | None, include_untracked: bool,
) -> tuple[list[str], selection.UntrackedChoice]:
    """(the changed files outside the tracked paths that the commit would take into git, the
    untracked files taken and left out)."""
    excluded = [*cfg.tracked, environment.LOCKFILE_DIR]
    if pipeline is not None:
        excluded += [out.path for out in pipeline.outs if out.cached]
    prefixes = tuple(p.rstrip("/") + "/" for p in excluded)
    status = [(code, p) for code, p in git.changed_paths_with_status(root)
              if p.rstrip("/") not in excluded and not p.startswith(prefixes) and TEMP_MARK not in p]
    untracked = selection.choose_untracked([p for code, p in status if code == "??"], excluded,
                                           selection.declared_files(cfg, pipeline),
                                           include_untracked or cfg.include_untracked)
    committed = [p for code, p in status if code != "??"] + untracked.taken
    return committed, untracked


def _head_repeats(root: Path, head: str | None, fresh: Record) -> bool:
    """Whether HEAD is an experiment whose record, made with HEAD's tree, claims what FRESH claims.

    Called when the prepared tree is HEAD's tree, so FRESH (read from the files just staged) is
    true to HEAD's tree: a record claiming the same data, outputs and lockfile is true to it too.
    A plain commit, an invalid record or a rewritten one is worth recording again.
    """
    from mlv.record import history

    if head is None:
        return False
    tree, message = git.commit_tree_and_message(root, head)
    found = history.read_commit(head, message)
    if not isinstance(found, history.Experiment):
        return False
    if found.record.tree is None:  # a record older than the tree field: check it against the tree
        history.check_trees(root, [found])
        return not found.rewritten
    return found.record.tree == tree and _claims(found.record) == _claims(fresh)


def _claims(rec: Record) -> tuple[object, ...]:
    """What a record pins that the tree can contradict (as the record's tree check compares)."""
    return ({(p.path, p.md5) for p in rec.data}, {(p.path, p.md5) for p in rec.outputs},
            rec.environment.lockfile, rec.environment.lockfile_sha256)


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _stray_lockfiles(root: Path, keep: str) -> list[str]:
    folder = root / environment.LOCKFILE_DIR
    if not folder.is_dir():
        return []
    return [f"{environment.LOCKFILE_DIR}/{p.name}" for p in folder.glob("requirements-*.txt")
            if f"{environment.LOCKFILE_DIR}/{p.name}" != keep]


def _refuse_large_files(root: Path, paths: list[str], generated: set[str]) -> None:
    for rel in paths:
        if rel in generated:
            continue
        try:
            size = os.lstat(root / rel).st_size
        except FileNotFoundError:
            continue  # a deletion
        if size > MAX_CODE_FILE_BYTES:
            raise MlvError(
                f"{rel} is {size / 2**20:.0f} MiB, too large to commit to git; nothing was committed",
                hint=f"Declare it as data: add {rel!r} to `data` or `outputs` in .mlv/config.yaml.",
            )


def _run_commit_hooks(root: Path, index: git.TempIndex, message: str) -> None:
    if git.run_hook(root, "pre-commit", [], index.env) != 0:
        raise MlvError("the pre-commit hook refused the snapshot; nothing was committed",
                       hint="Fix what it reports, or pass --no-verify.")
    msg_file = git.git_dir(root) / "mlv" / "COMMIT_EDITMSG"
    msg_file.parent.mkdir(parents=True, exist_ok=True)
    msg_file.write_text(message + "\n", "utf-8")
    if git.run_hook(root, "commit-msg", [str(msg_file)], index.env) != 0:
        raise MlvError("the commit-msg hook refused the snapshot; nothing was committed",
                       hint="Fix what it reports, or pass --no-verify.")
