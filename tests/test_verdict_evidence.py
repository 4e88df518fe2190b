"""A saved verdict counts for `reproduced: true` only when its evidence checks out: a real
`mlv reproduce --save`, not a hand-made `mlv/reproduced/<sha>` branch."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlv.registry import lineage
from tests.conftest import git, mlv

_BLOCK = re.compile(r"(--- mlv experiment record v\d+ ---\n)(.*)(\n--- end mlv experiment record ---)", re.DOTALL)


def _record(repo: Path, rev: str) -> tuple[str, dict[str, Any]]:
    message = git(repo, "log", "-1", "--format=%B", rev)
    match = _BLOCK.search(message)
    assert match
    return match.group(1), json.loads(match.group(2))


def hand_made_verdict(repo: Path, reproduces: dict[str, Any], record_edit: dict[str, Any] | None = None) -> str:
    """A branch mlv/reproduced/<sha10> whose tip is a child of HEAD with HEAD's record plus REPRODUCES:
    what anyone can push without re-running anything."""
    head = git(repo, "rev-parse", "HEAD")
    begin, record = _record(repo, head)
    record.update(reproduces={"commit": head, **reproduces}, **(record_edit or {}))
    end = "--- end mlv experiment record ---"
    body = f"Reproduce {head[:10]}: reproduced\n\n{begin}{json.dumps(record, indent=1)}\n{end}\n"
    sha = subprocess.run(["git", "commit-tree", f"{head}^{{tree}}", "-p", head, "-F", "-"], cwd=repo, input=body,
                         capture_output=True, text=True, check=True).stdout.strip()
    git(repo, "branch", f"mlv/reproduced/{head[:10]}", sha)
    return sha


def _gate_reproduced(repo: Path) -> subprocess.CompletedProcess[str]:
    config = repo / ".mlv/config.yaml"
    if "reproduced: true" not in config.read_text():
        config.write_text(config.read_text() + "gate:\n  reproduced: true\n  metrics:\n    mse: {max: 1}\n")
    return mlv(repo, "gate", check=False)


def test_a_bare_branch_is_not_a_verdict(experiment_repo: Path) -> None:
    repo = experiment_repo
    hand_made_verdict(repo, {"verdict": "reproduced", "exit_code": 0})
    head = git(repo, "rev-parse", "HEAD")
    [saved] = lineage.reproduce_verdicts(repo, head)
    assert saved["checked"] is False and "a bare branch is not a verdict" in saved["problem"]
    proc = _gate_reproduced(repo)
    assert proc.returncode == 1 and "FAIL  reproduced: no saved verdict whose evidence checks out" in proc.stdout


def _evidence(repo: Path) -> dict[str, Any]:
    _, record = _record(repo, "HEAD")
    return {"verdict": "reproduced", "exit_code": record["exit_code"], "rtol": 0.0, "atol": 0.0,
            "outputs": {o["path"]: o["md5"] for o in record["outputs"]},
            "stdout_sha256": (record.get("stdout") or {}).get("sha256")}


def test_evidence_that_contradicts_the_claim_or_lacks_its_objects_is_refused(experiment_repo: Path) -> None:
    repo = experiment_repo
    head = git(repo, "rev-parse", "HEAD")
    _, record = _record(repo, "HEAD")
    worse = {"metrics": {"metrics.json": {k: v * 2 for k, v in record["metrics"]["metrics.json"].items()}}}
    hand_made_verdict(repo, _evidence(repo), worse)  # metrics differ, the verdict still says reproduced
    [saved] = lineage.reproduce_verdicts(repo, head)
    assert saved["problem"] == "its evidence gives not_reproduced, not the reproduced it claims"
    git(repo, "branch", "-D", f"mlv/reproduced/{head[:10]}")
    # Evidence that decides as claimed, but whose output exists nowhere: nothing was re-run.
    hand_made_verdict(repo, {**_evidence(repo), "verdict": "reproduced_within_tolerance",
                             "outputs": {"models": "0" * 32 + ".dir"}},
                      {"outputs": [{**record["outputs"][0], "md5": "0" * 32 + ".dir"}]})
    [saved] = lineage.reproduce_verdicts(repo, head)
    assert saved["problem"] == "1 object(s) of its evidence are in neither the DVC cache nor the remote"


@pytest.mark.slow
def test_a_real_saved_verdict_counts_and_signing_policy_tells_it_from_a_copy(experiment_repo: Path,
                                                                             tmp_path: Path) -> None:
    repo = experiment_repo
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True)
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", f"{key}.pub")
    mlv(repo, "reproduce", "HEAD", "--yes", "--save")
    head = git(repo, "rev-parse", "HEAD")
    [saved] = lineage.reproduce_verdicts(repo, head)
    assert saved["checked"] is True and saved["verdict"] == "reproduced", saved
    assert _gate_reproduced(repo).returncode == 0
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ci {(tmp_path / 'key.pub').read_text()}")
    git(repo, "config", "mlv.allowedSignersFile", str(allowed))
    assert _gate_reproduced(repo).returncode == 0  # signed by an allowed key: `git commit-tree -S`
    # A forger copies the evidence into a hand-made branch: consistent, but unsigned.
    git(repo, "branch", "-m", saved["branch"], "mlv/reproduced/elsewhere")
    hand_made_verdict(repo, _evidence(repo))
    found = {v["branch"]: v for v in lineage.reproduce_verdicts(repo, head)}
    assert "not signed by an allowed signer" in found[f"mlv/reproduced/{head[:10]}"]["problem"]
    git(repo, "config", "--unset", "mlv.allowedSignersFile")
    assert found[f"mlv/reproduced/{head[:10]}"]["checked"] is False
    assert lineage.reproduce_verdicts(repo, head)[0]["checked"] is True  # without a policy, consistency only
