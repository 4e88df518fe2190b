"""`mlv gate`: rules from .mlv/config.yaml (or the 5% default) against a base, with real git repos."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlv.errors import ConfigError
from mlv.gate.gate import GateInputError, default_rules, parse_config
from mlv.gates import Facts, GatePolicy, evaluate
from tests.conftest import REPO_ROOT, copy_template, derived_template, git, mlv
from tests.test_registry_helpers import GATE_DROP_BOUNDARIES, fake_experiment


def _set_metrics(repo: Path, **changes: object) -> None:
    path = repo / "metrics.json"
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


def _build(repo: Path) -> None:
    """main: the baseline experiment; branch feat: one more whose mse is 3% worse, with a text metric."""
    git(repo, "branch", "-M", "main")
    git(repo, "checkout", "-q", "-b", "feat")
    mse = json.loads((repo / "metrics.json").read_text())["mse"]
    _set_metrics(repo, mse=mse * 1.03, kind="linear")
    mlv(repo, "snapshot", "-m", "candidate")


@pytest.fixture(scope="session")
def _gate_template(_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return derived_template(tmp_path_factory, _templates["experiment"], _build)


@pytest.fixture
def gated(_gate_template: Path, tmp_path: Path) -> Path:
    return copy_template(_gate_template, tmp_path / "repo")


def _configure(repo: Path, gate: object) -> None:
    """The rules, written into the configuration (uncommitted: `mlv gate` reads the work tree's)."""
    path = repo / ".mlv/config.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["gate"] = gate
    path.write_text(yaml.safe_dump(doc))


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert proc.stdout == ""
    return lines[0]


def test_default_rule_passes_and_says_it_applied(gated: Path) -> None:
    proc = mlv(gated, "gate", "--against", "main")
    out = proc.stdout.splitlines()
    assert "default rule" in out[1] and "mse lower is better" in out[1] and "r2 higher is better" in out[1]
    mse = next(line for line in out if line.startswith("PASS  mse"))
    assert "vs main" in mse and "worse by 3.00%" in mse and "max_drop_rel 5.00%" in mse
    assert out[-1] == "gate passed: 3 rule(s)"  # mse, n_train, r2 (the text metric is not compared)


def test_a_configured_rule_fails_with_exit_1(gated: Path) -> None:
    _configure(gated, {"metrics": {"mse": {"max_drop_rel": 0.01}, "r2": {"min": 0.5}}})
    proc = mlv(gated, "gate", "--against", "main", check=False)
    assert proc.returncode == 1, proc.stderr
    assert "default rule" not in proc.stdout
    fail = next(line for line in proc.stdout.splitlines() if line.startswith("FAIL"))
    assert "mse" in fail and "worse by 3.00%" in fail and "> max_drop_rel 1.00%" in fail
    assert "PASS  r2" in proc.stdout and ">= min 0.5" in proc.stdout
    doc = json.loads(mlv(gated, "gate", "--against", "main", "--json", check=False).stdout)
    assert doc["passed"] is False
    assert [(r["metric"], r["rule"], r["passed"]) for r in doc["rules"]] == [
        ("mse", "max_drop_rel", False), ("r2", "min", True)]


def test_direction_override_keeps_the_default_rule(gated: Path) -> None:
    _configure(gated, {"metrics": {"mse": {"higher_is_better": True}}})
    proc = mlv(gated, "gate", "--against", "main")
    assert "mse higher is better" in proc.stdout  # overridden: a larger mse now counts as better


@pytest.mark.parametrize(("base", "new", "bound", "passes"), GATE_DROP_BOUNDARIES)
def test_drop_boundaries(gated: Path, base: float, new: float, bound: dict[str, float], passes: bool) -> None:
    base_commit = fake_experiment(gated, "base", {"score": base})
    fake_experiment(gated, "candidate", {"score": new})
    _configure(gated, {"metrics": {"score": {"higher_is_better": True, **bound}}})
    proc = mlv(gated, "gate", "--against", base_commit, "--json", check=False)
    assert proc.returncode == (0 if passes else 1), proc.stderr
    [rule] = json.loads(proc.stdout)["rules"]
    assert (rule["metric"], rule["rule"], rule["passed"]) == ("score", *bound, passes)


def test_min_rule_without_a_base(gated: Path) -> None:
    _configure(gated, {"metrics": {"r2": {"min": 0.999}}})
    proc = mlv(gated, "gate", check=False)
    assert proc.returncode == 1
    assert "(no base)" in proc.stdout and "FAIL  r2" in proc.stdout and "< min 0.999" in proc.stdout


def test_no_rules_and_no_base_cannot_run(gated: Path) -> None:
    proc = mlv(gated, "gate", check=False)
    assert proc.returncode == 2
    assert "--against" in _one_error_line(proc)


def test_unknown_metric_in_a_rule(gated: Path, tmp_path: Path) -> None:
    _configure(gated, {"metrics": {"accuracy": {"min": 0.8}}})
    report = tmp_path / "report.md"
    proc = mlv(gated, "gate", "--against", "main", "--md", str(report), check=False)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert "'accuracy'" in line and "mse" in line  # names the metric and lists the known ones
    assert not report.exists()


def test_non_numeric_metric_in_a_numeric_rule(gated: Path, tmp_path: Path) -> None:
    _configure(gated, {"metrics": {"kind": {"min": 1}}})
    report = tmp_path / "report.md"
    proc = mlv(gated, "gate", "--against", "main", "--md", str(report), check=False)
    assert proc.returncode == 2
    assert "'linear', not a finite number" in _one_error_line(proc)
    assert not report.exists()


def test_base_that_cannot_be_resolved(gated: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    for base in ("no-such-branch", "sample#prod"):
        proc = mlv(gated, "gate", "--against", base, "--md", str(report), check=False)
        assert proc.returncode == 2
        assert f"the base '{base}' cannot be resolved" in _one_error_line(proc)
    assert not report.exists()


def test_a_bad_gate_config_cannot_run(gated: Path) -> None:
    _configure(gated, {"metrics": {"mse": {"mni": 1}}})
    proc = mlv(gated, "gate", "--against", "main", check=False)
    assert proc.returncode == 2
    assert "unknown key 'mni'" in _one_error_line(proc)


def test_markdown_report_and_plots(gated: Path, tmp_path: Path) -> None:
    report, plots = tmp_path / "report.md", tmp_path / "plots"
    mlv(gated, "gate", "--against", "main", "--md", str(report), "--plots", str(plots))
    text = report.read_text()
    assert text.startswith("## mlv gate passed")
    assert "| pass | max_drop_rel | `mse` |" in text
    assert "### mlv diff:" in text and "**Metrics**" in text  # `mlv diff --md` against the base follows
    png = (plots / "gate-metrics.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_registry_stage_as_the_base(gated: Path) -> None:
    mlv(gated, "model", "register", "sample", "main")
    mlv(gated, "model", "promote", "sample", "v0.0.1", "prod")
    _configure(gated, {"metrics": {"mse": {"max_drop_rel": 0.01}}})
    proc = mlv(gated, "gate", "--against", "sample#prod", check=False)
    assert proc.returncode == 1
    assert "vs sample#prod" in proc.stdout


def test_reproduced_rule_without_a_saved_verdict(gated: Path) -> None:
    _configure(gated, {"reproduced": True, "metrics": {"r2": {"min": 0.5}}})
    proc = mlv(gated, "gate", check=False)
    assert proc.returncode == 1
    assert "FAIL  reproduced: no saved verdict whose evidence checks out" in proc.stdout


def test_shallow_clone_fetches_the_base(gated: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(gated, "push", "-q", str(remote), "main", "feat")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feat", f"file://{remote}", str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository") == "true"
    proc = mlv(clone, "gate", "--against", "main")
    assert "vs main" in proc.stdout and proc.stdout.splitlines()[-1] == "gate passed: 3 rule(s)"
    assert git(clone, "rev-parse", "--is-shallow-repository") == "false"
    proc = mlv(clone, "gate", "--against", "gone", check=False)
    assert proc.returncode == 2
    assert "fetching it from origin failed" in _one_error_line(proc) and "git fetch origin gone" in proc.stderr


def test_shallow_clone_whose_fetch_fails_names_the_fix(gated: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(gated, "push", "-q", str(remote), "feat")  # main is not on the remote
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", "--branch", "feat", f"file://{remote}", str(clone))
    proc = mlv(clone, "gate", "--against", "main", check=False)
    assert proc.returncode == 2
    line = _one_error_line(proc)
    assert "this shallow clone" in line and "`git fetch --unshallow origin main`" in line


# -- the engine's pieces, pure ---------------------------------------------------------------------


def test_config_parsing() -> None:
    cfg = parse_config({"metrics": {"r2": {"min": 0.7}, "loss": {"higher_is_better": True}}, "data_check": "pass"})
    assert [r.metric for r in cfg.policy.metrics] == ["r2"] and cfg.policy.data_check
    assert cfg.directions == {"loss": True} and not cfg.uses_default
    assert parse_config(None).uses_default
    with pytest.raises(GateInputError, match="data_check must be `pass`"):
        parse_config({"data_check": "fail"})
    with pytest.raises(GateInputError, match="unknown key 'from'"):
        parse_config({"from": ["staging"]})
    with pytest.raises(ConfigError, match="finite number"):
        parse_config({"metrics": {"r2": {"min": "high"}}})


def test_default_rules_directions() -> None:
    rules = default_rules({"train.loss": 1.0, "acc": 0.9, "name": "x", "only_here": 1},
                          {"train.loss": 1.0, "acc": 0.8, "name": "y"}, {"acc": False})
    assert [(r.metric, r.higher_is_better, r.max_drop_rel) for r in rules] == [
        ("acc", False, 0.05), ("train.loss", False, 0.05)]


def test_data_check_rule_in_the_engine() -> None:
    policy = GatePolicy(data_check=True)
    passed = evaluate(policy, Facts({}, data_check="pass", data_check_detail="data healthy against main"))
    assert passed[0].passed and passed[0].message == "data_check: pass (data healthy against main)"
    failed = evaluate(policy, Facts({}, data_check="fail"))
    assert not failed[0].passed
    assert not evaluate(policy, Facts({}))[0].passed  # never run is never a pass


@pytest.mark.slow
def test_data_check_rule_runs_mlv_data_check_against_the_base(gated: Path) -> None:
    """`data_check: pass` end to end: the work tree's data against the base's, through the real
    `mlv data check` (its profile comes from history)."""
    _configure(gated, {"data_check": "pass", "metrics": {"r2": {"min": 0.5}}})
    healthy = mlv(gated, "gate", "--against", "main", check=False)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "PASS  data_check" in healthy.stdout
    generator = REPO_ROOT / "sample_project" / "generate_data.py"
    subprocess.run([sys.executable, str(generator), "--shift", "0.8"], cwd=gated, check=True,
                   capture_output=True)
    drifted = mlv(gated, "gate", "--against", "main", check=False)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "FAIL  data_check" in drifted.stdout and "data drifted" in drifted.stdout


def test_a_gate_against_itself_passes_with_a_warning(gated: Path) -> None:
    git(gated, "checkout", "-q", "main")
    proc = mlv(gated, "gate", "--against", "main")
    warning = next(line for line in proc.stdout.splitlines() if line.startswith("warning: "))
    assert warning.startswith("warning: main is ") and warning.endswith("compares the run with itself")
    doc = json.loads(mlv(gated, "gate", "--against", "main", "--json").stdout)
    assert any("compares the run with itself" in note for note in doc["notes"])


def test_a_gate_against_another_run_has_no_such_warning(gated: Path) -> None:
    assert "itself" not in mlv(gated, "gate", "--against", "main").stdout


def test_a_drop_rule_with_nothing_to_compare_says_skip_and_why(gated: Path) -> None:
    _configure(gated, {"metrics": {"mse": {"max": 10, "max_drop_rel": 0.1}}})
    proc = mlv(gated, "gate")
    assert "SKIP  mse: max_drop_rel not checked (no base to compare with)" in proc.stdout
    assert "PASS  mse" in proc.stdout
    rules = json.loads(mlv(gated, "gate", "--json").stdout)["rules"]
    assert [r["skipped"] for r in rules] == [False, True]


def test_rules_from_the_base_branch_ignore_the_pull_requests_own(gated: Path) -> None:
    """main commits a strict rule; the pull request's branch relaxes it in its own config. With
    --rules-from main the gate reads main's rule, and fails."""
    git(gated, "checkout", "-q", "main")
    _configure(gated, {"metrics": {"mse": {"max_drop_rel": 0.01, "higher_is_better": False}}})
    git(gated, "commit", "-q", "--no-verify", "-am", "strict gate")
    git(gated, "checkout", "-q", "feat")
    _configure(gated, {"metrics": {"mse": {"max_drop_rel": 0.5, "higher_is_better": False}}})
    assert mlv(gated, "gate", "--against", "main", check=False).returncode == 0  # its own rule: relaxed
    strict = mlv(gated, "gate", "--rules-from", "main", "--against", "main", check=False)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "FAIL" in strict.stdout
    missing = mlv(gated, "gate", "--rules-from", "no-such-branch", "--against", "main", check=False)
    assert missing.returncode == 2 and "does not resolve" in _one_error_line(missing)


def test_names_from_a_pull_request_are_inert_in_the_comment(gated: Path, tmp_path: Path) -> None:
    """A metric named with HTML, a link, formatting, a mention and a backtick: the Markdown report
    shows each as text; none of them renders."""
    hostile = "<img src=x onerror=alert(1)>[x](https://evil.example) **b** @org/team `tick"
    for branch in ("main", "feat"):
        git(gated, "checkout", "-q", branch)
        _set_metrics(gated, **{hostile: 0.5})
        mlv(gated, "snapshot", "-m", f"<b>{branch}</b> @someone")
    git(gated, "checkout", "-q", "feat")
    report = tmp_path / "report.md"
    mlv(gated, "gate", "--against", "main", "--md", str(report), check=False)
    text = report.read_text()
    # The name is there: in a code span no backtick of it closes, or escaped in running text.
    assert "`` <img src=x onerror=alert(1)>[x](https://evil.example) **b** @org/team `tick ``" in text
    assert "&lt;img src=x onerror=alert(1)&gt;\\[x\\](https://evil.example) \\*\\*b\\*\\* \\@org/team \\`tick" in text
    outside = text.replace("`` <img src=x onerror=alert(1)>[x](https://evil.example) **b** @org/team `tick ``", "")
    for raw in ("<img", "<b>", "[x](", " @org", " @someone"):
        assert raw not in outside, raw


def test_markdown_text_and_code_spans() -> None:
    from mlv.cli.render.markdown import code_span, escape_text

    assert escape_text("<b> & [l](u) *x* _y_ @team ~z~ #1 a\\b") == \
        "&lt;b&gt; &amp; \\[l\\](u) \\*x\\* \\_y\\_ \\@team \\~z\\~ \\#1 a\\\\b"
    assert code_span("a`b") == "`` a`b ``"
    assert code_span("plain") == "`plain`"
    assert code_span("two\nlines") == "`two lines`"
    assert code_span("") == ""
