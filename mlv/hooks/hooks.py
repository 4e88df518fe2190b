"""`mlv hooks install | uninstall | status`: put mlv's git hooks in place, keeping the user's own.

Each installed hook is a small shell script that carries a marker line (so we recognise our own
file) and starts the exact interpreter that installed it (so the hook runs the same mlv, whatever
is on PATH later). A hook the user already had is renamed to `<hook>.mlv-chained` and runs first;
`uninstall` renames it back, so the round trip restores exactly what was there.

Hooks live in the common git folder (shared by linked worktrees). When `core.hooksPath` is set we
refuse instead of writing into a folder that is often committed or shared between repositories,
where an absolute interpreter path would be wrong for everyone else (pre-commit does the same).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from mlv._version import __version__
from mlv.adapters import git
from mlv.errors import MlvError

HOOKS = ("pre-commit", "post-checkout", "post-merge", "pre-push")
MARKER = "# mlv-hook: installed by `mlv hooks install`"
CHAINED_SUFFIX = ".mlv-chained"
# What a hook whose interpreter has vanished does: refuse a commit or push (the checks could not
# run), but never fail a checkout or merge that has already happened.
_BLOCKING = ("pre-commit", "pre-push")


@dataclass(frozen=True)
class HookStatus:
    name: str
    path: Path
    state: str  # "absent", "mlv", "chained" (mlv's, running a kept hook first), "foreign"
    interpreter: str | None = None  # the python an mlv hook runs
    interpreter_ok: bool = True

    def to_json(self) -> dict[str, object]:
        return {"hook": self.name, "path": str(self.path), "state": self.state,
                "interpreter": self.interpreter, "interpreter_ok": self.interpreter_ok}


@dataclass(frozen=True)
class HookChange:
    name: str
    action: str  # "installed", "updated", "chained", "removed", "restored", "left-foreign", "absent"

    def to_json(self) -> dict[str, str]:
        return {"hook": self.name, "action": self.action}


def hooks_dir(root: Path) -> Path:
    """Where git looks for this repository's hooks; refuses when core.hooksPath redirects them."""
    configured = git.config_get(root, "core.hooksPath")
    if configured:
        raise MlvError(
            f"core.hooksPath is set to {configured!r}, so git does not run hooks from .git/hooks",
            hint="Unset it (`git config --unset core.hooksPath`) and rerun, or call "
            "`mlv hooks run HOOK \"$@\"` from your own hook scripts there.",
        )
    return git.common_dir(root) / "hooks"


def _check_names(names: list[str] | None) -> list[str]:
    if not names:
        return list(HOOKS)
    unknown = [n for n in names if n not in HOOKS]
    if unknown:
        raise MlvError(f"unknown hook {unknown[0]!r}", hint=f"Choose from: {', '.join(HOOKS)}.")
    return list(dict.fromkeys(names))


def is_mlv_hook(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except (FileNotFoundError, IsADirectoryError):
        return False
    return MARKER.encode() in head


def _python_path() -> list[str]:
    """The import path the hook needs, found now so the hook can skip site start-up (~20 ms)."""
    package_parent = str(Path(__file__).resolve().parents[2])  # the folder that holds mlv/
    # Not the current folder nor the folder of the `mlv` script: neither is a library folder.
    skip = {os.getcwd(), os.path.dirname(os.path.abspath(sys.argv[0] or ".")),
            os.path.dirname(sys.executable)}
    paths = [package_parent]
    for entry in sys.path:
        full = os.path.abspath(entry) if entry else ""
        if full and os.path.isdir(full) and full not in skip and full not in paths:
            paths.append(full)
    return paths


def _boot_code() -> str:
    # -S skips site (and .pth processing), the largest part of python's start-up (~20 ms in a
    # virtual environment with editable installs). The path recorded at install time already
    # holds site-packages and every folder a .pth file added, so mlv, PyYAML and DVC import.
    # Bytecode is cached even under PYTHONDONTWRITEBYTECODE: compiling the hook runtime on every commit
    # would cost more than the rest of an unchanged commit's check.
    return (
        "import sys\n"
        "sys.dont_write_bytecode = False\n"
        f"sys.path[:] = {_python_path()!r} + [p for p in sys.path if p]\n"
        "from mlv.hooks.run import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )


def render_script(name: str, python: str | None = None) -> str:
    """The shell script installed as hook NAME.

    It runs a kept foreign hook first, then returns at once when there is nothing for mlv to do,
    without starting Python: outside an mlv project, with MLV_SKIP_HOOKS=1, and after a checkout
    or merge that changed no pointer file (one `git diff --quiet`). pre-commit pipes the staged
    pointer files to Python, which then needs no git call of its own on its fast path.
    """
    py = shlex.quote(python or sys.executable)
    lines = [
        "#!/bin/sh",
        MARKER,
        f"# (mlv {__version__}). Remove it with `mlv hooks uninstall`; a hook that was here before",
        f"# is kept as {name}{CHAINED_SUFFIX}, runs first, and comes back on uninstall.",
        f"chained=\"$0{CHAINED_SUFFIX}\"",
        f"py={py}",
        "status=0",
    ]
    if name == "pre-push":
        # git gives the refs being pushed on stdin; both hooks must read all of it.
        lines += [
            'refs="$(mktemp)" || exit 1',
            "trap 'rm -f \"$refs\"' EXIT",
            'cat > "$refs"',
            'if [ -x "$chained" ]; then "$chained" "$@" < "$refs" || exit $?; fi',
        ]
    elif name in _BLOCKING:
        lines.append('if [ -x "$chained" ]; then "$chained" "$@" || exit $?; fi')
    else:
        lines.append('if [ -x "$chained" ]; then "$chained" "$@" || status=$?; fi')
    lines.append('if [ "$MLV_SKIP_HOOKS" = 1 ] || [ ! -f .mlv/config.yaml ]; then exit "$status"; fi')
    if name in ("post-checkout", "post-merge"):
        diff = '"$1" "$2"' if name == "post-checkout" else "--cached ORIG_HEAD"
        # After a merge, a changed lockfile folder is worth a look too: two environments kept. A
        # changed .dvc/config may point the DVC remote elsewhere: the user must hear of it.
        watched = ("'*.dvc' ':(top,literal)dvc.lock' ':(top,literal).dvc/config'"
                   + ("" if name == "post-checkout" else " .mlv/env/"))
        if name == "post-checkout":
            lines.append('if [ "$3" != 1 ]; then exit "$status"; fi  # a file checkout')
        lines += [
            'if [ -d .git ]; then gd=.git; else gd="$(git rev-parse --git-dir)"; fi',
            f'if [ ! -f "$gd/mlv/publish-journal.json" ] && git diff --quiet --no-ext-diff {diff} '
            f"-- {watched} 2>/dev/null; then",
            '  exit "$status"  # no pointer file (nor dvc.lock, nor .dvc/config) changed',
            "fi",
        ]
    lines += [
        'if [ ! -x "$py" ]; then',
        f"  echo \"mlv {name} hook: $py no longer exists; run \\`mlv hooks install\\` again \""
        "\"(or \\`mlv hooks uninstall\\`)\" >&2",
        "  exit 1" if name in _BLOCKING else '  exit "$status"',
        "fi",
    ]
    boot = shlex.quote(_boot_code())
    if name == "pre-commit":
        lines.append("git ls-files -s -z -- '*.dvc' .mlv/env/ | "
                     f'exec "$py" -S -c {boot} pre-commit --staged-on-stdin')
    elif name == "pre-push":
        lines.append(f'"$py" -S -c {boot} pre-push "$@" < "$refs"')
    else:
        lines += [f'"$py" -S -c {boot} {name} "$@" || status=$?', 'exit "$status"']
    return "\n".join(lines) + "\n"


def _interpreter_of(path: Path) -> str | None:
    for line in path.read_text("utf-8", errors="replace").splitlines():
        if line.startswith("py="):
            words = shlex.split(line[3:])
            return words[0] if words else None
    return None


def status(root: Path) -> list[HookStatus]:
    folder = hooks_dir(root)
    result = []
    for name in HOOKS:
        path = folder / name
        if not path.exists():
            result.append(HookStatus(name, path, "absent"))
        elif not is_mlv_hook(path):
            result.append(HookStatus(name, path, "foreign"))
        else:
            py = _interpreter_of(path)
            chained = (folder / f"{name}{CHAINED_SUFFIX}").exists()
            result.append(HookStatus(name, path, "chained" if chained else "mlv", py,
                                     bool(py) and os.access(str(py), os.X_OK)))
    return result


def not_a_project_warning(root: Path) -> str | None:
    """Installed in a repository without `mlv init`, every hook returns at once, doing nothing."""
    from mlv.project import config

    if config.exists(root):
        return None
    return ("this repository is not an mlv project yet, so the hooks do nothing until you run `mlv init`")


def install(root: Path, names: list[str] | None = None) -> list[HookChange]:
    """Install mlv's hooks (all four by default), keeping each foreign hook as a chained one."""
    wanted = _check_names(names)
    folder = hooks_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    for name in wanted:  # check everything before changing anything
        path, kept = folder / name, folder / f"{name}{CHAINED_SUFFIX}"
        if path.exists() and not is_mlv_hook(path) and kept.exists():
            raise MlvError(
                f"both {path} and {kept.name} exist and neither is mlv's, so installing would lose one",
                hint="Merge them by hand (or delete one), then run `mlv hooks install` again.",
            )
    changes = []
    for name in wanted:
        path = folder / name
        action = "installed"
        if is_mlv_hook(path):
            action = "updated"
        elif path.exists() or path.is_symlink():
            os.replace(path, folder / f"{name}{CHAINED_SUFFIX}")
            action = "chained"
        _write_executable(path, render_script(name))
        changes.append(HookChange(name, action))
    return changes


def uninstall(root: Path, names: list[str] | None = None) -> list[HookChange]:
    """Remove mlv's hooks and put back the hooks they had chained; foreign hooks stay untouched."""
    wanted = _check_names(names)
    folder = hooks_dir(root)
    changes = []
    for name in wanted:
        path, kept = folder / name, folder / f"{name}{CHAINED_SUFFIX}"
        if not path.exists() and not path.is_symlink():
            changes.append(HookChange(name, "absent"))
        elif not is_mlv_hook(path):
            changes.append(HookChange(name, "left-foreign"))
        elif kept.exists() or kept.is_symlink():
            os.replace(kept, path)
            changes.append(HookChange(name, "restored"))
        else:
            path.unlink()
            changes.append(HookChange(name, "removed"))
    return changes


def _write_executable(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.mlv-tmp")
    tmp.write_text(text, "utf-8")
    os.chmod(tmp, 0o755)  # noqa: S103 - git runs only executable hooks; others may read them
    os.replace(tmp, path)
