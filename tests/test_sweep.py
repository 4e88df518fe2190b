"""`mlv snapshot -S`: params set for one run, and sweeps over their combinations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlv.sweep import overrides, paramsfile
from mlv.sweep.overrides import OverrideError
from tests.conftest import git, mlv

FILES = ["params.yaml", "eval/params.json"]


def test_specs_parse_as_dvc_writes_them() -> None:
    found = overrides.parse(["train.alpha=0.1,0.2", "eval/params.json:threshold=0.5", "name='0.1'", "on=true"], FILES)
    assert [(o.file, o.key, o.values) for o in found] == [
        ("params.yaml", "train.alpha", (0.1, 0.2)), ("eval/params.json", "threshold", (0.5,)),
        ("params.yaml", "name", ("0.1",)), ("params.yaml", "on", (True,))]
    runs = overrides.combinations(found)
    assert len(runs) == 2 and overrides.describe(runs[1]) == "train.alpha=0.2, threshold=0.5, name=0.1, on=true"


@pytest.mark.parametrize(("spec", "words"), [
    ("alpha", "is not KEY=VALUE"),
    ("=1", "is not KEY=VALUE"),
    ("train..alpha=1", "has an empty key"),
    ("other.yaml:alpha=1", "which is not a params file"),
])
def test_a_malformed_spec_is_one_usage_error(spec: str, words: str) -> None:
    with pytest.raises(OverrideError, match=words) as caught:
        overrides.parse([spec], FILES)
    assert caught.value.exit_code == 64


def test_the_same_key_twice_and_a_runaway_sweep_are_refused() -> None:
    with pytest.raises(OverrideError, match="twice"):
        overrides.parse(["a=1", "params.yaml:a=2"], FILES)
    with pytest.raises(OverrideError, match="more than 1,000"):
        overrides.parse(["a=" + ",".join(map(str, range(100))), "b=" + ",".join(map(str, range(11)))], FILES)


def test_yaml_keeps_its_comments_and_layout() -> None:
    original = b"# the model\ntrain:\n  alpha: 0.5   # regularisation\n  seed: 42\n"
    assert paramsfile.with_values("params.yaml", original, {"train.alpha": 0.1}) == (
        b"# the model\ntrain:\n  alpha: 0.1   # regularisation\n  seed: 42\n")


def test_json_is_set_and_toml_is_refused() -> None:
    assert json.loads(paramsfile.with_values("p.json", b'{"a": {"b": 1}}', {"a.b": 2})) == {"a": {"b": 2}}
    with pytest.raises(OverrideError, match="only YAML and JSON"):
        paramsfile.with_values("p.toml", b"a = 1\n", {"a": 2})


@pytest.mark.parametrize(("key", "words"), [("train.alpah", "has no param 'train.alpah'"),
                                             ("train", "is a mapping, not a single value")])
def test_a_key_the_file_does_not_have_is_refused(key: str, words: str) -> None:
    with pytest.raises(OverrideError, match=words):
        paramsfile.with_values("params.yaml", b"train:\n  alpha: 0.5\n", {key: 1})


@pytest.mark.slow
def test_a_sweep_makes_one_experiment_per_combination_and_puts_the_params_file_back(experiment_repo: Path) -> None:
    params = experiment_repo / "params.yaml"
    before = params.read_bytes()
    start = git(experiment_repo, "rev-parse", "HEAD")
    proc = mlv(experiment_repo, "snapshot", "--run", "python train.py", "-m", "sweep",
               "-S", "train.test_size=0.2,0.4", "-S", "train.seed=7")
    assert "[1/2] train.test_size=0.2, train.seed=7" in proc.stderr
    assert "[2/2] train.test_size=0.4, train.seed=7" in proc.stderr
    commits = git(experiment_repo, "rev-list", f"{start}..HEAD").split()
    assert len(commits) == 2 and proc.stdout.rstrip().endswith(f"{commits[1][:10]} {commits[0][:10]}")
    assert params.read_bytes() == before  # the work tree's file, as it was
    recorded = [json.loads(mlv(experiment_repo, "show", c, "--json").stdout)["params"] for c in commits]
    assert [p["params.yaml"]["train"]["test_size"] for p in recorded] == [0.4, 0.2]
    assert {p["params.yaml"]["train"]["seed"] for p in recorded} == {7}
    assert b"test_size: 0.4" in git(experiment_repo, "show", "HEAD:params.yaml").encode()
    shown = json.loads(mlv(experiment_repo, "log", "--filter", "train.test_size>0.3", "--json").stdout)
    assert [e["commit"] for e in shown] == [commits[0]]


@pytest.mark.slow
def test_a_failing_run_stops_the_sweep_and_still_puts_the_params_file_back(experiment_repo: Path) -> None:
    params = experiment_repo / "params.yaml"
    before = params.read_bytes()
    head = git(experiment_repo, "rev-parse", "HEAD")
    fails_on_seed_2 = ("python -c \"import yaml,sys; "
                       "sys.exit(yaml.safe_load(open('params.yaml'))['train']['seed'] == 2)\"")
    proc = mlv(experiment_repo, "snapshot", "--run", fails_on_seed_2, "-S", "train.seed=2,3", check=False)
    assert proc.returncode == 1
    assert "[1/2]" in proc.stderr and "[2/2]" not in proc.stderr
    assert params.read_bytes() == before
    assert git(experiment_repo, "rev-parse", "HEAD") == head


@pytest.mark.parametrize(("args", "words"), [
    (["-S", "train.seed=1"], "there is no --run"),
    (["--run", "python train.py", "-S", "train.sede=1"], "has no param 'train.sede'"),
])
def test_a_bad_sweep_is_refused_before_anything_runs(experiment_repo: Path, args: list[str], words: str) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    proc = mlv(experiment_repo, "snapshot", *args, check=False)
    assert proc.returncode == 64 and proc.stdout == ""
    assert words in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    assert git(experiment_repo, "status", "--porcelain") == ""
