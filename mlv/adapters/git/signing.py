"""git's own signing: whether the user has a key, and checking a tag's or commit's signature
against an ssh allowed-signers file (the policy, which mlv reads from outside the repository)."""

from __future__ import annotations

from pathlib import Path

from mlv.adapters.git.process import config_get, run


def signing_key(root: Path) -> str | None:
    """The user's signing key (`user.signingkey`), or None: mlv signs tags and verdicts only then."""
    return (config_get(root, "user.signingkey") or "").strip() or None


def verify_signature(root: Path, kind: str, name: str, allowed_signers: Path) -> tuple[bool, str]:
    """(True, signer line) when the KIND ("tag" or "commit") NAME carries an SSH signature by a key
    in ALLOWED_SIGNERS; (False, why) otherwise. OpenPGP and X.509 signatures never pass: their
    trust would come from a keyring, not from the allowed-signers policy."""
    proc = run(["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}", "-c", "gpg.openpgp.program=false",
                "-c", "gpg.x509.program=false", f"verify-{kind}", "--", name], root, check=False)
    lines = [line.strip() for line in proc.stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]
    if proc.returncode == 0 and any(line.startswith("Good") for line in lines):
        return True, next(line for line in lines if line.startswith("Good"))
    return False, "not signed" if not lines else lines[-1]
