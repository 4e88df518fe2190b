"""`mlv reproduce REV`: re-run an experiment in a throwaway worktree and judge the result.

Two steps so the CLI can show what will run and ask before running it: `plan` reads and checks
the record and the environment (nothing is created yet), `execute` makes the worktree, restores
the data, runs the command, compares, optionally saves, and removes the worktree on every exit.
Any failure before a verdict exists means the experiment could not be re-run: exit code 2.

`plan` runs nothing from the repository, since the user has not agreed to anything yet: an
interpreter that is repository content (`python: ./tools/py`) is only probed by `execute`.

A commit without a record but with a `dvc.yaml` is re-run as `dvc repro` and compared with what
its tree pins (see mlv.reproduce.plain); its verdict is at best "unverified".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv import locking
from mlv.adapters import dvc, git
from mlv.data.pathsafety import check_no_escaping_symlink
from mlv.data.safe_write import SafeTree
from mlv.env import check, environment, fresh
from mlv.errors import EXIT_CANNOT_RUN, ConfigError, Interrupted, MlvError, NotAnExperimentError
from mlv.project import config, paramfiles
from mlv.record import history
from mlv.record.history import Experiment
from mlv.record.record import InvalidRecordError
from mlv.registry import revisions
from mlv.reproduce import datapool
from mlv.reproduce.worktree import temporary_worktree, use_shared_cache
from mlv.snapshot.runner import RunResult, run_command
from mlv.verdict import evidence, verdict

ENV_MODES = ("current", "fresh")


@dataclass
class ReproduceOptions:
    rev: str
    env: str = "current"
    rtol: float = 0.0
    atol: float = 0.0
    keep: bool = False
    save: bool = False
    stdout_to_stderr: bool = False  # with --json, the command's output must stay off stdout
    runs: int = 1  # --runs N: re-run N times and say whether the command is deterministic
    # --env fresh and the lockfile's local lines (see fresh.settle_local_lines)
    skip_local: bool = False
    substitutes: dict[str, str] = field(default_factory=dict)  # package name -> path installed instead
    skipped: set[str] = field(default_factory=set)  # package names skipped one by one (the prompt)


@dataclass
class ReproducePlan:
    """What will be re-run, checked and ready; shown to the user before confirmation."""

    root: Path
    experiment: Experiment
    command: str
    data: list[dvc.Pointer]
    metrics_files: list[str]
    lockfile: bytes
    interpreter: str
    mismatches: list[check.Mismatch]  # for --env current; --env fresh compares after building
    # The interpreter as named, when it is repository content: `execute` compares the environment
    # then, after consent, and `mismatches` is empty until it does.
    repository_interpreter: str | None = None
    lockfile_contents: fresh.LockfileContents = field(default_factory=fresh.LockfileContents)
    notes: list[str] = field(default_factory=list)  # said before running: a rewritten record, two lockfiles
    # False for a commit without an mlv record: compared with its tree and dvc.lock, the
    # environment unknown (mlv.reproduce.plain).
    has_record: bool = True
    alterations: list[fresh.Alteration] = field(default_factory=list)  # --env fresh: local lines settled


@dataclass
class ReproduceResult:
    commit: str
    command: str
    env_mode: str
    verdict: verdict.Verdict
    mismatches: list[check.Mismatch]
    run: RunResult
    worktree: str | None = None  # kept with --keep
    saved_commit: str | None = None
    saved_branch: str | None = None
    warnings: list[str] = field(default_factory=list)
    runs: RunsSummary | None = None  # with --runs N
    has_record: bool = True  # False for a commit without an mlv record (a plain DVC commit)
    environment_altered: list[fresh.Alteration] = field(default_factory=list)  # local lines skipped or substituted

    def to_json(self) -> dict[str, Any]:
        """The contract of `mlv reproduce --json` (docs/reference/verdict-json.md)."""
        doc = self.verdict.to_json()
        return {
            "verdict": doc.pop("verdict"), "commit": self.commit, "command": self.command,
            "env": self.env_mode, **doc,
            "environment_mismatches": [m.to_json() for m in self.mismatches],
            "duration_s": self.run.duration_s, "worktree": self.worktree,
            "saved_commit": self.saved_commit, "saved_branch": self.saved_branch, "warnings": self.warnings,
            "runs": self.runs.to_json() if self.runs is not None else None,
            "has_record": self.has_record,
            "environment_altered": [a.to_json() for a in self.environment_altered],
        }


@dataclass
class MetricSpread:
    name: str
    original: Any
    min: float | None  # over the re-runs and the original, numbers only
    max: float | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "original": self.original, "min": self.min, "max": self.max}


@dataclass
class RunsSummary:
    """`--runs N`: whether N re-runs agree with each other, and how far each metric spreads."""

    count: int
    deterministic: bool  # every re-run gave the same outputs, metrics and standard output
    verdicts: list[str]
    metrics: list[MetricSpread]

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "deterministic": self.deterministic, "verdicts": self.verdicts,
                "metrics": [m.to_json() for m in self.metrics]}


@contextlib.contextmanager
def could_not_run() -> Iterator[None]:
    """Every failure before a verdict exists exits 2, as documented (Ctrl-C keeps 130)."""
    try:
        yield
    except Interrupted:
        raise
    except MlvError as exc:
        exc.exit_code = EXIT_CANNOT_RUN
        raise


def plan(cwd: Path, options: ReproduceOptions) -> ReproducePlan:
    with could_not_run():
        if options.env not in ENV_MODES:
            raise MlvError(f"--env must be 'current' or 'fresh', not {options.env!r}")
        if options.rtol < 0 or options.atol < 0:
            raise MlvError("--rtol and --atol must not be negative")
        root = git.find_root(cwd)
        exp, has_record = _read_experiment(root, revisions.resolve(root, options.rev))
        rec = exp.record
        if not has_record and options.save:
            raise MlvError(f"--save records a re-run of an experiment, and commit {exp.commit[:10]} has no mlv record",
                           hint=f"Check it out (`mlv checkout {exp.commit[:10]}`) and record a run with "
                                '`mlv snapshot --run "dvc repro"` instead.')
        if not rec.command:
            raise MlvError(f"experiment {exp.commit[:10]} records no command, so there is nothing to re-run",
                           hint="Record experiments with `mlv snapshot --run COMMAND`.")
        if options.runs < 1:
            raise MlvError(f"--runs must be at least 1, not {options.runs}")
        if options.runs > 1 and (options.save or options.keep):
            raise MlvError("--runs cannot be combined with --save or --keep", hint="Re-run once to save or keep it.")
        # The commit's tree is the truth: its pointer files say which data to restore, even when
        # the record (copied by a cherry-pick, a rebase or by hand) names other data.
        data = exp.data
        # Metrics read from the command's output have no file to read back.
        metrics_files = [] if rec.metrics_from == "stdout" else list(rec.metrics)
        lock_path = rec.environment.lockfile
        blob = git.read_blob(root, exp.commit, lock_path) if lock_path else None
        if blob is None and options.env == "fresh" and not has_record:
            raise MlvError(f"commit {exp.commit[:10]} has no mlv record and no environment lockfile to build "
                           "a fresh environment from", hint="Use --env current.")
        if blob is None and options.env == "fresh":
            raise MlvError(f"the lockfile {lock_path} named by the record is not in commit {exp.commit[:10]}",
                           hint="Use --env current.")
        lockfile = blob or b""
        interpreter = environment.resolve_interpreter(rec.command, _configured_python(root, exp.commit), root)
        mismatches: list[check.Mismatch] = []
        if options.env == "current" and not interpreter.from_repository and has_record:
            mismatches = _compare_current(root, exp, lockfile, interpreter.path)
        return ReproducePlan(root, exp, rec.command, data, metrics_files, lockfile, interpreter.path, mismatches,
                             interpreter.named if interpreter.from_repository else None,
                             fresh.read_lockfile(lockfile), _tree_notes(exp), has_record)


def _read_experiment(root: Path, rev: str) -> tuple[Experiment, bool]:
    """REV as an experiment, and whether it has a record: a DVC pipeline's commit without one is
    read from its tree (see mlv.reproduce.plain)."""
    from mlv.reproduce import plain

    try:
        return history.show_experiment(root, rev), True
    except InvalidRecordError:
        raise  # a record that cannot be read claims a run all the same
    except NotAnExperimentError:
        exp = plain.read_plain_experiment(root, git.resolve_commit(root, rev))
        if exp is None:
            raise
        return exp, False


def settle_local_lines(plan_: ReproducePlan, options: ReproduceOptions) -> list[fresh.Alteration]:
    """With --env fresh, what happens to each lockfile line that installs from a local path
    (kept in PLAN_); exit 2 naming them when the options do not say. Before anything is built."""
    with could_not_run():
        if options.env != "fresh":
            if options.skip_local or options.substitutes or options.skipped:
                raise MlvError("--skip-local and --substitute only apply with --env fresh")
            return []
        plan_.alterations = fresh.settle_local_lines(plan_.lockfile_contents, options.skip_local,
                                                        options.substitutes, options.skipped)
        return plan_.alterations


def _tree_notes(exp: Experiment) -> list[str]:
    from mlv.record import treecheck

    notes = []
    if exp.rewritten:
        notes.append(f"the record of {exp.commit[:10]} is rewritten ("
                     + "; ".join(d.describe() for d in exp.differences)
                     + "): the data restored is the commit's tree's, and the recorded metrics came from another tree")
    if len(exp.lockfiles_in_tree) > 1:
        notes.append(treecheck.two_lockfiles_note(exp.lockfiles_in_tree))
    return notes


def _compare_current(root: Path, exp: Experiment, lockfile: bytes, interpreter: str) -> list[check.Mismatch]:
    current = environment.capture(interpreter, git.git_dir(root) / "mlv")
    return check.compare(exp.record.environment, environment.parse_lockfile(lockfile), current)


def _configured_python(root: Path, commit: str) -> str:
    text = git.read_blob(root, commit, config.CONFIG_FILE)
    if text is None:
        return "python"
    return config.parse(text.decode("utf-8", errors="replace")).python


def execute(plan_: ReproducePlan, options: ReproduceOptions,
            notify: Callable[[str], None] | None = None,
            build_progress: Callable[[fresh.BuildProgress], None] | None = None) -> ReproduceResult:
    """Re-run PLAN_ in a fresh worktree and compare; the worktree goes away unless --keep.

    Called only once the user agreed to run the recorded command (or passed --yes). With
    `runs` > 1 the command is re-run that many times, each in a fresh worktree, and the result is
    the worst verdict, with whether the re-runs agreed and how the metrics spread.
    """
    settle_local_lines(plan_, options)  # the CLI did already; an API caller may not have
    with contextlib.ExitStack() as stack:
        if options.save:  # it writes a branch and a commit: no other writing mlv command meanwhile
            with could_not_run():
                stack.enter_context(locking.repository_lock(plan_.root))
        results = []
        for number in range(options.runs):
            if notify and options.runs > 1:
                notify(f"run {number + 1} of {options.runs}")
            results.append(_execute(plan_, options, notify, build_progress))
    result = results[0] if len(results) == 1 else _combine(plan_, results)
    result.warnings[:0] = plan_.notes
    return result


def _fingerprint_of(result: ReproduceResult) -> tuple[Any, ...]:
    v = result.verdict
    return (tuple((o.path, o.reproduced) for o in v.outputs),
            tuple((m.name, repr(m.reproduced)) for m in v.metrics), result.run.stdout_sha256, result.run.exit_code)


def _combine(plan_: ReproducePlan, results: list[ReproduceResult]) -> ReproduceResult:
    """One result for --runs N: the worst verdict; re-runs that disagree make it nondeterministic."""
    order = [verdict.NOT_REPRODUCED, verdict.UNVERIFIED, verdict.WITHIN_TOLERANCE, verdict.REPRODUCED]
    worst = min(results, key=lambda r: order.index(r.verdict.verdict))
    deterministic = len({_fingerprint_of(r) for r in results}) == 1
    original = record_flatten(plan_.experiment.record.metrics)
    spreads = []
    for name, value in original.items():
        seen = [value, *(_metric(r, name) for r in results)]
        numbers = [float(x) for x in seen if isinstance(x, (int, float)) and not isinstance(x, bool)]
        spreads.append(MetricSpread(name, value, min(numbers) if numbers else None, max(numbers) if numbers else None))
    worst.runs = RunsSummary(len(results), deterministic, [r.verdict.verdict for r in results], spreads)
    if not deterministic and worst.verdict.verdict != verdict.REPRODUCED:
        worst.verdict.cause = verdict.NONDETERMINISTIC
        worst.verdict.cause_detail = (f"{len(results)} re-runs of the same commit in the same environment "
                                      "disagree with each other: look for unseeded randomness (random, numpy, "
                                      "torch seeds), threads or the clock")
    return worst


def _metric(result: ReproduceResult, name: str) -> Any:
    return next((m.reproduced for m in result.verdict.metrics if m.name == name), None)


def record_flatten(metrics: dict[str, Any]) -> dict[str, Any]:
    from mlv.record.record import flatten

    return flatten(metrics, single_root=len(metrics) == 1)


def _execute(plan_: ReproducePlan, options: ReproduceOptions, notify: Callable[[str], None] | None,
             build_progress: Callable[[fresh.BuildProgress], None] | None = None) -> ReproduceResult:
    exp = plan_.experiment
    # Everything here happens before a verdict exists: any failure means it could not run (2).
    with could_not_run():
        env_vars, command, mismatches = None, plan_.command, plan_.mismatches
        if options.env == "current" and plan_.repository_interpreter is not None:
            mismatches = _compare_current(plan_.root, exp, plan_.lockfile, plan_.interpreter)
            for mismatch in mismatches:
                if notify:
                    notify(f"  environment differs: {mismatch.describe()}")
        if options.env == "fresh":
            venv = fresh.ensure_environment(plan_.lockfile, plan_.interpreter, notify, plan_.alterations,
                                            build_progress)
            env_vars, command = fresh.command_env(venv), fresh.rewrite_command(plan_.command, venv)
            built = environment.capture(str(venv / "bin" / "python"), venv)
            mismatches = (check.compare(exp.record.environment, environment.parse_lockfile(plan_.lockfile), built)
                          if plan_.has_record else [])
        pipeline = _is_pipeline(plan_)
        with temporary_worktree(plan_.root, exp.commit, keep=options.keep, private_cache=pipeline) as tree, \
                _data(plan_, tree, options.keep):
            with SafeTree(tree) as files:  # never deleting through a committed symlink
                for name in plan_.metrics_files:  # the committed copy must not pass for a re-run's
                    files.unlink(name, what="metrics file")
            run = run_command(command, tree, env=env_vars, stdout_to_stderr=options.stdout_to_stderr,
                              when_stopped="the re-run was abandoned; nothing was changed")
            # A private DVC cache is thrown away with the worktree: nothing is stored in it.
            result = ReproduceResult(exp.commit, command, options.env,
                                     _judge(tree, plan_, options, run, mismatches,
                                            store=options.save and not pipeline), mismatches, run,
                                     has_record=plan_.has_record,
                                     environment_altered=list(plan_.alterations))
            if options.save:
                use_shared_cache(plan_.root, tree)
                _save(plan_, options, tree, result, env_vars)
            if options.keep:
                result.worktree = str(tree)
    return result


@contextlib.contextmanager
def _data(plan_: ReproducePlan, tree: Path, keep: bool) -> Iterator[None]:
    """The experiment's data in TREE while the block runs.

    Normally lent from reproduce's private pool (see datapool). A kept worktree keeps its data,
    so it gets a copy of its own instead.
    """
    with contextlib.ExitStack() as stack:
        if keep:
            datapool.restore_into(plan_.root, tree, plan_.data)
        else:
            stack.enter_context(datapool.lend_data(plan_.root, tree, plan_.data))
        yield


def _is_pipeline(plan_: ReproducePlan) -> bool:
    """Whether the experiment is a DVC pipeline's: its record pins stage outputs, or its commit has
    a `dvc.yaml`. Its outputs must then be computed by the re-run, never restored by DVC."""
    from mlv.pipeline import dvcfiles

    if any(p.stage is not None for p in plan_.experiment.record.outputs):
        return True
    return git.read_blob(plan_.root, plan_.experiment.commit, dvcfiles.PIPELINE_FILE) is not None


def _judge(tree: Path, plan_: ReproducePlan, options: ReproduceOptions, run: RunResult,
           mismatches: list[check.Mismatch], store: bool) -> verdict.Verdict:
    from mlv.data import track
    from mlv.data.statecache import of_work_tree

    exp = plan_.experiment
    rec = exp.record
    state = of_work_tree(tree)
    reproduced: dict[str, str | None] = {}
    for item in exp.outputs:  # as the commit's tree pins them
        path = item.path
        exists = (tree / path).exists() and _inside(tree, path)
        # With --save the snapshot stores these right after; storing now saves a second hashing.
        reproduced[path] = (track.track_paths(tree, [path], state, store=store)[0].md5
                            if exists else None)
    state.save()
    metrics: dict[str, Any] = {}
    for name in plan_.metrics_files:
        with contextlib.suppress(ConfigError):  # unreadable now: reported as missing metrics
            content = paramfiles.read_file(tree, name, "metrics", required=False)
            if content is not None:
                metrics[name] = content
    if rec.metrics_from == "stdout":
        metrics = {"stdout": dict(run.stdout_metrics)} if run.stdout_metrics else {}
    recorded_stdout = rec.stdout.get("sha256") if rec.stdout and rec.stdout.get("bytes") else None
    judged = verdict.decide(verdict.compare_outputs(exp.outputs, reproduced),
                          verdict.compare_metrics(rec.metrics, metrics, options.rtol, options.atol),
                          verdict.compare_exit(rec.exit_code if rec.run_by_mlv else None, run.exit_code),
                          options.rtol, options.atol,
                          stdout=verdict.compare_stdout(recorded_stdout, run.stdout_sha256),
                          inputs=_inputs(exp, mismatches, plan_.alterations, plan_.has_record,
                                         _stale_lock(tree, plan_)))
    judged.modified_by_run = list(rec.modified_by_run or [])
    return judged


def _stale_lock(tree: Path, plan_: ReproducePlan) -> tuple[tuple[str, str], ...]:
    """Without a record, the inputs whose hashes the commit's dvc.lock pins differently from the
    re-run's (see plain.stale_inputs); () for an experiment, whose record is checked otherwise."""
    from mlv.pipeline import dvcfiles
    from mlv.reproduce import plain

    if plan_.has_record:
        return ()
    committed = git.read_blob(plan_.root, plan_.experiment.commit, dvcfiles.LOCK_FILE)
    try:  # not through a symlink the command may have left there; over the cap, the parser refuses
        fd = os.open(tree / dvcfiles.LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as handle:
            rerun: bytes | None = handle.read(dvcfiles.MAX_PIPELINE_BYTES + 1)
    except OSError:
        rerun = None
    return tuple(plain.stale_inputs(committed, rerun, [p.path for p in plan_.data]))


def _inputs(exp: Experiment, mismatches: list[check.Mismatch], alterations: list[fresh.Alteration],
            has_record: bool = True, stale_lock: tuple[tuple[str, str], ...] = ()) -> verdict.Inputs:
    """What differed before the command ran: the causes a different result can have."""
    packages = tuple(f"{m.name} {m.recorded or '-'} -> {m.current or '-'}" for m in mismatches if m.kind == "package")
    # The platform string (kernel, libc build) differs between any two machines; it is listed
    # with the mismatches but is not taken as a cause by itself.
    facts = tuple(f"{m.name} {m.recorded} -> {m.current}" for m in mismatches
                  if m.kind not in ("package", "platform"))
    return verdict.Inputs(tuple(sorted({d.kind for d in exp.differences})), packages, facts,
                          no_record=not has_record, stale_lock=stale_lock,
                          altered=tuple(a.describe() for a in alterations))


def _inside(tree: Path, path: str) -> bool:
    """False when PATH in the worktree is, or goes through, a symlink leading out of it: the
    command may have made one, and hashing whatever it points at proves nothing."""
    try:
        check_no_escaping_symlink(tree, path, "output path")
    except MlvError:
        return False
    return not (tree / path).is_symlink()


def _save(plan_: ReproducePlan, options: ReproduceOptions, tree: Path, result: ReproduceResult,
          env_vars: dict[str, str] | None) -> None:
    """Record the re-run as an experiment commit on its own branch; the user's branches stay put."""
    from mlv.snapshot.take import SnapshotOptions, take_snapshot

    short = plan_.experiment.commit[:10]
    branch = f"mlv/reproduced/{short}"
    suffix = 2
    while git.branch_exists(plan_.root, branch):
        branch, suffix = f"mlv/reproduced/{short}-{suffix}", suffix + 1
    reproduces = {"commit": plan_.experiment.commit, "verdict": result.verdict.verdict,
                  "command": result.command, "exit_code": result.run.exit_code,
                  "duration_s": result.run.duration_s, "started": result.run.started, "env": options.env,
                  **evidence.evidence_of(result.verdict.outputs, result.run.stdout_sha256,
                                         result.verdict.rtol, result.verdict.atol)}
    message = f"Reproduce {short}: {result.verdict.verdict}"
    try:
        git.advance_ref(plan_.root, f"refs/heads/{branch}", plan_.experiment.commit, None, "mlv reproduce --save")
        git.attach_head(tree, f"refs/heads/{branch}")
        with _process_env(env_vars):  # the snapshot captures the environment the command ran in
            saved = take_snapshot(tree, SnapshotOptions(message=message, verify=False, reproduces=reproduces,
                                                        completed_run=result.run,
                                                        sign=git.signing_key(plan_.root) is not None))
    except MlvError as exc:
        git.delete_branch(plan_.root, branch, plan_.experiment.commit)  # no empty branch left behind
        result.warnings.append(f"the re-run was not saved: {exc.one_line()}")
        return
    result.saved_commit, result.saved_branch = saved.commit, branch
    result.warnings += saved.warnings


@contextlib.contextmanager
def _process_env(env_vars: dict[str, str] | None) -> Iterator[None]:
    if env_vars is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env_vars)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
