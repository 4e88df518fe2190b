"""Capture the Python environment an experiment runs in, as a lockfile pip can install from.

The interpreter captured is the one the experiment uses (the command's `python`, or the configured
one), which need not be mlv's own. We ask it, in a subprocess, for its version, platform and every
installed distribution; the answer is cached by the interpreter's site folders' mtimes, which
change whenever a package is installed, removed or upgraded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlv import cachefile
from mlv.errors import MlvError

LOCKFILE_DIR = ".mlv/env"
PROJECT_LOCKFILE_PATTERNS = (
    "uv.lock", "poetry.lock", "requirements*.txt", "Pipfile.lock", "pylock.toml", "environment.yml",
)

_ENV_CACHE_VERSION = 1
_PROBE = r"""
import json, platform, sys
try:
    import importlib.metadata as md
except ImportError:
    md = None
def headers(dist):
    # What dist.metadata["Name"] and dist.version give, without parsing the whole file (a long
    # description included) as an email message, twice, for each of a few hundred distributions.
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("") or ""
    found = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, colon, value = line.partition(":")
        if colon and not line[0].isspace():
            found.setdefault(key.strip().lower(), value.strip())
    return found.get("name"), found.get("version")
packages, paths = [], sorted({p for p in sys.path if p})
for dist in (md.distributions() if md else []):
    name, version = headers(dist)
    if not name:
        continue
    direct = dist.read_text("direct_url.json")
    packages.append({"name": name, "version": version,
                     "direct_url": json.loads(direct) if direct else None})
print(json.dumps({
    "python": platform.python_version(),
    "implementation": platform.python_implementation(),
    "os": platform.system(),
    "platform": platform.platform(),
    "machine": platform.machine(),
    "executable": sys.executable,
    "paths": paths,
    "packages": packages,
}))
"""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    source: str | None = None  # a URL for packages installed from a path or VCS
    editable: bool = False

    @property
    def key(self) -> str:
        return normalize_name(self.name)


@dataclass
class Environment:
    """A Python environment, as captured from an interpreter or as an experiment record pins it.

    Capturing fills the facts and `packages`. A record adds where the lockfile sits in the commit
    (`lockfile`, `lockfile_sha256`) and the project's own lockfiles; read back from a record,
    `packages` is None until the commit's lockfile is read, and stays None if it cannot be.
    """

    python: str
    implementation: str
    os: str
    platform: str
    machine: str
    interpreter: str
    packages: list[Package] | None = field(default_factory=list)
    lockfile: str = ""  # path inside the commit
    lockfile_sha256: str = ""
    project_lockfiles: dict[str, str] = field(default_factory=dict)  # path -> sha256

    def package_versions(self) -> dict[str, str]:
        return {p.key: p.version for p in self.packages or []}

    def to_json(self, with_packages: bool = False) -> dict[str, Any]:
        """The record's `environment` object; WITH_PACKAGES adds name -> version, as `mlv show --json`
        does (the record itself leaves the package list to the lockfile)."""
        doc: dict[str, Any] = {
            "python": self.python, "implementation": self.implementation, "os": self.os,
            "platform": self.platform, "machine": self.machine, "interpreter": self.interpreter,
            "lockfile": self.lockfile, "lockfile_sha256": self.lockfile_sha256,
            "project_lockfiles": dict(self.project_lockfiles),
        }
        if with_packages:
            doc["packages"] = self.package_versions()
        return doc


def normalize_name(name: str) -> str:
    """PEP 503 normalisation, so `Scikit_Learn` and `scikit-learn` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _python_word(word: str) -> bool:
    return re.fullmatch(r"python(\d+(\.\d+)?)?(\.exe)?", os.path.basename(word)) is not None


@dataclass(frozen=True)
class Interpreter:
    """The interpreter an experiment runs under, and whether it is the repository's own code."""

    path: str  # absolute, executable
    named: str  # as the command or the configuration names it
    from_repository: bool

    def why_not_run(self, what: str) -> str:
        """A note for WHAT (a command) that did not run this interpreter, and why."""
        return (f"the Python environment was not captured: the interpreter {self.named!r} is inside "
                f"the repository, and {what} runs nothing from a repository without your consent")


def resolve_interpreter(command: str | None, configured: str, cwd: Path) -> Interpreter:
    """The interpreter COMMAND runs under (when it starts with python), else CONFIGURED, and whether
    it is repository content (see `_from_repository`)."""
    candidate = configured
    if command:
        try:
            words = shlex.split(command)
        except ValueError:
            words = []
        words = [w for w in words if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", w)]
        if words and _python_word(words[0]):
            candidate = words[0]
    found = candidate if os.path.sep in candidate else shutil.which(candidate)
    if found and not os.path.isabs(found):
        found = str((cwd / found).resolve())
    if not found or not os.access(found, os.X_OK):
        raise MlvError(
            f"python interpreter {candidate!r} not found",
            hint="Activate the experiment's environment, or set `python:` in .mlv/config.yaml.",
        )
    return Interpreter(found, candidate, _from_repository(candidate, found, cwd))


def _from_repository(named: str, found: str, root: Path) -> bool:
    """Whether the interpreter is the repository's content, which a clone makes untrusted.

    A bare name (`python3`) is looked up on the user's PATH: whatever it finds is the user's
    choice, even a virtual environment inside the project. A relative path is a file of the
    repository. An absolute path is the repository's when it, or what its symlinks lead to, lies
    inside the work tree; elsewhere it is the user's own interpreter.
    """
    if os.path.sep not in named:
        return False
    if not os.path.isabs(named):
        return True
    top = os.path.realpath(root)
    for path in (os.path.normpath(named), os.path.realpath(found)):
        if path == top or path.startswith(top.rstrip(os.path.sep) + os.path.sep):
            return True
    literal = os.path.abspath(root)
    return os.path.normpath(named).startswith(literal.rstrip(os.path.sep) + os.path.sep)


def _cache_key(interpreter: str) -> str:
    return hashlib.sha256(os.path.realpath(interpreter).encode()).hexdigest()[:16] + interpreter[-8:]


def _mtimes(paths: list[str]) -> list[int]:
    """Modification times of the interpreter and of its package folders. Installing, removing or
    upgrading a distribution adds or removes a *.dist-info folder there, which changes them.
    Other sys.path entries (a project checkout) change all the time and say nothing."""
    stamps = []
    for p in paths:
        if p != paths[0] and not p.rstrip("/").endswith(("site-packages", "dist-packages")):
            continue
        try:
            stamps.append(os.stat(p).st_mtime_ns)
        except OSError:
            stamps.append(0)
    return stamps


def capture(interpreter: str, cache_dir: Path | None) -> Environment:
    """The environment of INTERPRETER (cached in CACHE_DIR while its site folders are unchanged)."""
    cache_file = cache_dir / f"env-{_cache_key(interpreter).replace('/', '_')}.json" if cache_dir else None
    doc = _cached_probe(cache_file, interpreter) if cache_file else None
    if doc is None:
        doc = _probe(interpreter)
        if cache_file:
            stamp = _mtimes([interpreter, *doc["paths"]])
            cachefile.write(cache_file, {"stamp": stamp, "doc": doc}, _ENV_CACHE_VERSION)
    return _environment_from(doc, interpreter)


def _cached_probe(cache_file: Path, interpreter: str) -> dict[str, Any] | None:
    """The probe remembered for INTERPRETER while its site folders are unchanged."""
    cached = cachefile.read(cache_file, _ENV_CACHE_VERSION)
    try:
        if cached and cached["stamp"] == _mtimes([interpreter, *cached["doc"]["paths"]]):
            return dict(cached["doc"])
    except (KeyError, TypeError):
        pass
    return None


def _probe(interpreter: str) -> dict[str, Any]:
    try:
        proc = subprocess.run([interpreter, "-I", "-c", _PROBE], capture_output=True, check=False,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MlvError(f"cannot run {interpreter} to capture its environment: {exc}") from None
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise MlvError(f"{interpreter} failed while capturing its environment: {last}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _environment_from(doc: dict[str, Any], interpreter: str) -> Environment:
    packages: dict[str, Package] = {}
    for item in doc["packages"]:
        pkg = _package_from(item)
        packages.setdefault(pkg.key, pkg)  # the first on sys.path wins, as at import time
    return Environment(
        python=doc["python"], implementation=doc["implementation"], os=doc["os"],
        platform=doc["platform"], machine=doc["machine"], interpreter=interpreter,
        packages=sorted(packages.values(), key=lambda p: p.key),
    )


def _package_from(item: dict[str, Any]) -> Package:
    direct = item.get("direct_url")
    if not direct:
        return Package(item["name"], item["version"])
    url = without_credentials(str(direct.get("url", "")))
    editable = bool(direct.get("dir_info", {}).get("editable"))
    vcs = direct.get("vcs_info")
    if vcs:
        url = f"{vcs['vcs']}+{url}@{vcs.get('commit_id', '')}".rstrip("@")
    return Package(item["name"], item["version"], source=url, editable=editable)


# Query parameters that carry a secret in the URLs package indexes and object stores hand out:
# `?token=`, `?access_token=`, `?private_token=`, S3's `X-Amz-Signature`, GCS' `X-Goog-Credential`,
# Azure's SAS `sig`, and the like.
_SECRET_PARAMETER = re.compile(r"token|secret|passw|pwd|key|sig|credential|auth|session|x-amz-|x-goog-",
                               re.IGNORECASE)


def without_credentials(url: str) -> str:
    """URL without the credentials a lockfile must never hold (it is committed and shared): the
    user info (`https://user:TOKEN@host`, `https://TOKEN@host`) and secret query parameters.

    An ssh login name without a password (`ssh://git@host`) is an account, not a secret, and stays.
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        keep_user = "ssh" in parts.scheme and ":" not in userinfo and not userinfo.startswith("${")
        netloc = f"{userinfo}@{host}" if keep_user else host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if not _SECRET_PARAMETER.search(k)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- the lockfile --------------------------------------------------------------------------------


def render_lockfile(env: Environment) -> bytes:
    """A deterministic requirements file: same environment, same bytes (and so the same blob)."""
    lines = [
        "# mlv environment lockfile: install with `pip install -r THIS_FILE`",
        f"# python {env.python} ({env.implementation}) on {env.os} {env.machine}",
        f"# platform {env.platform}",
    ]
    for pkg in env.packages or []:
        if pkg.editable and pkg.source:
            lines.append(f"-e {pkg.source}  # {pkg.name}=={pkg.version}")
        elif pkg.source:
            lines.append(f"{pkg.name} @ {pkg.source}  # {pkg.name}=={pkg.version}")
        else:
            lines.append(f"{pkg.name}=={pkg.version}")
    return ("\n".join(lines) + "\n").encode("utf-8")


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")
_SOURCE = re.compile(r"#\s*([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s*$")


def packages_from_lockfile(data: bytes) -> list[Package]:
    """The packages pinned by a lockfile, as far as a diff or a record reader needs them."""
    return [Package(name, version) for name, version in parse_lockfile(data).items()]


def parse_lockfile(data: bytes) -> dict[str, str]:
    """Package name (normalised) -> version, from a lockfile written by `render_lockfile`."""
    versions: dict[str, str] = {}
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        match = _PIN.match(line) or _SOURCE.search(line)
        if match:
            versions[normalize_name(match.group(1))] = match.group(2)
    return versions


def lockfile_path(data: bytes) -> str:
    """Content-addressed, so two branches that change the environment never conflict on merge."""
    return f"{LOCKFILE_DIR}/requirements-{hashlib.sha256(data).hexdigest()[:12]}.txt"
