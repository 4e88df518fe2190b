"""GTO's tag grammar (iterative/gto `gto/constants.py`), SemVer, and registry references.

Tags, exactly as GTO writes and reads them:
  NAME@vX.Y.Z      register            NAME@vX.Y.Z!      deregister
  NAME#STAGE#N     assign a stage      NAME#STAGE!#N     unassign it
  NAME@deprecated  deprecate the model
N is a counter: the highest counter on any of the model's tags, plus one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlv.errors import MlvError

NAME = r"[a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?"
_SEMVER = (r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
           r"(?:-(?P<prerelease>(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
           r"(?:\+(?P<buildmetadata>[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?")
# GTO writes a monorepo artifact `path/to:name` as `path/to=name` in tags.
_FULLNAME_IN_TAG = rf"(?:[a-zA-Z0-9-_./]+=)?{NAME}"
NAME_RE = re.compile(rf"^{NAME}$")
VERSION_RE = re.compile(rf"^v{_SEMVER}$")
TAG_RE = re.compile(
    rf"^(?P<artifact>{_FULLNAME_IN_TAG})(((#(?P<stage>{NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?))"
    rf"|@((?P<deprecated>deprecated)|(?P<created>created)))(#(?P<counter>[0-9]+))?$"
)
_REF_RE = re.compile(rf"^(?P<name>{NAME})(#(?P<stage>{NAME})|@(?P<version>latest|v{_SEMVER}))$")

REGISTER, DEREGISTER, ASSIGN, UNASSIGN, DEPRECATE, CREATE = (
    "register", "deregister", "assign", "unassign", "deprecate", "create")


class RegistryError(MlvError):
    """Bad input to the registry, or a registry state that forbids the operation; no tag was made."""


@dataclass(frozen=True)
class TagName:
    model: str
    action: str
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def parse_tag(tag: str) -> TagName | None:
    """The registry event a tag name encodes, or None for any other tag."""
    match = TAG_RE.match(tag)
    if not match:
        return None
    model = match["artifact"].replace("=", ":")
    counter = int(match["counter"]) if match["counter"] else None
    cancel = match["cancel"] == "!"
    if match["version"]:
        return TagName(model, DEREGISTER if cancel else REGISTER, version=match["version"], counter=counter)
    if match["stage"]:
        return TagName(model, UNASSIGN if cancel else ASSIGN, stage=match["stage"], counter=counter)
    return TagName(model, DEPRECATE if match["deprecated"] else CREATE, counter=counter)


def check_name(name: str, what: str = "model name") -> str:
    if not NAME_RE.match(name):
        raise RegistryError(f"{what} {name!r} is not valid",
                            hint="Use letters, digits, '-', '_' and '/', starting and ending with a letter or digit.")
    return name


def check_version(version: str) -> str:
    if not VERSION_RE.match(version):
        raise RegistryError(f"version {version!r} is not SemVer with a leading v",
                            hint="Write it like v1.2.3 (or v1.2.3-rc.1).")
    return version


def semver_key(version: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Sort key in SemVer precedence: a release sorts after its pre-releases."""
    match = VERSION_RE.match(version)
    if not match:
        return (-1, -1, -1, 0, ())
    pre = match["prerelease"]
    parts = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ()
    return (int(match["major"]), int(match["minor"]), int(match["patch"]), 0 if pre else 1, parts)


def bump(version: str | None, part: str) -> str:
    """The next version after VERSION (v0.0.1 when there is none)."""
    if version is None:
        return "v0.0.1"
    major, minor, patch = semver_key(version)[:3]
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def register_tag(model: str, version: str) -> str:
    return f"{model.replace(':', '=')}@{version}"


def deregister_tag(model: str, version: str) -> str:
    return f"{register_tag(model, version)}!"


def assign_tag(model: str, stage: str, counter: int) -> str:
    return f"{model.replace(':', '=')}#{stage}#{counter}"


def unassign_tag(model: str, stage: str, counter: int) -> str:
    return f"{model.replace(':', '=')}#{stage}!#{counter}"


def deprecate_tag(model: str) -> str:
    return f"{model.replace(':', '=')}@deprecated"


@dataclass(frozen=True)
class Reference:
    """`NAME`, `NAME@vX.Y.Z`, `NAME@latest` or `NAME#STAGE`."""

    model: str
    version: str | None = None  # a version or "latest"
    stage: str | None = None


def parse_reference(text: str, bare_means_latest: bool = True) -> Reference | None:
    """A registry reference, or None when TEXT is not one. A bare NAME means its latest version."""
    match = _REF_RE.match(text)
    if match:
        return Reference(match["name"], version=match["version"], stage=match["stage"])
    if bare_means_latest and NAME_RE.match(text):
        return Reference(text, version="latest")
    return None
