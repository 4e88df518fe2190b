"""Registry tags signed with git's own signing (ssh keys from ssh-keygen), and a policy of allowed
signers that lives outside the repository (git config mlv.allowedSignersFile, or MLV_ALLOWED_SIGNERS)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, git, mlv


def keygen(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


@pytest.fixture
def signed(experiment_repo: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The sample repository whose user signs with an ssh key; the env that sets the policy to it."""
    repo = experiment_repo
    key = keygen(tmp_path, "release")
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", f"{key}.pub")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"release@example.com {(tmp_path / 'release.pub').read_text()}")
    mlv(repo, "model", "register", "churn")
    mlv(repo, "model", "promote", "churn", "v0.0.1", "prod")
    return repo, {"MLV_ALLOWED_SIGNERS": str(allowed)}


def test_mlv_signs_its_tags_and_git_verifies_them(signed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, policy = signed
    for tag in ("churn@v0.0.1", "churn#prod#1"):
        proc = subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={policy['MLV_ALLOWED_SIGNERS']}",
                               "verify-tag", tag], cwd=repo, capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and 'Good "git" signature for release@example.com' in proc.stderr
    shown = json.loads(mlv(repo, "model", "show", "churn#prod", "--json", env=policy).stdout)
    assert shown["standing"]["status"] == "valid"
    mlv(repo, "model", "get", "churn#prod", "-o", str(tmp_path / "got"), env=policy)
    assert (tmp_path / "got/models/model.joblib").is_file()


def _refused(repo: Path, env: dict[str, str], *args: str) -> str:
    proc = mlv(repo, *args, check=False, env=env)
    assert proc.returncode == 6 and proc.stderr.count("\n") == 1 and proc.stdout == "", proc
    return proc.stderr


def test_with_a_policy_unsigned_and_wrongly_signed_tags_are_untrusted(signed: tuple[Path, dict[str, str]],
                                                                     tmp_path: Path) -> None:
    repo, policy = signed
    subprocess.run(["git", "tag", "-a", "--no-sign", "-m", "hotfix", "churn#prod#2", "churn@v0.0.1^{commit}"],
                   cwd=repo, check=True)
    err = _refused(repo, policy, "model", "get", "churn#prod", "-o", str(tmp_path / "got"))
    assert "untrusted" in err and "churn#prod#2" in err and not (tmp_path / "got").exists()
    _refused(repo, policy, "registry", "event", "refs/tags/churn#prod#2")
    _refused(repo, policy, "model", "package", "churn#prod", "-o", str(tmp_path / "bundle"))
    assert "(untrusted)" in mlv(repo, "model", "list", env=policy).stdout
    assert "(untrusted)" in mlv(repo, "model", "history", "churn", env=policy).stdout
    # Signed, by a key the policy does not list.
    other = keygen(tmp_path, "mallory")
    subprocess.run(["git", "-c", "gpg.format=ssh", "-c", f"user.signingkey={other}.pub", "tag", "-s", "-m", "x",
                    "churn#prod#3", "churn@v0.0.1^{commit}"], cwd=repo, check=True)
    assert "No principal matched" in _refused(repo, policy, "registry", "event", "churn#prod#3")
    # Without a policy, signatures are not required: the same tags are acted on.
    assert mlv(repo, "registry", "event", "churn#prod#3", "--json").returncode == 0


def test_the_policy_comes_from_git_config_or_the_environment_and_a_missing_file_is_an_error(
        signed: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    repo, policy = signed
    git(repo, "config", "mlv.allowedSignersFile", policy["MLV_ALLOWED_SIGNERS"])
    subprocess.run(["git", "tag", "-a", "--no-sign", "-m", "x", "churn#prod#2", "churn@v0.0.1^{commit}"], cwd=repo,
                   check=True)
    _refused(repo, {}, "registry", "event", "churn#prod#2")
    proc = mlv(repo, "model", "list", check=False, env={"MLV_ALLOWED_SIGNERS": str(tmp_path / "missing")})
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "is not a file" in proc.stderr
    assert os.environ.get("MLV_ALLOWED_SIGNERS") is None


def _sh_blocks(section: str) -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "docs/how-to/register-and-promote.md").read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in body.split("```sh\n")[1:]]


@pytest.mark.slow
def test_the_how_to_signs_and_verifies_end_to_end(experiment_repo: Path, tmp_path: Path) -> None:
    """The how-to's commands, as written, with a fresh HOME: keys, signed tags, the policy, git's
    check; then a package signed with an openssl key pair and verified with its public key."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "MLV_ALLOWED_SIGNERS": ""}
    env.pop("GIT_CONFIG_GLOBAL", None)
    for block in _sh_blocks("Sign tags and verdicts, and require signatures"):
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=experiment_repo, env=env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (block, proc.stdout, proc.stderr)
    assert 'Good "git" signature for release@example.com' in proc.stderr
    shown = subprocess.run([str(Path(VENV_BIN) / "mlv"), "model", "show", "churn#prod", "--json"],
                           cwd=experiment_repo, env=env, capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout)["standing"]["status"] == "valid"
    [package_block] = _sh_blocks("Package, sign and verify anywhere")
    commands = "\n".join(line for line in package_block.splitlines() if not line.startswith("pip install"))
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=experiment_repo, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and "verified: dist/churn\n" in proc.stdout, (proc.stdout, proc.stderr)
    assert (experiment_repo / "dist/churn/model.sig").is_file()


def test_an_unsigned_stage_tag_does_not_open_a_from_gate(signed: tuple[Path, dict[str, str]]) -> None:
    repo, policy = signed
    mlv(repo, "model", "demote", "churn", "prod", env=policy)
    config = repo / ".mlv/config.yaml"
    config.write_text(config.read_text() + "    gates:\n      prod:\n        from: [staging]\n")
    subprocess.run(["git", "tag", "-a", "--no-sign", "-m", "x", "churn#staging#9", "churn@v0.0.1^{commit}"],
                   cwd=repo, check=True)
    proc = mlv(repo, "model", "promote", "churn", "v0.0.1", "prod", check=False, env=policy)
    assert proc.returncode == 4 and "from" in proc.stderr, proc.stderr
    mlv(repo, "model", "demote", "churn", "staging", env=policy)  # then staging again, signed
    mlv(repo, "model", "promote", "churn", "v0.0.1", "staging", env=policy)
    mlv(repo, "model", "promote", "churn", "v0.0.1", "prod", env=policy)
