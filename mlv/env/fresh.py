"""`--env fresh`: a virtual environment built from an experiment's lockfile, cached by its hash.

Built once per (lockfile sha256, base Python) under `$XDG_CACHE_HOME/mlv/envs/` (default
`~/.cache/mlv/envs/`), so a second reproduce of the same environment reuses it. A venv is not
relocatable (its scripts hold absolute paths), so it is built in place; a marker file written
last tells a complete build from one that was interrupted, which is thrown away and rebuilt.

The lockfile comes from a commit, which may come from anyone: the installer never reads it. Only
lines that are plain requirements (`name==version`, `name @ url`) are passed, as arguments; options
(`--index-url`, `-e`, `-r`, ...) and anything else are dropped, and both the dropped lines and the
requirements that install from outside the package index are shown before the user confirms.

Lines that install from a path of the machine that made the experiment (`-e file:///home/me/src/x`,
`x @ file:///...`) cannot be installed anywhere else: they are never passed either, and the user
decides before anything is built to skip each one or substitute a path of their own
(`settle_local_lines`). An environment altered that way is not the recorded one, and the verdict
says so.

The installer is uv when there is one (much faster), else pip; `MLV_INSTALLER=pip` forces pip. It
runs from the environment cache's folder, never from the repository, so a committed `uv.toml` or
`pyproject.toml` cannot configure it.
"""

from __future__ import annotations

import collections
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mlv.env.environment import normalize_name
from mlv.errors import EXIT_CANNOT_RUN, MlvError
from mlv.locking import locked

_COMPLETE = ".mlv-complete"
_PYTHON_WORD = re.compile(r"python(\d+(\.\d+)?)?")
_LEADING_WORD = re.compile(r"^(\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)([^\s;&|()<>'\"]+)(?=\s|$)")


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,\s-]*\])?"
_MARKER = r"(?:\s*;[^#]*)?"
_PINNED = re.compile(rf"{_NAME}\s*==\s*[A-Za-z0-9.+!*_-]+{_MARKER}")
_DIRECT = re.compile(rf"({_NAME})\s*@\s*(\S+){_MARKER}")
_EDITABLE = re.compile(r"(?:-e|--editable)(?:\s+|=)(\S+)")
_PIN_COMMENT = re.compile(r"#\s*([A-Za-z0-9][A-Za-z0-9._-]*)==\S+\s*$")  # how capture names a -e line
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")

INSTALLER_ENV = "MLV_INSTALLER"  # "pip" forces pip; "uv" insists on uv


@dataclass(frozen=True)
class LocalLine:
    """A lockfile line that installs from a path of the machine that made the experiment."""

    name: str  # the package it installs
    line: str  # as written in the lockfile
    editable: bool
    target: str = ""  # the path or file: URL it names

    def path_here(self) -> str | None:
        """The line's own path when it exists on this machine (the same checkout, or a shared
        disk): installing from it needs no choice of the user's."""
        path = self.target.split("#")[0]
        if path.startswith("file:"):
            from urllib.parse import unquote, urlsplit

            path = unquote(urlsplit(path).path)
        return path if path.startswith("/") and os.path.exists(path) else None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "line": self.line, "editable": self.editable, "path_here": self.path_here()}


@dataclass(frozen=True)
class LockfileContents:
    """What `--env fresh` will install from a lockfile, and what it will not."""

    requirements: list[str] = field(default_factory=list)  # passed to the installer, one argument each
    outside_index: list[str] = field(default_factory=list)  # among them: from a URL
    ignored: list[str] = field(default_factory=list)  # never passed to the installer
    local: list[LocalLine] = field(default_factory=list)  # never passed: skipped or substituted


def read_lockfile(data: bytes) -> LockfileContents:
    """Sort LOCKFILE's lines into requirements to install, local paths, and lines never passed."""
    found = LockfileContents()
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()  # pip's comment rule: `#` after a space
        if not line:
            continue
        # No ${VAR} (pip expands it, leaking the user's variables into a URL) and no continuation
        # (it would join an option to the line).
        expands = re.search(r"\$\{|\\", line) is not None
        # No option either (a word starting with -), except the one `-e PATH` a local line is.
        suspicious = expands or re.search(r"(^|\s)-", line) is not None
        local = None if expands else _local_line(raw.strip(), line)
        if local is not None:
            found.local.append(local)
        elif not suspicious and _PINNED.fullmatch(line):
            found.requirements.append(line)
        elif not suspicious and _DIRECT.fullmatch(line):
            found.requirements.append(line)
            found.outside_index.append(line)
        else:
            found.ignored.append(raw.strip())
    return found


def _is_local_target(target: str) -> bool:
    """A `file:` URL or an absolute path: where a package sat on the recording machine. A
    relative path is the repository's own content, never installed (it stays ignored)."""
    return target.startswith(("file:", "/"))


def _local_line(raw: str, line: str) -> LocalLine | None:
    editable = _EDITABLE.fullmatch(line)
    if editable and _is_local_target(editable.group(1)):
        target = editable.group(1)
        named = _PIN_COMMENT.search(raw) or _EGG.search(target)
        name = named.group(1) if named else os.path.basename(target.split("#")[0].rstrip("/")) or target
        return LocalLine(name, raw, editable=True, target=target)
    direct = _DIRECT.fullmatch(line)
    if direct and re.search(r"(^|\s)-", line) is None and _is_local_target(direct.group(2)):
        return LocalLine(direct.group(1).split("[")[0], raw, editable=False, target=direct.group(2))
    return None


# -- local lines: skip or substitute ------------------------------------------------------------


@dataclass(frozen=True)
class Alteration:
    """A local lockfile line left out of the fresh environment, or replaced by a path of the user's."""

    name: str
    line: str
    substitute: str | None = None  # the absolute path installed instead; None: skipped

    def describe(self) -> str:
        if self.substitute is None:
            return f"{self.name} skipped (lockfile: {self.line})"
        return f"{self.name} installed from {self.substitute} (lockfile: {self.line})"

    def requirement(self) -> str | None:
        return None if self.substitute is None else f"{self.name} @ {Path(self.substitute).as_uri()}"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "line": self.line, "substitute": self.substitute}


CHOICE_OPTIONS = "--skip-local, or --substitute NAME=PATH for each"


def settle_local_lines(contents: LockfileContents, skip_local: bool, substitutes: dict[str, str],
                       skipped: Collection[str] = ()) -> list[Alteration]:
    """What happens to each local line: substituted by SUBSTITUTES (name -> path), else skipped
    with SKIP_LOCAL or when SKIPPED names it, else installed from its own path when that exists
    here; a line with none of these refuses the run (exit 2), naming it and the options."""
    by_name = {normalize_name(local.name): local for local in contents.local}
    for name, path in substitutes.items():
        if normalize_name(name) not in by_name:
            known = ", ".join(sorted(local.name for local in contents.local)) or "none"
            raise MlvError(f"--substitute {name}=...: the lockfile has no local line for {name!r} "
                           f"(local lines: {known})", exit_code=EXIT_CANNOT_RUN)
        if not os.path.exists(path):
            raise MlvError(f"--substitute {name}={path}: there is no such file or folder",
                           hint="Give the path of a checkout, a wheel or an sdist of the package.",
                           exit_code=EXIT_CANNOT_RUN)
    wanted = {normalize_name(name): os.path.abspath(path) for name, path in substitutes.items()}
    skip = {normalize_name(name) for name in skipped}
    for key, local in by_name.items():
        here = local.path_here()
        if here is not None and key not in skip and not skip_local:
            wanted.setdefault(key, here)
    unsettled = [local for key, local in by_name.items() if key not in wanted and key not in skip and not skip_local]
    if unsettled:
        names = ", ".join(local.name for local in unsettled)
        raise MlvError(f"the lockfile installs {names} from a path of the machine that recorded it, "
                       f"which cannot be installed here: pass {CHOICE_OPTIONS}",
                       hint="Or use --env current.", exit_code=EXIT_CANNOT_RUN)
    return [Alteration(local.name, local.line, wanted.get(key)) for key, local in by_name.items()]


# -- the installer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildProgress:
    """Where a fresh environment's build is: the installer's current step and a package count."""

    installer: str  # "uv" or "pip"
    step: str  # in words: "resolving", "downloading", "installing", "installed"
    done: int  # packages through this step so far
    total: int  # packages to install


def find_installer() -> tuple[str, list[str]]:
    """("uv", [uv, "pip"]) when uv is there (on PATH, or the `uv` package's), else pip's; see
    INSTALLER_ENV."""
    wanted = os.environ.get(INSTALLER_ENV, "").strip().lower()
    if wanted not in ("", "uv", "pip"):
        raise MlvError(f"{INSTALLER_ENV} must be 'uv' or 'pip', not {wanted!r}", exit_code=EXIT_CANNOT_RUN)
    if wanted != "pip":
        uv = _uv_binary()
        if uv is not None:
            return "uv", [uv, "pip"]
        if wanted == "uv":
            raise MlvError(f"{INSTALLER_ENV}=uv, but uv is not installed",
                           hint="Install it (`pip install 'mlv-vcs[fast]'`) or unset the variable to use pip.",
                           exit_code=EXIT_CANNOT_RUN)
    return "pip", [sys.executable, "-m", "pip"]


def _uv_binary() -> str | None:
    found = shutil.which("uv")
    if found:
        return found
    try:
        import uv  # type: ignore[import-not-found,unused-ignore]

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


# pip's settings a user may have in the environment, as uv calls them: the same package index.
_PIP_TO_UV = {"PIP_INDEX_URL": "UV_INDEX_URL", "PIP_EXTRA_INDEX_URL": "UV_EXTRA_INDEX_URL",
              "PIP_FIND_LINKS": "UV_FIND_LINKS", "PIP_NO_INDEX": "UV_NO_INDEX"}


def install_command(installer: str, base: list[str], python: Path, requirements: Sequence[str]) -> list[str]:
    """The installer's argv for REQUIREMENTS into PYTHON's environment, nothing else installed.

    --no-deps: the lockfile lists every package; nothing it does not show is installed. `--` ends
    the options, though no requirement kept can start with a dash anyway.
    """
    if installer == "uv":
        return [*base, "install", "--python", str(python), "--no-deps", "--", *requirements]
    return [*base, "--python", str(python), "install", "--no-deps", "--disable-pip-version-check",
            "--no-input", "--", *requirements]


def installer_env(installer: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"  # pip's lines as they happen, for the progress
    if installer == "uv":
        for pip_name, value in pip_index_settings().items():
            uv_name = _PIP_TO_UV[pip_name]
            if uv_name not in env:
                env[uv_name] = value
                if pip_name == "PIP_EXTRA_INDEX_URL":  # pip picks the best version across all indexes
                    env.setdefault("UV_INDEX_STRATEGY", "unsafe-best-match")
        env.setdefault("UV_NO_PROGRESS", "1")
    return env


def pip_index_settings() -> dict[str, str]:
    """Where pip would look for packages, as PIP_* names: pip's own configuration files (`pip
    config list`: pip.conf of the user, the site and the system) under the environment's PIP_*
    variables, which win as they do for pip. uv reads none of pip's files, so without this a
    machine whose pip uses a mirror sends uv to an index it cannot reach. Local indexes and
    find-links folders that do not exist are dropped, as pip skips them with a warning."""
    found: dict[str, str] = {}
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                          check=False, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, timeout=60)
    for line in proc.stdout.splitlines():
        name, equals, quoted = line.partition("=")
        option = name.rpartition(".")[2]
        section = name.rpartition(".")[0]
        pip_name = f"PIP_{option.upper().replace('-', '_')}"
        if equals and pip_name in _PIP_TO_UV and section in ("global", "install", ":env:"):
            found[pip_name] = quoted.strip().strip("'\"")  # later lines (install, env) override
    for pip_name in _PIP_TO_UV:
        if pip_name in os.environ:
            found[pip_name] = os.environ[pip_name]
    for pip_name in ("PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_INDEX_URL"):
        if pip_name in found:
            kept = " ".join(item for item in found[pip_name].split() if _reachable_location(item))
            if kept:
                found[pip_name] = kept
            else:
                del found[pip_name]
    return found


def _reachable_location(item: str) -> bool:
    """A URL, or a local folder or file: URL that exists."""
    if item.startswith("file:"):
        from urllib.parse import unquote, urlsplit

        return os.path.exists(unquote(urlsplit(item).path))
    return "://" in item or os.path.exists(item)


class _StepReader:
    """Turns the installer's output lines into BuildProgress: pip says `Collecting x` per package,
    uv says `Resolved N packages`, `Prepared N`, `Installed N`."""

    _UV: ClassVar[dict[str, str]] = {"Resolved": "resolved", "Prepared": "downloaded", "Installed": "installed"}

    def __init__(self, installer: str, total: int) -> None:
        self.installer, self.total = installer, total
        self.step, self.done = "resolving" if installer == "uv" else "downloading", 0

    def read(self, line: str) -> BuildProgress | None:
        text = line.strip()
        word = text.split(" ", 1)[0]
        if self.installer == "uv" and word in self._UV:
            count = re.match(r"\w+ (\d+) package", text)
            self.step, self.done = self._UV[word], int(count.group(1)) if count else self.done
        elif self.installer == "pip" and word in ("Collecting", "Processing"):
            self.step, self.done = "downloading", min(self.done + 1, self.total)
        elif self.installer == "pip" and text.startswith("Installing collected packages"):
            self.step, self.done = "installing", self.done
        elif self.installer == "pip" and text.startswith("Successfully installed"):
            self.step, self.done = "installed", self.total
        else:
            return None
        return self.now()

    def now(self) -> BuildProgress:
        return BuildProgress(self.installer, self.step, self.done, self.total)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlv" / "envs"


def _python_version(interpreter: str) -> str:
    proc = subprocess.run([interpreter, "-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MlvError(f"cannot run the interpreter {interpreter}")
    return proc.stdout.strip()


def ensure_environment(lockfile: bytes, base_python: str, notify: Callable[[str], None] | None = None,
                       alterations: Sequence[Alteration] = (),
                       progress: Callable[[BuildProgress], None] | None = None) -> Path:
    """The folder of a venv holding exactly LOCKFILE's packages, built with BASE_PYTHON if needed.

    ALTERATIONS (from `settle_local_lines`) leave local lines out or install the user's paths
    instead; such an environment is keyed apart from the unaltered one, and rebuilt on every use
    when it substitutes a path, whose content may have changed since. PROGRESS hears each step.
    """
    version = _python_version(base_python)
    spec = "".join(f"\n{a.name}={a.substitute or ''}" for a in alterations).encode()
    key = f"{hashlib.sha256(lockfile + spec).hexdigest()[:32]}-py{version}"
    venv = cache_root() / key
    substituted = any(a.substitute is not None for a in alterations)
    # One builder per environment at a time; a second reproduce waits, then reuses it.
    with locked(cache_root() / f"{key}.lock"):
        if (venv / _COMPLETE).exists() and not substituted:
            return venv
        installer, base = find_installer()
        if notify:
            notify(f"Building a fresh environment from the lockfile in {venv} with {installer}"
                   + ("" if substituted else " (first time only)"))
        _create_venv(base_python, venv, lockfile)
        requirements = read_lockfile(lockfile).requirements
        requirements += [r for r in (a.requirement() for a in alterations) if r is not None]
        if requirements:
            try:
                _install(installer, install_command(installer, base, venv / "bin" / "python", requirements),
                         len(requirements), progress)
            except MlvError as exc:
                # uv reads its own configuration, not pip.conf, and takes a package from the first
                # index that has it: what pip installs may still be out of its reach.
                if installer != "uv" or os.environ.get(INSTALLER_ENV, "").strip().lower() == "uv":
                    raise
                if notify:
                    notify(f"uv could not install the lockfile ({exc.message.split(': ', 1)[-1]}); "
                           f"building with pip instead (set {INSTALLER_ENV}=pip to skip uv)")
                _create_venv(base_python, venv, lockfile)
                _install("pip", install_command("pip", [sys.executable, "-m", "pip"], venv / "bin" / "python",
                                                requirements), len(requirements), progress)
        (venv / _COMPLETE).write_text(version + "\n")
    return venv


def _create_venv(base_python: str, venv: Path, lockfile: bytes) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    # --without-pip: the environment must hold the lockfile's packages and nothing else (a
    # lockfile that pins pip gets it installed like any other package), so the installer is
    # driven from outside with `--python`.
    _run([base_python, "-m", "venv", "--without-pip", str(venv)], "create the virtual environment")
    (venv / "mlv-lockfile.txt").write_bytes(lockfile)  # for whoever inspects the folder


def _install(installer: str, argv: list[str], total: int, progress: Callable[[BuildProgress], None] | None) -> None:
    """Run the installer, telling PROGRESS each step it reports; its last line on failure."""
    reader = _StepReader(installer, total)
    if progress:
        progress(reader.now())
    tail: collections.deque[str] = collections.deque(maxlen=20)
    # From the cache's folder: a repository's uv.toml or pyproject.toml must not configure uv.
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                          env=installer_env(installer), cwd=cache_root(), stdin=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE
        for line in proc.stdout:
            if line.strip():
                tail.append(line.rstrip())
            event = reader.read(line)
            if event is not None and progress:
                progress(event)
    if proc.returncode != 0:
        errors = [line for line in tail if re.match(r"\s*(error|ERROR)\b", line)]
        detail = (errors or list(tail) or [f"exit code {proc.returncode}"])[-1].strip()
        detail = re.sub(r"^(error|ERROR):\s*", "", detail)  # one `error:` per line, mlv's own
        raise MlvError(f"cannot install the lockfile's packages for --env fresh ({installer}): {detail}",
                       hint="Check that the lockfile's packages are installable here, or use --env current.")


def _run(argv: list[str], what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [line for line in (proc.stderr or proc.stdout).strip().splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit code {proc.returncode}"
        raise MlvError(f"cannot {what} for --env fresh: {detail}",
                       hint="Check that the lockfile's packages are installable here, or use --env current.")


def command_env(venv: Path) -> dict[str, str]:
    """The process environment of a command run inside VENV (as `source bin/activate` would)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHOME"}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def rewrite_command(command: str, venv: Path) -> str:
    """COMMAND with a leading `python`/`/path/to/python3` replaced by the venv's interpreter.

    A recorded command often names its interpreter by absolute path; run as recorded it would
    ignore the fresh environment. Only that first word is replaced, textually, so shell syntax
    later in the command (`&&`, pipes, quotes) is kept exactly; later bare `python` words find the
    venv first on PATH anyway.
    """
    match = _LEADING_WORD.match(command)
    if match and _PYTHON_WORD.fullmatch(os.path.basename(match.group(2))):
        return command[: match.start(2)] + shlex.quote(str(venv / "bin" / "python")) + command[match.end(2):]
    return command
