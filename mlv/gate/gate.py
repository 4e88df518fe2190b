"""`mlv gate`: an experiment checked against the `gate:` rules of `.mlv/config.yaml` (or a default
rule when none are configured), compared with a base: a revision such as `main` or a registry
stage such as `churn#prod`. The rules are evaluated by `mlv.gates.evaluate`, the engine the
registry's promotion gates use.

```yaml
gate:
  metrics:
    r2: {min: 0.7, max_drop_abs: 0.02}
    n_train: {higher_is_better: true}   # no bound: only a direction, for the default rule
  reproduced: true       # a saved `mlv reproduce --save` verdict
  data_check: pass       # `mlv data check PATH --against BASE` passes for every `data:` path
```

With no bounded metric rule, the default applies: every numeric metric both runs record may be at
most 5 % worse than the base, the direction from the name (`mlv.gates.rules.lower_is_better_by_name`)
unless a rule above gives `higher_is_better`.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.adapters import git
from mlv.errors import EXIT_CANNOT_RUN, GitError, MlvError
from mlv.finite import is_finite_number
from mlv.gates.evaluate import Facts, RuleResult, evaluate
from mlv.gates.rules import GatePolicy, MetricRule, lower_is_better_by_name, parse_policy
from mlv.record import history
from mlv.record.history import Experiment
from mlv.record.record import flatten

if TYPE_CHECKING:
    from mlv.project.config import ProjectConfig

DEFAULT_MAX_DROP_REL = 0.05
_KEYS = {"metrics", "reproduced", "data_check", "branches"}
_BOUNDS = ("min", "max", "max_drop_abs", "max_drop_rel")
# `mlv data check` run by the interpreter running this mlv (the same version, whatever is on PATH).
_MLV = "import sys; from mlv.cli.app import main; sys.argv[0] = 'mlv'; main()"


class GateInputError(MlvError):
    """The gate could not run: its rules, the metrics or the base do not allow a verdict."""

    exit_code = EXIT_CANNOT_RUN


@dataclass(frozen=True)
class GateConfig:
    policy: GatePolicy  # the configured rules (metric rules with at least one bound)
    directions: dict[str, bool]  # metric -> higher_is_better, from rules that give only a direction

    @property
    def uses_default(self) -> bool:
        return not self.policy.metrics


def parse_config(doc: Any, where: str = ".mlv/config.yaml: gate") -> GateConfig:
    """The `gate:` mapping; ConfigError (exit 2 from `mlv gate`) for anything unknown or malformed."""
    doc = doc or {}
    if not isinstance(doc, dict):
        raise GateInputError(f"{where} must be a mapping (keys: {', '.join(sorted(_KEYS))})")
    unknown = set(doc) - _KEYS
    if unknown:
        raise GateInputError(f"{where}: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(_KEYS))}")
    data_check = doc.get("data_check")
    if data_check not in (None, "pass"):
        raise GateInputError(f"{where}.data_check must be `pass`, not {data_check!r}")
    policy = parse_policy({k: v for k, v in doc.items() if k != "data_check"}, where)
    bounded = tuple(r for r in policy.metrics if any(getattr(r, key) is not None for key in _BOUNDS))
    directions = {r.metric: r.higher_is_better for r in policy.metrics if r not in bounded}
    return GateConfig(replace(policy, metrics=bounded, data_check=data_check == "pass"), directions)


def _find(metrics: dict[str, Any], name: str) -> tuple[bool, Any]:
    """(present, value) of NAME: an exact dotted key, else the one key ending in `.NAME`."""
    if name in metrics:
        return True, metrics[name]
    matches = [k for k in metrics if k.endswith("." + name)]
    return (True, metrics[matches[0]]) if len(matches) == 1 else (False, None)


def default_rules(metrics: dict[str, Any], base: dict[str, Any], directions: dict[str, bool]) -> tuple[MetricRule, ...]:
    """The default: every numeric metric both sides record, at most 5 % worse than the base."""
    rules = []
    for name in sorted(metrics):
        if name in base and is_finite_number(metrics[name]) and is_finite_number(base[name]):
            given = [h for key, h in directions.items() if name == key or name.endswith("." + key)]
            higher = given[0] if given else not lower_is_better_by_name(name)
            rules.append(MetricRule(name, max_drop_rel=DEFAULT_MAX_DROP_REL, higher_is_better=higher))
    return tuple(rules)


def check_rules(policy: GatePolicy, metrics: dict[str, Any], base: dict[str, Any] | None, label: str,
                base_label: str) -> None:
    """Each named metric is recorded, and numeric, on the sides its rule reads; else GateInputError."""
    for rule in policy.metrics:
        present, value = _find(metrics, rule.metric)
        if not present:
            known = ", ".join(sorted(metrics)) or "none"
            raise GateInputError(f"gate rule names metric {rule.metric!r}, which {label} does not record "
                                 f"(its metrics: {known})", hint="Fix `gate.metrics` in .mlv/config.yaml.")
        if not is_finite_number(value):
            raise GateInputError(f"metric {rule.metric!r} of {label} is {value!r}, not a finite number, but its gate "
                                 "rule compares numbers", hint="Fix the metric or remove its rule from `gate.metrics`.")
        needs_base = rule.max_drop_abs is not None or rule.max_drop_rel is not None
        if base is not None and needs_base:
            present, value = _find(base, rule.metric)
            if present and not is_finite_number(value):
                raise GateInputError(f"metric {rule.metric!r} of the base {base_label} is {value!r}, not a finite "
                                     "number, but its gate rule compares numbers",
                                     hint="Compare with another base (--against).")


@dataclass
class Side:
    label: str  # as the user named it
    experiment: Experiment

    @property
    def metrics(self) -> dict[str, Any]:
        return flatten(self.experiment.record.metrics, single_root=True)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "commit": self.experiment.commit, "metrics": self.metrics}


@dataclass
class GateReport:
    candidate: Side
    base: Side | None
    results: list[RuleResult]
    default_rule: str | None = None  # the sentence saying the default rule applied, and how
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "candidate": self.candidate.to_json(),
                "base": self.base.to_json() if self.base else None, "default_rule": self.default_rule,
                "rules": [r.to_json() for r in self.results], "notes": self.notes}


def describe_default(rules: tuple[MetricRule, ...]) -> str:
    if not rules:
        return "no gate rules configured, and the two runs share no numeric metric: nothing to compare"
    sides = "; ".join(f"{r.metric} {'higher' if r.higher_is_better else 'lower'} is better" for r in rules)
    return (f"no metric rules configured: default rule, every shared metric at most {DEFAULT_MAX_DROP_REL:.0%} "
            f"worse than the base ({sides})")


def run_gate(root: Path, rev: str | None, against: str | None, rules_from: str | None = None) -> GateReport:
    """Gather the facts and evaluate. GateInputError (exit 2) when no verdict is possible.

    RULES_FROM (a revision, e.g. origin/main) reads the `gate:` rules from that commit's
    `.mlv/config.yaml` instead of the work tree's: a pull request must not relax its own gate.
    """
    from mlv.project import config

    if rules_from is None:
        cfg = parse_config(config.load(root).gate)
    else:
        cfg = parse_config(rules_at(root, rules_from).gate, where=f"{rules_from}:{config.CONFIG_FILE}: gate")
    candidate = _candidate(root, rev)
    base = resolve_base(root, against) if against else None
    policy = cfg.policy
    default_note = None
    base_metrics = base.metrics if base else None
    if cfg.uses_default:
        if base is None:
            raise GateInputError("no metric rules are configured and no base is given, so there is nothing to gate",
                                 hint="Pass --against BASE (a branch or NAME#STAGE), or add `gate.metrics` rules.")
        policy = replace(policy, metrics=default_rules(candidate.metrics, base.metrics, cfg.directions))
        default_note = describe_default(policy.metrics)
    check_rules(policy, candidate.metrics, base_metrics, candidate.label, base.label if base else "")
    facts = Facts(metrics=candidate.metrics, base_metrics=base_metrics, base_label=base.label if base else None)
    if policy.reproduced:
        from mlv.registry import lineage

        facts = replace(facts, reproduced_verdict=lineage.checked_verdict(root, candidate.experiment.commit))
    if policy.branches is not None:
        facts = replace(facts, branches=tuple(git.branches_containing(root, candidate.experiment.commit)))
    if policy.data_check:
        if base is None:
            raise GateInputError("`data_check: pass` compares the data with the base, and no base is given",
                                 hint="Pass --against BASE.")
        outcome, detail = data_check(root, config.load(root).data, base)
        facts = replace(facts, data_check=outcome, data_check_detail=detail)
    report = GateReport(candidate, base, evaluate(policy, facts), default_note)
    if base is not None and base.experiment.commit == candidate.experiment.commit:
        report.notes.append(f"{base.label} is {candidate.label} itself ({candidate.experiment.commit[:10]}): "
                            "every rule against the base compares the run with itself")
    return report


def rules_at(root: Path, rev: str) -> ProjectConfig:
    """The configuration committed at REV (its `.mlv/config.yaml`); GateInputError when REV does
    not resolve or has none."""
    from mlv.errors import ConfigError
    from mlv.project import config

    remote = _remote(root)
    if not git.revision_exists(root, rev) and remote and rev.startswith(f"{remote}/"):
        branch = rev[len(remote) + 1:]  # a CI checkout may hold the pull request's branch alone
        with contextlib.suppress(GitError):
            git.fetch_refs(root, remote, [f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"])
    try:
        commit = git.resolve_commit(root, rev)
    except MlvError:
        raise GateInputError(f"--rules-from {rev!r} does not resolve to a commit",
                             hint="Fetch it first (`git fetch origin main`), or name another revision.") from None
    data = git.read_blob(root, commit, config.CONFIG_FILE)
    if data is None:
        raise GateInputError(f"{rev} has no {config.CONFIG_FILE}, so it has no gate rules to read",
                             hint="Commit the rules on that branch first, or drop --rules-from.")
    try:
        return config.parse(data[:config.MAX_CONFIG_BYTES + 1].decode("utf-8", "replace"))
    except ConfigError as exc:
        raise GateInputError(f"{rev}:{config.CONFIG_FILE}: {exc.message}", hint=exc.hint) from None


def _candidate(root: Path, rev: str | None) -> Side:
    if rev is None:
        found = history.latest_valid(root, 1)
        if not found:
            raise GateInputError("this branch has no experiment commit to gate",
                                 hint="Record one with `mlv snapshot --run ...`, or name one: `mlv gate REV`.")
        return Side(found[0].commit[:10], found[0])
    try:
        return Side(rev, history.show_experiment(root, rev))
    except MlvError as exc:
        raise GateInputError(f"cannot gate {rev}: {exc.message.rstrip('.')}", hint=exc.hint) from None


# -- the base: a revision or a registry stage, fetched in a shallow clone ------------------------------


def resolve_base(root: Path, text: str) -> Side:
    """The experiment TEXT names: NAME#STAGE / NAME@vX.Y.Z (its commit), else a revision (the
    newest experiment in its history). In a shallow clone, or when TEXT is not here, it is fetched
    first; when that fails, one line says the exact command that fixes it."""
    from mlv.registry import names

    is_registry = names.parse_reference(text, bare_means_latest=False) is not None
    remote = _remote(root)
    shallow = git.is_shallow(root)
    if remote and (shallow or not _resolves(root, text, remote, is_registry)):
        refspecs = ["+refs/tags/*:refs/tags/*"]
        if not is_registry:
            refspecs.insert(0, f"+refs/heads/{text}:refs/remotes/{remote}/{text}")
        try:
            git.fetch_refs(root, remote, refspecs, unshallow=shallow)
        except GitError as exc:
            raise _unresolvable(text, remote, shallow, exc.message) from None
    commit = _resolve(root, text, remote, is_registry)
    if commit is None:
        raise _unresolvable(text, remote, git.is_shallow(root), None)
    if is_registry:
        from mlv.registry import queries

        queries.resolve_trusted(root, text, "gate against")  # UntrustedVersionError: exit 6
        try:
            return Side(text, history.show_experiment(root, commit))
        except MlvError as exc:
            raise GateInputError(f"the base {text} is not a readable experiment: {exc.message}") from None
    found = history.latest_valid(root, 1, commit)
    if not found:
        raise GateInputError(f"the base {text} ({commit[:10]}) has no experiment commit in its history",
                             hint="Pass a base that has one (`mlv log REV` lists them).")
    label = text if found[0].commit == commit else f"{text} ({found[0].commit[:10]})"
    return Side(label, found[0])


def _remote(root: Path) -> str | None:
    remotes = git.remote_names(root)
    return "origin" if "origin" in remotes else (remotes[0] if remotes else None)


def _resolves(root: Path, text: str, remote: str | None, is_registry: bool) -> bool:
    try:
        return _resolve(root, text, remote, is_registry) is not None
    except GateInputError:
        return True  # the model is here and lacks the stage: fetching will not change the answer


def _resolve(root: Path, text: str, remote: str | None, is_registry: bool) -> str | None:
    if is_registry:
        from mlv.registry import resolve_registry_rev
        from mlv.registry.names import RegistryError

        try:
            return resolve_registry_rev(root, text)
        except RegistryError as exc:
            raise GateInputError(f"the base {text} cannot be resolved: {exc.message.rstrip('.')}",
                                 hint=exc.hint) from None
    for candidate in (text, f"{remote}/{text}" if remote else None):
        if candidate and git.revision_exists(root, candidate):
            return git.resolve_commit(root, candidate)
    return None


def _unresolvable(text: str, remote: str | None, shallow: bool, why: str | None) -> GateInputError:
    where = "this shallow clone" if shallow else "this clone"
    fetched = f" and fetching it from {remote} failed ({why.rstrip('.')})" if why else ""
    if remote is None:
        fix = "add the remote and fetch it, or name a commit that is here"
    elif shallow:
        fix = f"run `git fetch --unshallow {remote} {text}` (or check out with fetch-depth: 0)"
    else:
        fix = f"run `git fetch {remote} {text}`, or check the name (`git branch -a`, `mlv model list`)"
    return GateInputError(f"the base {text!r} cannot be resolved in {where}{fetched}; {fix}")


# -- data_check -----------------------------------------------------------------------------------------


def data_check(root: Path, paths: list[str], base: Side) -> tuple[str, str]:
    """("pass" | "fail", one line): `mlv data check PATH --against BASE` for every data path."""
    if not paths:
        raise GateInputError("`data_check: pass` is configured but .mlv/config.yaml lists no `data:` paths",
                             hint="Add the datasets under `data:`, or remove `gate.data_check`.")
    commit = base.experiment.commit
    failed = []
    for path in paths:
        argv = [sys.executable, "-c", _MLV, "data", "check", path, "--against", commit]
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
        if proc.returncode == 1:
            failed.append(path)
        elif proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1].removeprefix("error: ")
            raise GateInputError(f"data_check could not run `mlv data check {path} --against {commit[:10]}`: {last}")
    if failed:
        return "fail", f"{', '.join(failed)} drifted or failed a health rule against {base.label}"
    return "pass", f"{', '.join(paths)} healthy against {base.label}"
