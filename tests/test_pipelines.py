"""mlv on a DVC pipeline (`dvc.yaml` stages pinned by `dvc.lock`), built as DVC's tutorial lays it out:
prepare -> featurize -> train -> evaluate, nested params in params.yaml, a metrics JSON and a plots
file (both `cache: false`, so in git), the raw data tracked by `data/data.xml.dvc`.

After each mlv command, `dvc status` and `dvc repro --dry` must agree with mlv.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlv.adapters.dvc import Pointer
from mlv.errors import DvcError
from mlv.pipeline import dvcfiles
from tests.conftest import copy_template, derived_template, dvc, git, mlv, pinned, shared_template

FILES = {
    "params.yaml": """\
        prepare:
          split: 0.25
          seed: 20170428
        featurize:
          max_features: 50
        train:
          seed: 20170428
          n_est: 5
        """,
    "src/prepare.py": """\
        import os, random, sys, yaml
        p = yaml.safe_load(open("params.yaml"))["prepare"]
        rows = open(sys.argv[1]).read().split("\\n")
        random.Random(p["seed"]).shuffle(rows)
        cut = int(len(rows) * p["split"])
        os.makedirs("data/prepared", exist_ok=True)
        open("data/prepared/test.tsv", "w").write("\\n".join(rows[:cut]))
        open("data/prepared/train.tsv", "w").write("\\n".join(rows[cut:]))
        """,
    "src/featurize.py": """\
        import json, os, yaml
        p = yaml.safe_load(open("params.yaml"))["featurize"]
        os.makedirs("data/features", exist_ok=True)
        for part in ("train", "test"):
            words = open(f"data/prepared/{part}.tsv").read().split()
            json.dump(sorted(set(words))[: p["max_features"]], open(f"data/features/{part}.json", "w"))
        """,
    "src/train.py": """\
        import json, random, yaml
        p = yaml.safe_load(open("params.yaml"))["train"]
        rng = random.Random(p["seed"]) if p.get("seed") is not None else random.SystemRandom()
        feats = json.load(open("data/features/train.json"))
        model = {"weights": [rng.random() for _ in range(p["n_est"])], "n": len(feats)}
        json.dump(model, open("model.pkl", "w"))
        """,
    "src/evaluate.py": """\
        import json, os
        m = json.load(open("model.pkl"))
        os.makedirs("eval/plots", exist_ok=True)
        metrics = {"avg_prec": sum(m["weights"]) / len(m["weights"]), "n": m["n"]}
        json.dump(metrics, open("eval/metrics.json", "w"))
        json.dump([{"x": i, "y": w} for i, w in enumerate(m["weights"])], open("eval/plots/prc.json", "w"))
        """,
    "dvc.yaml": """\
        stages:
          prepare:
            cmd: python src/prepare.py data/data.xml
            deps:
            - data/data.xml
            - src/prepare.py
            params:
            - prepare.seed
            - prepare.split
            outs:
            - data/prepared
          featurize:
            cmd: python src/featurize.py
            deps:
            - data/prepared
            - src/featurize.py
            params:
            - featurize.max_features
            outs:
            - data/features
          train:
            cmd: python src/train.py
            deps:
            - data/features
            - src/train.py
            params:
            - train.seed
            - train.n_est
            outs:
            - model.pkl
          evaluate:
            cmd: python src/evaluate.py
            deps:
            - model.pkl
            - src/evaluate.py
            metrics:
            - eval/metrics.json:
                cache: false
            plots:
            - eval/plots/prc.json:
                cache: false
        """,
}


def build_pipeline(root: Path) -> None:
    """A git + DVC repository holding the pipeline above, committed; nothing of mlv yet."""
    root.mkdir(parents=True)
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    (root / "data").mkdir(exist_ok=True)
    (root / "data/data.xml").write_text("\n".join(f"<row id='{i}' text='w{i % 37} o{i % 11}'/>" for i in range(400)))
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    dvc(root, "add", "-q", "data/data.xml")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "pipeline")


def set_param(root: Path, old: str, new: str) -> None:
    text = (root / "params.yaml").read_text()
    assert old in text
    (root / "params.yaml").write_text(text.replace(old, new))


def assert_dvc_clean(root: Path) -> None:
    """`dvc status` and `dvc repro --dry` both say nothing is out of date."""
    assert "Data and pipelines are up to date" in dvc(root, "status")
    dry = dvc(root, "repro", "--dry")
    assert "Running stage" not in dry, dry


def record_of(root: Path, rev: str = "HEAD") -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(mlv(root, "show", rev, "--json").stdout)
    return doc


def push_to_new_remotes(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A bare git remote `origin` and a default DVC remote `store` in TMP_PATH, the DVC config
    committed, then `mlv push`; returns both."""
    remote, store = tmp_path / "origin.git", tmp_path / "dvc-store"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    dvc(repo, "remote", "add", "-d", "store", str(store))
    git(repo, "commit", "-qam", "remote")
    mlv(repo, "push")
    return remote, store


def plain_pipeline_template(factory: pytest.TempPathFactory) -> Path:
    """build_pipeline's repository, built once per session."""
    def build(folder: Path) -> None:
        with pinned(factory.mktemp("pipeline-home")):
            build_pipeline(folder)

    return shared_template(factory, "plain-pipeline", build)


@pytest.fixture(scope="session", name="_pipeline_templates")
def pipeline_templates_fixture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A pipeline repository (plain DVC), and a copy after `mlv init` and one `dvc repro` snapshot."""
    plain = plain_pipeline_template(tmp_path_factory)

    def first_snapshot(root: Path) -> None:
        mlv(root, "init")
        mlv(root, "snapshot", "--run", "dvc repro", "-m", "first")

    return {"plain": plain, "snapshotted": derived_template(tmp_path_factory, plain, first_snapshot)}


@pytest.fixture
def pipeline_repo(tmp_path: Path, _pipeline_templates: dict[str, Path]) -> Path:
    return copy_template(_pipeline_templates["plain"], tmp_path / "repo")


@pytest.fixture
def pipeline_experiment(tmp_path: Path, _pipeline_templates: dict[str, Path]) -> Path:
    return copy_template(_pipeline_templates["snapshotted"], tmp_path / "repo")


# -- reading dvc.yaml and dvc.lock ------------------------------------------------------------------

LOCK = b"""\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    deps:
    - path: data/features
      hash: md5
      md5: 0123456789abcdef0123456789abcdef.dir
      size: 10
      nfiles: 2
    params:
      params.yaml:
        train.seed: 1
        train.nested.lr: 0.1
    outs:
    - path: model.pkl
      hash: md5
      md5: fedcba9876543210fedcba9876543210
      size: 122
    - path: eval/metrics.json
      hash: md5
      md5: 0000000000000000000000000000000a
      size: 20
"""
PIPELINE = b"""\
stages:
  train:
    cmd: python train.py
    deps: [data/features]
    params:
    - train.seed
    - conf/extra.yaml:
      - lr
    outs: [model.pkl]
    metrics:
    - eval/metrics.json:
        cache: false
    plots: [plots/roc.json]
  nested:
    wdir: sub
    cmd: python run.py
    outs: [out.bin]
metrics: [summary.json]
plots:
- roc_curve:
    x: fpr
    y: {plots/roc.json: tpr}
"""


def test_the_lock_is_read_into_stages_with_deps_params_and_outputs() -> None:
    stage = dvcfiles.parse_lock(LOCK)["train"]
    assert [d.path for d in stage.deps] == ["data/features"]
    assert stage.params == {"params.yaml": {"train.seed": 1, "train.nested.lr": 0.1}}
    assert stage.outs[0] == Pointer("model.pkl", "fedcba9876543210fedcba9876543210", 122, None, stage="train")


def test_dvc_yaml_gives_metrics_params_plots_and_cache_false_outputs() -> None:
    pipeline = dvcfiles.parse_pipeline(PIPELINE)
    assert pipeline.metrics == ["eval/metrics.json", "summary.json"]
    assert pipeline.params == ["params.yaml", "conf/extra.yaml"]
    assert pipeline.plots == ["plots/roc.json"]
    assert pipeline.uncached == {"eval/metrics.json"}
    assert pipeline.stages["nested"].outs[0].path == "sub/out.bin"  # wdir resolved
    owner = pipeline.owner("model.pkl")
    assert owner is not None and owner.stage == "train"


def test_only_cached_stage_outputs_are_dvc_data() -> None:
    assert [p.path for p in dvcfiles.stage_outputs(PIPELINE, LOCK)] == ["model.pkl"]


@pytest.mark.parametrize(("lock", "why"), [
    (b"a: &x [1]\nb: *x\n", "aliases"),
    (b"stages:\n  s:\n    outs:\n    - path: ../../etc/passwd\n      md5: fedcba9876543210fedcba9876543210\n",
     "climbs out"),
    (b"stages:\n  s:\n    outs:\n    - path: m\n      md5: ../../../dev/zero\n", "malformed md5"),
    (b"x" * (dvcfiles.MAX_PIPELINE_BYTES + 1), "larger than"),
])
def test_a_hostile_lock_is_refused_in_one_error(lock: bytes, why: str) -> None:
    with pytest.raises(DvcError, match=why):
        dvcfiles.parse_lock(lock)


def test_reading_the_pipeline_does_not_import_dvc() -> None:
    code = ("import sys; from mlv.pipeline import dvcfiles; "
            f"dvcfiles.stage_outputs({PIPELINE!r}, {LOCK!r}); print('dvc' in sys.modules)")
    out = subprocess.run([shutil.which("python") or "python", "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


# -- init and snapshot -------------------------------------------------------------------------------


def test_init_on_a_pipeline_configures_dvc_repro_and_leaves_stage_outputs_to_dvc(pipeline_repo: Path) -> None:
    mlv(pipeline_repo, "init")
    config = json.loads(mlv(pipeline_repo, "init", "--json").stdout)["config"]
    assert config["command"] == "dvc repro"
    assert config["data"] == ["data/data.xml"]  # the stage input a .dvc file tracks, not the folder
    assert config["outputs"] == []  # stage outputs come from dvc.lock
    assert config["params"] == ["params.yaml"]
    assert config["metrics"] == ["eval/metrics.json"]
    text = mlv(pipeline_repo, "init").stdout
    assert "models" not in text  # no `outputs: [models]` suggested: the stages' outputs come from dvc.lock
    assert ("  pipeline: data/prepared (prepare), data/features (featurize), model.pkl (train), "
            "eval/metrics.json (evaluate), eval/plots/prc.json (evaluate); recorded from dvc.lock") in text


def test_a_snapshot_records_every_stage_output_dvc_lock_pins(pipeline_experiment: Path) -> None:
    rec = record_of(pipeline_experiment)
    outputs = {o["path"]: o for o in rec["outputs"]}
    assert set(outputs) == {"data/prepared", "data/features", "model.pkl"}  # cache: false files are in git
    lock = dvcfiles.parse_lock((pipeline_experiment / "dvc.lock").read_bytes())
    for stage in lock.values():
        for out in stage.outs:
            if out.path in outputs:
                assert outputs[out.path] == {**out.to_json(), "stage": stage.name}
    assert outputs["data/prepared"]["nfiles"] == 2
    assert rec["params"]["params.yaml"]["train"]["n_est"] == 5  # nested params
    assert set(rec["metrics"]["eval/metrics.json"]) == {"avg_prec", "n"}
    assert [d["path"] for d in rec["data"]] == ["data/data.xml"]
    assert_dvc_clean(pipeline_experiment)
    assert git(pipeline_experiment, "status", "--porcelain") == ""


def test_a_snapshot_leaves_dvc_files_gitignore_and_lock_as_dvc_wrote_them(pipeline_repo: Path) -> None:
    mlv(pipeline_repo, "init")
    dvc(pipeline_repo, "repro", "-q")
    before = {rel: (pipeline_repo / rel).read_bytes()
              for rel in ("data/data.xml.dvc", "data/.gitignore", ".gitignore", "dvc.lock")}
    mlv(pipeline_repo, "snapshot", "-m", "as found")
    after = {rel: git(pipeline_repo, "show", f"HEAD:{rel}") + "\n" for rel in before}
    assert after == {rel: data.decode() for rel, data in before.items()}
    assert {rel: (pipeline_repo / rel).read_bytes() for rel in before} == before
    assert_dvc_clean(pipeline_repo)


def _configure(root: Path, **lists: list[str]) -> None:
    path = root / ".mlv/config.yaml"
    text = path.read_text()
    for key, value in lists.items():
        text = text.replace(f"{key}: []", f"{key}: {json.dumps(value)}")
        text = text.replace(f"{key}:\n- data/data.xml", f"{key}: {json.dumps(value)}")
    path.write_text(text)


def test_a_stage_output_configured_as_an_output_is_refused_naming_the_stage(pipeline_experiment: Path) -> None:
    _configure(pipeline_experiment, outputs=["model.pkl"])
    head = git(pipeline_experiment, "rev-parse", "HEAD")
    proc = mlv(pipeline_experiment, "snapshot", "-m", "x", check=False)
    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) <= 2  # the error line and its hint
    assert "'model.pkl'" in proc.stderr and "stage 'train'" in proc.stderr
    assert git(pipeline_experiment, "rev-parse", "HEAD") == head
    assert not (pipeline_experiment / "model.pkl.dvc").exists()
    assert_dvc_clean(pipeline_experiment)


def test_init_refuses_an_existing_config_that_takes_a_stage_output(pipeline_experiment: Path) -> None:
    _configure(pipeline_experiment, outputs=["data/features"])
    proc = mlv(pipeline_experiment, "init", check=False)
    assert proc.returncode == 1 and "stage 'featurize'" in proc.stderr


def test_a_data_folder_over_another_dvc_file_is_refused_and_nothing_is_removed(pipeline_repo: Path) -> None:
    """`data: [data]` used to wrap data/ into one data.dvc and delete data/data.xml.dvc."""
    mlv(pipeline_repo, "init")
    (pipeline_repo / "dvc.yaml").unlink()  # even without a pipeline
    git(pipeline_repo, "commit", "-qam", "no pipeline")
    _configure(pipeline_repo, data=["data"])
    proc = mlv(pipeline_repo, "snapshot", "-m", "x", check=False)
    assert proc.returncode == 1
    assert "'data'" in proc.stderr and "data/data.xml.dvc" in proc.stderr
    assert (pipeline_repo / "data/data.xml.dvc").is_file() and not (pipeline_repo / "data.dvc").exists()
    assert (pipeline_repo / "data/.gitignore").is_file()


def test_a_path_inside_a_dvc_tracked_folder_is_refused(pipeline_experiment: Path) -> None:
    _configure(pipeline_experiment, data=["data/data.xml/inner"])
    proc = mlv(pipeline_experiment, "snapshot", "-m", "x", check=False)
    assert proc.returncode == 1 and "data/data.xml.dvc" in proc.stderr


def test_an_output_changed_since_dvc_lock_is_refused_not_recorded(pipeline_experiment: Path) -> None:
    (pipeline_experiment / "model.pkl").write_text("edited by hand")
    head = git(pipeline_experiment, "rev-parse", "HEAD")
    proc = mlv(pipeline_experiment, "snapshot", "-m", "x", check=False)
    assert proc.returncode == 1 and "'model.pkl'" in proc.stderr and "stage 'train'" in proc.stderr
    assert git(pipeline_experiment, "rev-parse", "HEAD") == head


@pytest.mark.slow
def test_diff_shows_the_changed_stage_outputs(pipeline_experiment: Path) -> None:
    """Pipeline outputs used to be invisible: `mlv diff` said data unchanged after a param change."""
    set_param(pipeline_experiment, "n_est: 5", "n_est: 7")
    mlv(pipeline_experiment, "snapshot", "--run", "dvc repro", "-m", "second")
    data = json.loads(mlv(pipeline_experiment, "diff", "HEAD~1", "HEAD", "--json").stdout)["data"]
    text = json.dumps(data)
    assert "model.pkl" in text and "modified" in text
    workspace = json.loads(mlv(pipeline_experiment, "diff", "HEAD~1", "--json").stdout)["data"]
    assert "model.pkl" in json.dumps(workspace)


def test_an_up_to_date_dvc_repro_keeps_the_results_dvc_lock_certifies(pipeline_experiment: Path) -> None:
    """`dvc repro` with nothing to do rewrites nothing, yet dvc.lock certifies its results for
    this code, params and data: they stay in the record, and a gate on them runs."""
    config = pipeline_experiment / ".mlv/config.yaml"
    config.write_text(config.read_text() + "gate:\n  metrics:\n    avg_prec: {min: 0.0}\n")
    git(pipeline_experiment, "commit", "-qam", "a gate")
    result = mlv(pipeline_experiment, "snapshot", "--run", "dvc repro", "-m", "up to date", "--json")
    assert "left out of the record" not in result.stderr
    rec = json.loads(result.stdout)["record"]
    assert set(rec["metrics"]["eval/metrics.json"]) == {"avg_prec", "n"}
    assert rec["from_lock"] == {"data/features": "featurize", "data/prepared": "prepare",
                                "eval/metrics.json": "evaluate", "eval/plots/prc.json": "evaluate",
                                "model.pkl": "train"}
    [plot] = rec["plots"]
    lock = dvcfiles.parse_lock((pipeline_experiment / "dvc.lock").read_bytes())["evaluate"]
    locked = next(out for out in lock.outs if out.path == "eval/plots/prc.json")
    assert plot == {"path": "eval/plots/prc.json", "md5": locked.md5, "size": locked.size, "nfiles": None,
                    "stage": "evaluate"}
    shown = mlv(pipeline_experiment, "show").stdout
    assert "eval/metrics.json certified by dvc.lock (stage evaluate)" in shown
    assert "plots     eval/plots/prc.json" in shown and "(dvc.lock, stage evaluate)" in shown
    gate = mlv(pipeline_experiment, "gate", "--against", "HEAD~1", check=False)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "avg_prec" in gate.stdout


def test_show_prints_the_size_and_file_count_of_stage_outputs(pipeline_experiment: Path) -> None:
    shown = mlv(pipeline_experiment, "show").stdout
    line = next(line for line in shown.splitlines() if line.startswith("outputs   data/prepared"))
    assert "(2 files)" in line and " 0 B" not in line


def test_diff_shows_which_plots_changed(pipeline_experiment: Path) -> None:
    set_param(pipeline_experiment, "n_est: 5", "n_est: 7")
    mlv(pipeline_experiment, "snapshot", "--run", "dvc repro", "-m", "second")
    entries = json.loads(mlv(pipeline_experiment, "diff", "HEAD~1", "HEAD", "--json").stdout)["data"]["entries"]
    plot = next(e for e in entries if e["path"] == "eval/plots/prc.json")
    assert (plot["kind"], plot["status"]) == ("plot", "modified")
    text = mlv(pipeline_experiment, "diff", "HEAD~1", "HEAD").stdout
    assert "eval/plots/prc.json" in text


@pytest.mark.slow
def test_checkout_of_the_first_run_restores_stage_outputs_and_dvc_agrees(pipeline_experiment: Path) -> None:
    """Checkout used to restore only data.xml and leave every stage `modified`."""
    first_model = (pipeline_experiment / "model.pkl").read_bytes()
    set_param(pipeline_experiment, "n_est: 5", "n_est: 7")
    mlv(pipeline_experiment, "snapshot", "--run", "dvc repro", "-m", "second")
    assert (pipeline_experiment / "model.pkl").read_bytes() != first_model
    mlv(pipeline_experiment, "checkout", "HEAD~1")
    assert (pipeline_experiment / "model.pkl").read_bytes() == first_model
    assert_dvc_clean(pipeline_experiment)
    mlv(pipeline_experiment, "checkout", "main")
    assert_dvc_clean(pipeline_experiment)


@pytest.mark.slow
def test_the_post_checkout_hook_restores_stage_outputs(pipeline_experiment: Path) -> None:
    mlv(pipeline_experiment, "hooks", "install")
    first_model = (pipeline_experiment / "model.pkl").read_bytes()
    set_param(pipeline_experiment, "n_est: 5", "n_est: 7")
    mlv(pipeline_experiment, "snapshot", "--run", "dvc repro", "-m", "second")
    git(pipeline_experiment, "checkout", "-q", "HEAD~1")
    assert (pipeline_experiment / "model.pkl").read_bytes() == first_model
    assert_dvc_clean(pipeline_experiment)


@pytest.mark.slow
def test_push_sends_every_object_dvc_lock_needs_and_a_clone_pulls_them(
        pipeline_experiment: Path, tmp_path: Path) -> None:
    """Push used to upload none of the stage outputs, so a teammate's pull got no model."""
    remote, _store = push_to_new_remotes(pipeline_experiment, tmp_path)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    assert not (clone / "model.pkl").exists()
    mlv(clone, "pull")
    assert (clone / "model.pkl").read_bytes() == (pipeline_experiment / "model.pkl").read_bytes()
    assert (clone / "data/features/train.json").is_file()
    assert_dvc_clean(clone)
