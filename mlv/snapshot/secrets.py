"""Refuse a snapshot that would commit a secret: every file about to be committed is scanned.

The scanner is detect-secrets (Yelp's, maintained, offline), with its pattern detectors (cloud
keys, tokens, private keys, `API_KEY=...` assignments). Its two entropy detectors and the public
IP detector are left out: an ML project is full of hashes (md5s in `.dvc` files and `dvc.lock`,
git shas in records, sha256s in lockfiles) and base64 images in notebooks, and a scanner that
refuses those would be switched off. Only the files a snapshot changes are scanned, so a
snapshot with nothing new costs nothing here, and detect-secrets is imported only then.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.errors import MlvError

# Too noisy for ML projects (see the module docstring).
LEFT_OUT_DETECTORS = frozenset({"Base64HighEntropyString", "HexHighEntropyString", "IPPublicDetector"})
MAX_SCANNED_BYTES = 10 * 1024 * 1024  # as large as a file git takes from a snapshot
SHOWN_FINDINGS = 5


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str  # detect-secrets' name for it: "AWS Access Key", "Secret Keyword"

    def describe(self) -> str:
        return f"{self.path}:{self.line} ({self.kind})"


class SecretFoundError(MlvError):
    """A file about to be committed holds what looks like a secret; nothing was committed."""


def scan(root: Path, paths: Iterable[str]) -> list[Finding]:
    """What detect-secrets finds in PATHS (relative to ROOT; deleted or large files are skipped)."""
    todo = [p for p in paths if _scannable(root / p)]
    if not todo:
        return []
    collection, settings = _scanner()
    with settings:
        for rel in todo:
            collection.scan_file(os.fspath(root / rel))
    found = []
    prefix = f"{os.fspath(root)}{os.sep}"
    for filename, secrets in collection.data.items():
        rel = filename.removeprefix(prefix).replace(os.sep, "/")
        found += [Finding(rel, int(secret.line_number or 0), str(secret.type)) for secret in secrets]
    return sorted(found, key=lambda f: (f.path, f.line, f.kind))


def refuse_secrets(root: Path, paths: Iterable[str], allowed: Sequence[str]) -> None:
    """Raise SecretFoundError naming FILE:LINE and the kind of each finding outside ALLOWED files."""
    allowed_set = {a.strip("/") for a in allowed}
    findings = [f for f in scan(root, paths) if f.path not in allowed_set]
    if not findings:
        return
    shown = "; ".join(f.describe() for f in findings[:SHOWN_FINDINGS])
    more = len(findings) - SHOWN_FINDINGS
    extra = f"; and {more} more" if more > 0 else ""
    first = findings[0].path
    raise SecretFoundError(
        f"refusing to commit what looks like a secret: {shown}{extra}; nothing was committed",
        hint=f"Remove it (keep keys in an ignored file such as .env, listed in .gitignore), or pass "
             f"--allow-secret {first} if it is not one.")


def _scannable(path: Path) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False  # deleted by the commit: nothing to scan
    return os.path.isfile(path) and not os.path.islink(path) and st.st_size <= MAX_SCANNED_BYTES


def _scanner() -> tuple[Any, AbstractContextManager[Any]]:
    """A fresh SecretsCollection and the settings context to scan with (detect-secrets imported here)."""
    try:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.secrets_collection import SecretsCollection
        from detect_secrets.settings import transient_settings
    except ImportError:
        raise MlvError("detect-secrets is not installed, so the files about to be committed cannot be "
                       "checked for secrets; nothing was committed",
                       hint="Install it: `pip install detect-secrets` (mlv depends on it).") from None
    detectors: list[type[Any]] = list(get_mapping_from_secret_type_to_class().values())
    plugins = [{"name": cls.__name__} for cls in detectors if cls.__name__ not in LEFT_OUT_DETECTORS]
    return SecretsCollection(), transient_settings({"plugins_used": plugins})
