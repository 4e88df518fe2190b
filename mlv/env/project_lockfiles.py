"""The project's own lockfiles (uv.lock, poetry.lock, requirements*.txt, ...): fingerprint and check.

mlv records each one's sha256 with an experiment, and warns when the environment that ran the
experiment disagrees with the versions the project pins.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from mlv import toml
from mlv.env.environment import PROJECT_LOCKFILE_PATTERNS, normalize_name

_REQ_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([^\s;#\\]+)")


def find(root: Path) -> dict[str, str]:
    """Lockfile path (relative) -> sha256 for every project lockfile at the repository root."""
    found: dict[str, str] = {}
    for pattern in PROJECT_LOCKFILE_PATTERNS:
        for path in sorted(root.glob(pattern)):
            if path.is_file():
                found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def pinned_versions(path: Path) -> dict[str, str]:
    """Name -> version pinned by one lockfile; empty for formats we do not read (environment.yml)."""
    name = path.name
    try:
        if name.endswith(".txt"):
            return _requirements(path.read_text("utf-8", errors="replace"))
        if name in ("uv.lock", "poetry.lock", "pylock.toml"):
            doc = toml.loads(path.read_text("utf-8"))
            key = "packages" if name == "pylock.toml" else "package"
            return {normalize_name(p["name"]): str(p["version"]) for p in doc.get(key, [])
                    if "name" in p and "version" in p}
        if name == "Pipfile.lock":
            doc = json.loads(path.read_text("utf-8"))
            return _pipfile(doc)
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {}


def _requirements(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        match = _REQ_PIN.match(line)
        if match:
            pins[normalize_name(match.group(1))] = match.group(3)
    return pins


def _pipfile(doc: dict[str, Any]) -> dict[str, str]:
    pins = {}
    for section in ("default", "develop"):
        for name, spec in doc.get(section, {}).items():
            version = str(spec.get("version", "")).removeprefix("==")
            if version:
                pins[normalize_name(name)] = version
    return pins


def disagreements(root: Path, lockfiles: dict[str, str], installed: dict[str, str]) -> list[str]:
    """One line per package whose installed version differs from a project lockfile's pin."""
    lines = []
    for rel in lockfiles:
        for name, pinned in sorted(pinned_versions(root / rel).items()):
            have = installed.get(name)
            if have is not None and have != pinned:
                lines.append(f"{rel} pins {name}=={pinned} but {have} is installed")
            elif have is None and rel.endswith(".txt"):
                lines.append(f"{rel} pins {name}=={pinned} but it is not installed")
    return lines
