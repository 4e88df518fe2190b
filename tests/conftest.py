"""Shared fixtures: real git repositories and real DVC in temporary folders, never mocks.

HOME and git's global/system config are pinned to the test's own folder, so a test can neither
read the developer's configuration nor write outside its tmp_path.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from mlv.data import statecache
from tests import forkserver
from tests.forkserver import ForkServer

# The processes the tests start (mlv, dvc, git hooks, xdist workers) keep compiled bytecode, as an
# installed package has it: with PYTHONDONTWRITEBYTECODE, which some images set, each of them would
# compile mlv from source again (a quarter of the suite's time).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False

# What mlv, git, rich and typer print depends on these variables, so the caller's values must not
# reach a test (`TERM=dumb` from an editor's shell, a narrow `COLUMNS`, `FORCE_COLOR` or
# `GITHUB_ACTIONS` on a CI runner, `GIT_DIR` when the suite runs inside a git hook, a French
# locale). They are pinned here, before the fork server and the xdist workers start, and again
# for every test by `isolated_env`. A test that needs a terminal sets its own TERM, COLUMNS and
# NO_COLOR (tests/terminal_helpers.py: TERMINAL_ENV).
OUTPUT_ENV = {"TERM": "dumb", "COLUMNS": "80", "LANG": "C.UTF-8", "TZ": "UTC"}
_OUTPUT_ENV_UNSET = (
    "LINES", "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "PY_COLORS", "COLORTERM", "TTY_COMPATIBLE",
    "TTY_INTERACTIVE", "TERMINAL_WIDTH", "JUPYTER_COLUMNS", "JUPYTER_LINES", "GITHUB_ACTIONS", "TYPER_USE_RICH",
    "_TYPER_FORCE_DISABLE_TERMINAL", "PAGER", "LESS", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC",
    "LC_TIME", "LANGUAGE", "MLV_DEBUG", "MLV_HOOK_TRACEBACK", "MLV_LOCK_WAIT", "MLV_SKIP_HOOKS", "MLV_INSTALLER",
)
# Every GIT_* variable (repository, index, config, pager, editor, dates, trace) but where git lives
# and which certificates it trusts.
_GIT_ENV_KEPT = ("GIT_EXEC_PATH", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH")


def output_env_unset(environ: Mapping[str, str]) -> list[str]:
    """The variables of ENVIRON that `OUTPUT_ENV` and the test fixtures leave out."""
    return [key for key in environ
            if key in _OUTPUT_ENV_UNSET or (key.startswith("GIT_") and key not in _GIT_ENV_KEPT)]


for _key in output_env_unset(os.environ):
    del os.environ[_key]
os.environ.update(OUTPUT_ENV)

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROJECT = REPO_ROOT / "sample_project"
# The sample project's training script with numpy alone (same params, outputs and metrics): the
# real one imports scikit-learn, a second per run. tests/test_tutorial.py runs the real one.
FAST_TRAIN_SCRIPT = REPO_ROOT / "tests" / "assets" / "train.py"
VENV_BIN = str(Path(sys.executable).parent)


def pinned_env(home: Path) -> dict[str, str]:
    """Variables that keep git and DVC away from the developer's own configuration."""
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
        # DVC: no analytics, no site/global config from the developer's machine.
        "DVC_NO_ANALYTICS": "1",
        "DVC_SITE_CACHE_DIR": str(home / ".dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / ".dvc-system"),
        # The experiment commands (`python train.py`) must find the test environment's python first.
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    }


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in output_env_unset(os.environ):
        monkeypatch.delenv(key)
    for key, value in {**OUTPUT_ENV, **pinned_env(tmp_path_factory.mktemp("home"))}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLV_TEST_CRASH_AT", raising=False)
    # No Watchman the machine runs answers for a test's repository: tests/watchman_server.py starts one.
    monkeypatch.setenv("WATCHMAN_SOCK", str(tmp_path_factory.mktemp("no-watchman") / "sock"))
    monkeypatch.delenv("MLV_WATCHER", raising=False)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


_FORK_SERVER = ForkServer()
atexit.register(_FORK_SERVER.close)


def run_program(program: str, args: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
                input_text: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """PROGRAM (`mlv` or `dvc`) with ARGS in CWD, in a process of its own: forked from the test
    fork server (see tests/forkserver.py), or its executable when MLV_TEST_FORKSERVER=0."""
    full_env = {**os.environ, **(env or {})}
    if forkserver.enabled() and _FORK_SERVER.can_run(full_env):
        return _FORK_SERVER.run(program, list(args), cwd, full_env, input_text, timeout)
    return subprocess.run([str(Path(VENV_BIN) / program), *args], cwd=cwd, capture_output=True, text=True,
                          env=full_env, input=input_text, timeout=timeout, check=False)


def forked_launchers() -> Path | None:
    """A folder whose `mlv` and `dvc` are launchers of this worker's fork server, for code that
    starts them by name or path itself (see tests/forkserver.py); None when the server is off."""
    return _FORK_SERVER.launchers() if forkserver.enabled() else None


def dvc(cwd: Path, *args: str) -> str:
    """Run DVC's command line (tests use it to set up remotes, push and check status)."""
    proc = run_program("dvc", args, cwd)
    if proc.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def mlv(cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None,
        input_text: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run mlv's command line, as a user would, and return the finished process."""
    proc = run_program("mlv", args, cwd, env, input_text, timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"mlv {' '.join(args)} exited {proc.returncode}\n"
                             f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def _new_session_with_default_sigint() -> None:
    """Runs in the child between fork and exec.

    A process group of its own, so a test can signal the child's whole tree as a terminal does;
    SIGINT back to its default, because a suite started as a background job (`make test &`,
    many CI runners) inherits SIGINT *ignored*, and Python then never turns it into
    KeyboardInterrupt: the Ctrl-C tests would hang instead of testing anything.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def spawned(argv: list[str], cwd: Path, **kwargs: object) -> Iterator[subprocess.Popen[str]]:
    """Start ARGV in its own process group, ready for Ctrl-C; kill whatever is left of it on exit.

    The group is killed in any case (a failed assertion must not leave a 60 s sleeper behind,
    least of all under xdist, where a leaked child keeps a worker's pipes open).
    """
    proc = subprocess.Popen(argv, cwd=cwd, text=True, preexec_fn=_new_session_with_default_sigint,  # noqa: PLW1509
                            **kwargs)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        kill_session(proc.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=30)


def kill_session(sid: int) -> None:
    """SIGKILL every process of session SID: the group `spawned` made, and the groups mlv made
    inside it for the commands it runs (those outlive a killed mlv and hold its pipes open)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if len(fields) > 3 and int(fields[3]) == sid:  # state, ppid, pgrp, session
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(stat.parent.name), signal.SIGKILL)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository (no commits yet)."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q")
    return path


@contextlib.contextmanager
def mounted_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of SIZE (`64k`, `6m`) mounted on FOLDER for a block: a disk a test can fill. Skipped
    where the machine refuses the mount (root in a container without the right; CI can mount)."""
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def pinned(home: Path) -> Iterator[None]:
    """pinned_env(HOME) in os.environ for a block: for fixtures wider than a test, which run
    before (and outside) isolated_env's per-test monkeypatch."""
    home.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in pinned_env(home).items():
            mp.setenv(key, value)
        yield


def shared_template(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The template NAME, made by BUILD(folder) once per test session: under xdist the first worker
    that needs it builds it, and the others wait for it and use the same one (tests only ever copy
    a template, with copy_template)."""
    own = factory.getbasetemp()
    folder = (own.parent if os.environ.get("PYTEST_XDIST_WORKER") else own) / "shared-templates"
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    target = folder / safe
    with open(folder / f"{safe}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            building = folder / f"{safe}.building-{os.getpid()}"
            build(building)
            building.rename(target)  # whole or absent: a worker that failed leaves no half template
    return target


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Built once per session and copied per test."""
    home = tmp_path_factory.mktemp("template-home")

    def build_sample(folder: Path) -> None:
        folder.mkdir()
        with pinned(home):
            git(folder, "init", "-q")
            copy_sample_project(folder)
            mlv(folder, "init")

    sample = shared_template(tmp_path_factory, "sample", build_sample)

    def build_experiment(folder: Path) -> None:
        shutil.copytree(sample, folder, symlinks=True)
        with pinned(home):
            mlv(folder, "snapshot", "--run", "python train.py", "-m", "baseline")

    return {"sample": sample, "experiment": shared_template(tmp_path_factory, "experiment", build_experiment)}


def copy_sample_project(repo: Path) -> None:
    """The sample project's files into REPO, its data generated, with the fast training script."""
    for name in ("generate_data.py", "params.yaml"):
        shutil.copy(SAMPLE_PROJECT / name, repo / name)
    shutil.copy(FAST_TRAIN_SCRIPT, repo / "train.py")
    subprocess.run([sys.executable, "generate_data.py"], cwd=repo, check=True, capture_output=True)
    if (repo / ".git").exists():  # the code is the user's to add: a snapshot leaves untracked files out
        git(repo, "add", "generate_data.py", "train.py", "params.yaml")


def derived_template(factory: pytest.TempPathFactory, source: Path, build: Callable[[Path], None]) -> Path:
    """A copy of the template SOURCE changed by BUILD, for a session-scoped fixture to hand to
    copy_template per test: the expensive steps (training, snapshots) then run once per session
    instead of once per test. BUILD runs in whichever worker needs the template first, so all it
    makes must be in the folder (nothing collected on the side)."""
    def make(folder: Path) -> None:
        copy_template(source, folder)
        with pinned(factory.mktemp("template-home")):
            build(folder)

    return shared_template(factory, f"{build.__module__}.{build.__qualname__}", make)


def copy_template(source: Path, target: Path) -> Path:
    """A private copy of a template repository for one test.

    Nothing in a template holds its own absolute path (git and DVC keep relative paths; the
    sample project has no remotes), so the copy is a repository of its own. Caches keyed by
    path or inode are safe too: DVC's state lives under the per-test HOME, mlv's object trust
    is keyed by the cache's absolute path, and mlv's stat cache is dropped below.
    """
    shutil.copytree(source, target, symlinks=True)
    # Copies get new inodes: drop the stat cache so nothing trusts the template's stats.
    state = target / ".git" / "mlv" / "state.json"
    for path in (state, statecache.path_of_files(state)):
        path.unlink(missing_ok=True)
    return target


@pytest.fixture
def sample_repo(tmp_path: Path, _templates: dict[str, Path]) -> Path:
    """The sample project in a git repository, data generated, `mlv init` done, nothing committed."""
    return copy_template(_templates["sample"], tmp_path / "repo")


@pytest.fixture
def experiment_repo(tmp_path: Path, _templates: dict[str, Path]) -> Path:
    """The sample project with one experiment commit (the baseline training run)."""
    return copy_template(_templates["experiment"], tmp_path / "repo")


def tree_fingerprint(root: Path, include_dvc_cache: bool = True) -> dict[str, tuple[str, bytes]]:
    """Every file under ROOT outside .git, with its mode and content: to prove nothing changed.

    Without INCLUDE_DVC_CACHE, .dvc/cache and .dvc/tmp are left out: extra content-addressed
    objects there change nothing a user sees (like git's loose objects).
    """
    found: dict[str, tuple[str, bytes]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            # Never entered: git's own files, and mlv's reproduce trash that a background
            # `rm -rf` may be deleting while this walks.
            dirs[:] = [d for d in dirs if d != ".git"]
        for name in [*files, *(d for d in dirs if (here / d).is_symlink())]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if not include_dvc_cache and rel.startswith((".dvc/cache/", ".dvc/tmp/")):
                continue
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path).encode())
            elif path.is_file():
                found[rel] = (oct(path.stat().st_mode), path.read_bytes())
    return dict(sorted(found.items()))


@pytest.fixture
def dvc_remote(tmp_path: Path) -> Iterator[Path]:
    """A local-directory DVC remote."""
    path = tmp_path / "dvc-remote"
    path.mkdir()
    yield path


def pytest_sessionstart(session: pytest.Session) -> None:
    """Each process that runs tests starts its fork server before collecting them; the xdist
    controller, which runs none, starts none."""
    controller = bool(getattr(session.config.option, "numprocesses", None)) and not hasattr(session.config,
                                                                                           "workerinput")
    if forkserver.enabled() and not controller:
        _FORK_SERVER.start()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` end-to-end cases first (in their order), then the rest: pytest-xdist hands tests
    out in this order, so the long ones start early and the short ones fill both workers at the
    end, instead of one worker finishing a long test alone while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
