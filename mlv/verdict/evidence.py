"""A saved verdict is a claim too: `mlv reproduce --save` commits the re-run on a branch
`mlv/reproduced/<sha10>`, and anyone can make such a branch by hand. Before a gate counts a
saved verdict, its evidence is checked:

- the saved commit is the re-run's snapshot: a child of the experiment it reproduces;
- its `reproduces` block holds the re-run's evidence (output md5s, the stdout sha256, the exit
  code), and the saved record's own outputs and stdout agree with it;
- the verdict decided again from that evidence and the original record is the verdict claimed;
- every output object it names exists in the DVC cache, or in the DVC remote;
- under a signing policy, the saved commit is signed by an allowed signer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlv.adapters import dvc, git, remote_trust
from mlv.errors import MlvError
from mlv.record.history import Experiment
from mlv.verdict import verdict as verdicts


def evidence_of(result_outputs: list[verdicts.OutputCheck], stdout_sha256: str | None,
                rtol: float, atol: float) -> dict[str, Any]:
    """The evidence block `mlv reproduce --save` writes beside the verdict."""
    return {"outputs": {o.path: o.reproduced for o in result_outputs if o.reproduced},
            "stdout_sha256": stdout_sha256, "rtol": rtol, "atol": atol}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def problem(root: Path, original: Experiment, saved: Experiment, policy: Path | None) -> str | None:
    """None when SAVED's verdict about ORIGINAL is backed by its evidence; else one line saying why not."""
    claim = saved.record.reproduces if isinstance(saved.record.reproduces, dict) else {}
    found = _shape_problem(root, original, saved, claim) or _decision_problem(original, saved, claim)
    if found:
        return found
    missing = _missing_objects(root, sorted(set(claim["outputs"].values())))
    if missing:
        return f"{len(missing)} object(s) of its evidence are in neither the DVC cache nor the remote"
    if policy is not None:
        ok, why = git.verify_signature(root, "commit", saved.commit, policy)
        if not ok:
            return f"the saved commit is not signed by an allowed signer: {why}"
    return None


def _shape_problem(root: Path, original: Experiment, saved: Experiment, claim: dict[str, Any]) -> str | None:
    """Is SAVED a re-run's snapshot, holding evidence its own record agrees with?"""
    if claim.get("commit") != original.commit:
        return "it does not name the experiment it is about"
    parents = git.out(["rev-list", "--parents", "-n", "1", saved.commit], root).split()[1:]
    if parents != [original.commit]:
        return "the saved commit is not a re-run of the experiment (not its child)"
    outputs = claim.get("outputs")
    if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
        return "it holds no evidence (the re-run's output hashes): a bare branch is not a verdict"
    own = {p.path: p.md5 for p in saved.record.outputs}
    if any(own.get(path) != md5 for path, md5 in outputs.items()):
        return "its evidence disagrees with the saved record's outputs"
    if claim.get("stdout_sha256") != (saved.record.stdout or {}).get("sha256"):
        return "its stdout hash disagrees with the saved record's"
    return None


def _decision_problem(original: Experiment, saved: Experiment, claim: dict[str, Any]) -> str | None:
    """Does the verdict decided again from the evidence and the original record match the claim?"""
    rtol, atol = _number(claim.get("rtol")), _number(claim.get("atol"))
    exit_code = claim.get("exit_code")
    decided = verdicts.decide(
        verdicts.compare_outputs(original.record.outputs, dict(claim["outputs"])),
        verdicts.compare_metrics(original.record.metrics, saved.record.metrics, rtol, atol),
        verdicts.compare_exit(original.record.exit_code, exit_code if isinstance(exit_code, int) else -1),
        rtol, atol,
        stdout=verdicts.compare_stdout((original.record.stdout or {}).get("sha256"), str(claim["stdout_sha256"])))
    if decided.verdict != claim.get("verdict"):
        return f"its evidence gives {decided.verdict}, not the {str(claim.get('verdict'))[:40]} it claims"
    return None


def _missing_objects(root: Path, md5s: list[str]) -> list[str]:
    cache = dvc.cache_dir(root)
    absent = [m for m in md5s if not dvc.has_object(cache, m)]
    if not absent:
        return []
    if dvc.default_remote(root) is None:
        return absent
    try:
        return remote_trust.missing_everywhere(root, absent, None)  # asks a trusted remote only
    except MlvError:
        return absent
