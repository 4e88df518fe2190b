"""The benchmark's work folder, the executables it measures and the environment they run in.

Every child gets its own HOME, git identity and DVC configuration folders inside the work
folder, so neither the developer's settings nor a previous run can change what is measured.
DVC keeps its state database (the inode/mtime -> md5 memory that spares re-hashing) in the
"site cache" folder; each repository gets its own, so a fresh repository really starts cold.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import Command, Sample, run_once

VENV_BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Workspace:
    root: Path
    watchman_sock: Path | None = None  # the benchmark's own Watchman (benchmarks/watchman.py), if any

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def prepare(self) -> None:
        for folder in (self.home, self.data, self.runs):
            folder.mkdir(parents=True, exist_ok=True)
        (self.home / ".gitconfig").write_text(
            "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
            "[gc]\n\tauto = 0\n"  # no background repacking in the middle of a timed run
        )

    def env(self, repo: Path | None = None, watcher: bool = False) -> dict[str, str]:
        """WATCHER: mlv asks the benchmark's Watchman what changed; else it walks (MLV_WATCHER=off),
        whatever Watchman the machine runs."""
        env = calling_environment()
        env.pop("WATCHMAN_SOCK", None)
        if watcher and self.watchman_sock is not None:
            env["WATCHMAN_SOCK"] = str(self.watchman_sock)
        else:
            env["MLV_WATCHER"] = "off"
        env.update({
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(self.home / ".gitconfig"),
            "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
            "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
            "DVC_NO_ANALYTICS": "1",
            "DVC_GLOBAL_CONFIG_DIR": str(self.home / ".dvc-global"),
            "DVC_SYSTEM_CONFIG_DIR": str(self.home / ".dvc-system"),
            "DVC_SITE_CACHE_DIR": str(site_cache(repo) if repo else self.home / ".dvc-site"),
            # The measured mlv and dvc first (git hooks call them by name), then this Python's.
            "PATH": os.pathsep.join(dict.fromkeys([str(_measured_bin), str(VENV_BIN), os.environ.get("PATH", "")])),
            "COLUMNS": "160",
            "LC_ALL": "C.UTF-8",
        })
        return env

    def run(self, argv: Command, cwd: Path, repo: Path | None = None) -> Sample:
        """Run one command (untimed set-up, or a single timed step) in CWD."""
        return run_once([argv], cwd, self.env(repo if repo is not None else cwd))

    def out(self, argv: Command, cwd: Path, stdin: bytes | None = None) -> str:
        proc = subprocess.run(list(argv), cwd=cwd, env=self.env(cwd), input=stdin,
                              capture_output=True, check=True)
        return proc.stdout.decode().strip()


def calling_environment() -> dict[str, str]:
    """The calling shell's environment without its git, DVC and Python settings.

    PYTHON* settings go too: PYTHONDONTWRITEBYTECODE, say, would make every run recompile
    whatever module changed since its bytecode was cached, which no installed mlv does.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_", "PYTHON"))}


def site_cache(repo: Path) -> Path:
    return repo.parent / f"{repo.name}.dvc-site"


def remove_repo(repo: Path) -> None:
    for path in (repo, site_cache(repo)):
        if path.exists():
            # DVC's cache files are read-only; rmtree copes with files, not with folders we
            # cannot enter, and DVC never makes those.
            shutil.rmtree(path)


# Where the measured `mlv` and `dvc` are: next to this interpreter unless `--bin` says otherwise.
_measured_bin = VENV_BIN


def measure_executables_in(folder: Path) -> None:
    global _measured_bin  # noqa: PLW0603 - one setting for the whole run, made by its entry point
    _measured_bin = folder


def mlv_exe() -> str:
    return str(_measured_bin / "mlv")


def dvc_exe() -> str:
    return str(_measured_bin / "dvc")


def python_exe() -> str:
    return str(VENV_BIN / "python")


def available_mlv_commands(ws: Workspace, names: Sequence[str]) -> set[str]:
    """The mlv commands (and `hooks`) whose --help works right now: others are being built."""
    found = set()
    for name in names:
        proc = subprocess.run([mlv_exe(), *name.split(), "--help"], env=ws.env(), cwd=ws.root,
                              capture_output=True, check=False)
        if proc.returncode == 0:
            found.add(name)
    return found


def versions(ws: Workspace) -> Mapping[str, str]:
    def first_line(argv: Sequence[str]) -> str:
        proc = subprocess.run(list(argv), env=ws.env(), cwd=ws.root, capture_output=True, text=True,
                              check=False)
        return (proc.stdout or proc.stderr).strip().splitlines()[0] if proc.returncode == 0 else "?"

    return {
        "python": sys.version.split()[0],
        "git": first_line(["git", "--version"]).removeprefix("git version "),
        "dvc": first_line([dvc_exe(), "--version"]),
        "mlv": first_line([mlv_exe(), "--version"]).removeprefix("mlv "),
        "md5sum": first_line(["md5sum", "--version"]),
    }
