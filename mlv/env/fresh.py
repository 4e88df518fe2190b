"""`--env fresh`: a virtual environment built from an experiment's lockfile, cached by its hash.

Built once per (lockfile sha256, base Python) under `$XDG_CACHE_HOME/mlv/envs/` (default
`~/.cache/mlv/envs/`), so a second reproduce of the same environment reuses it. A venv is not
relocatable (its scripts hold absolute paths), so it is built in place; a marker file written
last tells a complete build from one that was interrupted, which is thrown away and rebuilt.

The lockfile comes from a commit, which may come from anyone: pip never reads it. Only lines that
are plain requirements (`name==version`, `name @ url`) are passed, as arguments; options
(`--index-url`, `-e`, `-r`, ...) and anything else are dropped, and both the dropped lines and the
requirements that install from outside the package index are shown before the user confirms.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlv.errors import MlvError
from mlv.locking import locked

_COMPLETE = ".mlv-complete"
_PYTHON_WORD = re.compile(r"python(\d+(\.\d+)?)?")
_LEADING_WORD = re.compile(r"^(\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)([^\s;&|()<>'\"]+)(?=\s|$)")


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,\s-]*\])?"
_MARKER = r"(?:\s*;[^#]*)?"
_PINNED = re.compile(rf"{_NAME}\s*==\s*[A-Za-z0-9.+!*_-]+{_MARKER}")
_DIRECT = re.compile(rf"{_NAME}\s*@\s*\S+{_MARKER}")


@dataclass(frozen=True)
class LockfileContents:
    """What `--env fresh` will install from a lockfile, and what it will not."""

    requirements: list[str] = field(default_factory=list)  # passed to pip, one argument each
    outside_index: list[str] = field(default_factory=list)  # among them: from a URL or a path
    ignored: list[str] = field(default_factory=list)  # never passed to pip


def read_lockfile(data: bytes) -> LockfileContents:
    """Sort LOCKFILE's lines into requirements pip may install and lines it must never see."""
    found = LockfileContents()
    for raw in data.decode("utf-8", errors="replace").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()  # pip's comment rule: `#` after a space
        if not line:
            continue
        # No option (a word starting with -), no ${VAR} (pip expands it, leaking the user's
        # variables into a URL) and no continuation (it would join an option to the line).
        suspicious = re.search(r"(^|\s)-|\$\{|\\", line) is not None
        if not suspicious and _PINNED.fullmatch(line):
            found.requirements.append(line)
        elif not suspicious and _DIRECT.fullmatch(line):
            found.requirements.append(line)
            found.outside_index.append(line)
        else:
            found.ignored.append(raw.strip())
    return found


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlv" / "envs"


def _python_version(interpreter: str) -> str:
    proc = subprocess.run([interpreter, "-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise MlvError(f"cannot run the interpreter {interpreter}")
    return proc.stdout.strip()


def ensure_environment(lockfile: bytes, base_python: str, notify: Callable[[str], None] | None = None) -> Path:
    """The folder of a venv holding exactly LOCKFILE's packages, built with BASE_PYTHON if needed."""
    version = _python_version(base_python)
    key = f"{hashlib.sha256(lockfile).hexdigest()[:32]}-py{version}"
    venv = cache_root() / key
    # One builder per environment at a time; a second reproduce waits, then reuses it.
    with locked(cache_root() / f"{key}.lock"):
        if (venv / _COMPLETE).exists():
            return venv
        if notify:
            notify(f"Building a fresh environment from the lockfile in {venv} (first time only)")
        shutil.rmtree(venv, ignore_errors=True)
        # --without-pip: the environment must hold the lockfile's packages and nothing else (a
        # lockfile that pins pip gets it installed like any other package), so pip is driven from
        # outside with `--python`.
        _run([base_python, "-m", "venv", "--without-pip", str(venv)], "create the virtual environment")
        (venv / "mlv-lockfile.txt").write_bytes(lockfile)  # for whoever inspects the folder
        requirements = read_lockfile(lockfile).requirements
        if requirements:
            # --no-deps: the lockfile lists every package; nothing it does not show is installed.
            # `--` ends pip's options, though no requirement kept can start with a dash anyway.
            _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                  "--quiet", "--no-deps", "--disable-pip-version-check", "--no-input", "--", *requirements],
                 "install the lockfile's packages")
        (venv / _COMPLETE).write_text(version + "\n")
    return venv


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
