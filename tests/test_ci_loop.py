"""The CI recipes of docs/ci/: schema-checked, and their mlv steps run as shell scripts against a
real bare git remote and a local DVC remote, in fresh clones, around the whole loop: new shifted
data, drift detected, retrain, gate (passing or failing as the data dictates), register, promote,
package, verify."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import VENV_BIN, dvc, forked_launchers, git, mlv

DOCS_CI = Path(__file__).resolve().parent.parent / "docs" / "ci"
_EXPR = re.compile(r"\$\{\{\s*steps\.(\w+)\.outputs\.(\w+)\s*\}\}")
_CONDITION = re.compile(r"steps\.(\w+)\.outputs\.(\w+) == '([^']*)'")


@pytest.mark.parametrize(("name", "schema"), [
    ("github-pull-request.yml", "vendor.github-workflows"),
    ("github-retrain-on-drift.yml", "vendor.github-workflows"),
    ("github-deploy-on-tag.yml", "vendor.github-workflows"),
    ("gitlab-ci.yml", "vendor.gitlab-ci"),
])
def test_recipes_match_the_ci_schemas(name: str, schema: str) -> None:
    """check-jsonschema's vendored schemas, offline, so the recipes cannot rot."""
    proc = subprocess.run([str(Path(VENV_BIN) / "check-jsonschema"), "--builtin-schema", schema, str(DOCS_CI / name)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _write_data(path: Path, seed: int, shift: float, noise: float) -> None:
    """The sample project's relation (same weights) on new rows: features shifted, noise as given."""
    code = (
        "import sys, numpy as np\n"
        "seed, shift, noise = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])\n"
        "rng = np.random.default_rng(seed)\n"
        "x = rng.normal(size=(2000, 4)) + shift\n"
        "y = x @ np.array([1.5, -2.0, 0.7, 3.1]) + 0.5 + rng.normal(scale=noise, size=2000)\n"
        "rows = ['x1,x2,x3,x4,y'] + [','.join(f'{v:.6f}' for v in (*r, t)) for r, t in zip(x, y)]\n"
        "open(sys.argv[1], 'w').write('\\n'.join(rows) + '\\n')\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(seed), str(shift), str(noise)], check=True)


class Workflow:
    """The mlv steps of one GitHub Actions recipe, run in order as `bash -e` scripts in a clone,
    with the workflow's env, $GITHUB_OUTPUT, and the `if: steps.X.outputs.Y == 'v'` conditions.
    ENV stands for the repository's variables and secrets too: it overrides a step's `env:`.
    The steps' `mlv` and `dvc` are the fork server's launchers (tests/forkserver.py)."""

    def __init__(self, name: str, clone: Path, env: dict[str, str]):
        doc = yaml.safe_load((DOCS_CI / name).read_text())
        self.steps = {s["id"]: s for job in doc["jobs"].values() for s in job["steps"] if "id" in s}
        self.clone = clone
        self.given = env
        self.env = {**os.environ, **{k: str(v) for k, v in (doc.get("env") or {}).items()}, **env}
        if launchers := forked_launchers():
            self.env["PATH"] = f"{launchers}{os.pathsep}{self.env['PATH']}"
        self.outputs: dict[str, dict[str, str]] = {}
        self.scripts: list[str] = []

    def run(self, step_id: str) -> subprocess.CompletedProcess[str] | None:
        step = self.steps[step_id]
        condition = _CONDITION.search(str(step.get("if", "")))
        if condition and self.outputs.get(condition[1], {}).get(condition[2]) != condition[3]:
            return None
        script = step["run"]
        out_file = self.clone.parent / f"{self.clone.name}-{step_id}.out"
        out_file.write_text("")
        env = {**self.env, "GITHUB_OUTPUT": str(out_file)}
        for key, value in (step.get("env") or {}).items():
            env[key] = self.given.get(key, _EXPR.sub(lambda m: self.outputs.get(m[1], {}).get(m[2], ""), str(value)))
        self.scripts.append(script)
        proc = subprocess.run(["bash", "-e", "-c", script], cwd=self.clone, env=env, capture_output=True, text=True,
                              check=False)
        self.outputs[step_id] = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
        return proc


def _ok(proc: subprocess.CompletedProcess[str] | None) -> subprocess.CompletedProcess[str]:
    assert proc is not None and proc.returncode == 0, (proc.args, proc.stdout, proc.stderr) if proc else "skipped"
    return proc


def _clone(remote: Path, target: Path, *args: str) -> Path:
    git(target.parent, "clone", "-q", *args, f"file://{remote}", str(target))
    git(target, "config", "user.name", "CI")
    git(target, "config", "user.email", "ci@example.com")
    return target


def _new_remotes(team: Path, tmp_path: Path) -> Path:
    """A bare git remote with `main` (returned), and a DVC remote set as TEAM's default (not committed yet)."""
    remote, store = tmp_path / "remote.git", tmp_path / "dvc-store"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    dvc(team, "remote", "add", "-q", "-d", "store", str(store))
    return remote


@pytest.mark.slow
def test_the_loop_in_ci(experiment_repo: Path, tmp_path: Path) -> None:
    team = experiment_repo
    remote = _new_remotes(team, tmp_path)
    config = yaml.safe_load((team / ".mlv/config.yaml").read_text())
    config["gate"] = {"metrics": {"r2": {"min": 0.95}, "mse": {"max_drop_rel": 0.5}}}
    (team / ".mlv/config.yaml").write_text(yaml.safe_dump(config))
    git(team, "add", ".mlv/config.yaml", ".dvc/config")
    git(team, "commit", "-q", "-m", "gate rules and the DVC remote")
    git(team, "branch", "-M", "main")
    git(team, "remote", "add", "origin", str(remote))
    mlv(team, "model", "register", "sample", "HEAD~1")
    mlv(team, "model", "promote", "sample", "v0.0.1", "prod")
    mlv(team, "push", "origin")
    git(team, "push", "-q", "origin", "--tags")

    # Schedule: new shifted data arrives; drift; retrain; the gate passes; register; staging.
    ci = _clone(remote, tmp_path / "ci-drift")
    flow = Workflow("github-retrain-on-drift.yml", ci, {"MODEL": "sample"})
    _ok(flow.run("pull"))
    _write_data(ci / "data/dataset.csv", seed=11, shift=1.5, noise=0.3)
    _ok(flow.run("check"))
    assert flow.outputs["check"] == {"drift": "true"}
    _ok(flow.run("retrain"))
    gate = _ok(flow.run("gate"))
    assert "PASS  r2" in gate.stdout and "vs sample#prod" in gate.stdout
    assert (ci / "gate.md").read_text().startswith("## mlv gate passed")
    _ok(flow.run("register"))
    assert flow.outputs["register"] == {"version": "v0.0.2"}
    _ok(flow.run("push"))
    stages = json.loads(mlv(ci, "model", "list", "--json").stdout)[0]["stages"]
    assert stages == {"prod": "v0.0.1", "staging": "v0.0.2"}

    # The same job on noisy data: drift, retrain, and the gate fails, so nothing is registered.
    noisy = _clone(remote, tmp_path / "ci-noisy")
    flow = Workflow("github-retrain-on-drift.yml", noisy, {"MODEL": "sample"})
    _ok(flow.run("pull"))
    _write_data(noisy / "data/dataset.csv", seed=12, shift=1.5, noise=3.0)
    _ok(flow.run("check"))
    _ok(flow.run("retrain"))
    refused = flow.run("gate")
    assert refused is not None and refused.returncode == 1, refused.stderr if refused else ""
    assert "FAIL  r2" in refused.stdout and "FAIL  mse" in refused.stdout
    assert json.loads(mlv(noisy, "model", "list", "--json").stdout)[0]["latest"] == "v0.0.2"

    # Someone promotes v0.0.2 to prod; the tag triggers the deploy: event, signature, package, verify.
    git(team, "fetch", "-q", "origin", "--tags")
    written = json.loads(mlv(team, "model", "promote", "sample", "v0.0.2", "prod", "--json").stdout)
    tag = written["tag"]
    git(team, "push", "-q", "origin", tag)
    key = tmp_path / "release-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "release", "-f", str(key)], check=True)
    signers = f"release@example.com {key.with_suffix('.pub').read_text().strip()}"
    deploy = _clone(remote, tmp_path / "ci-deploy")
    env = {"GITHUB_REF": f"refs/tags/{tag}", "ALLOWED_SIGNERS": signers}
    flow = Workflow("github-deploy-on-tag.yml", deploy, env)
    _ok(flow.run("event"))
    assert flow.outputs["event"] == {"event": "assign", "name": "sample", "version": "v0.0.2", "stage": "prod"}
    unsigned = flow.run("signature")  # anyone who can push a tag: not deployed
    assert unsigned is not None and unsigned.returncode != 0
    # The same tag, signed by an allowed key with git's own signing (`git tag -s`, gpg.format ssh).
    message = git(team, "tag", "-l", "--format=%(contents)", tag)
    git(team, "-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", "tag", "-s", "-f", "-m", message,
        tag, f"{tag}^{{}}")
    git(team, "push", "-q", "-f", "origin", tag)
    git(deploy, "fetch", "-q", "-f", "origin", f"refs/tags/{tag}:refs/tags/{tag}")
    _ok(flow.run("signature"))
    stranger = tmp_path / "other-key"  # a signature by a key the policy does not list: not deployed
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "other", "-f", str(stranger)], check=True)
    others = f"release@example.com {stranger.with_suffix('.pub').read_text().strip()}"
    forged = Workflow("github-deploy-on-tag.yml", deploy, {**env, "ALLOWED_SIGNERS": others})
    forged.run("event")
    assert _signature_refused(forged)
    _ok(flow.run("package"))
    assert "verified: bundle" in _ok(flow.run("verify")).stdout
    assert json.loads((deploy / "bundle/mlv-package.json").read_text())["version"] == "v0.0.2"

    # A tag that is not a registry tag: the event step succeeds and nothing is packaged.
    git(team, "tag", "release-1")
    other = Workflow("github-deploy-on-tag.yml", deploy, {"GITHUB_REF": "refs/tags/release-1"})
    _ok(other.run("event"))
    assert other.outputs["event"]["event"] == "" and other.run("package") is None


def _signature_refused(flow: Workflow) -> bool:
    proc = flow.run("signature")
    return proc is not None and proc.returncode != 0


@pytest.mark.slow
def test_the_pull_request_recipe_in_a_shallow_clone(experiment_repo: Path, tmp_path: Path) -> None:
    team = experiment_repo
    remote = _new_remotes(team, tmp_path)
    git(team, "add", ".dvc/config")
    git(team, "commit", "-q", "-m", "the DVC remote")
    git(team, "branch", "-M", "main")
    git(team, "remote", "add", "origin", str(remote))
    mlv(team, "push", "origin")
    git(team, "checkout", "-q", "-b", "feat")
    with (team / "train.py").open("a") as handle:
        handle.write("# a refactoring that must not change the model\n")
    git(team, "commit", "-q", "-am", "refactor train.py")
    git(team, "push", "-q", "origin", "feat")

    pr = _clone(remote, tmp_path / "ci-pr", "--depth", "1", "--branch", "feat")  # a shallow CI checkout
    # The repository's variable names the team's DVC remote (the recipe never trusts the PR's).
    flow = Workflow("github-pull-request.yml", pr, {"DVC_REMOTE_URL": str(tmp_path / "dvc-store")})
    _ok(flow.run("pull"))
    _ok(flow.run("snapshot"))
    gate = _ok(flow.run("gate"))  # the default rule: shared metrics at most 5% worse than main
    assert "default rule" in gate.stdout and "vs main" in gate.stdout
    report = (pr / "report.md").read_text()
    assert report.startswith("## mlv gate passed") and "train.py" in report  # the diff against main follows
    assert (pr / "plots/gate-metrics.png").is_file()
