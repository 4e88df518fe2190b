"""A new user's first hour: each trap found trying mlv on a fresh project, now explained or safe."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mlv.cli.output import fmt_value, plural
from tests.conftest import VENV_BIN, git, mlv, spawned, tree_fingerprint
from tests.terminal_helpers import TERMINAL_ENV


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


def _set_config(repo: Path, text: str) -> None:
    (repo / ".mlv/config.yaml").write_text(text)


# -- 1. init before the data exists -----------------------------------------------------------------


@pytest.fixture
def empty_project(tmp_path: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    path = tmp_path / "fresh"
    path.mkdir()
    return path, mlv(path, "init", "--git")


def test_init_in_an_empty_folder_says_what_it_did_not_find(empty_project: tuple) -> None:
    _, proc = empty_project
    assert "no data found" in proc.stdout and "add `data: [data]` to .mlv/config.yaml" in proc.stdout
    assert "`outputs: [models]`" in proc.stdout and "`metrics: [metrics.json]`" in proc.stdout
    next_line = proc.stdout.strip().splitlines()[-1]
    assert next_line.startswith("Next: declare your data and outputs in .mlv/config.yaml")
    assert "Initialized DVC repository" not in proc.stdout + proc.stderr  # not DVC's banner again


def test_snapshot_names_undeclared_data_models_and_metrics(empty_project: tuple) -> None:
    repo, _ = empty_project
    (repo / "data").mkdir()
    (repo / "data/d.csv").write_text("a,b\n1,2\n")
    (repo / "models").mkdir()
    (repo / "models/m.bin").write_bytes(b"\0" * 100)
    (repo / "metrics.json").write_text('{"mse": 0.1}\n')
    (repo / "big.raw").write_bytes(os.urandom(2 * 1024 * 1024))
    (repo / "train.py").write_text("print('hi')\n")
    git(repo, "add", "train.py")
    warnings = [line for line in mlv(repo, "snapshot", "-m", "first").stderr.splitlines()
                if line.startswith("warning: ") and not line.startswith("warning: left out of the commit")]
    text = "\n".join(warnings)
    assert "data/ looks like data and was left out of the commit (untracked)" in text
    assert "add `data: [data]` to .mlv/config.yaml" in text
    assert "models/ looks like a model" in text and "`outputs: [models]`" in text
    assert "`metrics: [metrics.json]`" in text
    assert "big.raw looks like data (2.0 MiB)" in text
    assert "train.py" not in text
    assert len(warnings) == 4


def test_snapshot_of_a_declared_project_gives_no_data_hints(experiment_repo: Path) -> None:
    (experiment_repo / "notes.md").write_text("# notes\n")
    proc = mlv(experiment_repo, "snapshot", "-m", "notes")
    assert "looks like" not in proc.stderr


# -- 2. the configuration is checked before the command runs ------------------------------------------


def test_misspelt_config_key_names_the_closest_valid_one(sample_repo: Path) -> None:
    config = (sample_repo / ".mlv/config.yaml").read_text()
    _set_config(sample_repo, config.replace("\ndata:", "\ndatta:", 1))
    proc = mlv(sample_repo, "snapshot", "--run", "touch ran", check=False)
    assert proc.returncode == 1
    assert "unknown key `datta`; did you mean `data`?" in _one_line(proc)
    assert not (sample_repo / "ran").exists()


def test_unknown_key_without_a_close_match_lists_the_valid_keys(sample_repo: Path) -> None:
    _set_config(sample_repo, (sample_repo / ".mlv/config.yaml").read_text() + "zzz: 1\n")
    line = _one_line(mlv(sample_repo, "snapshot", check=False))
    assert "unknown key `zzz`; valid keys: version, data, outputs" in line


def test_missing_params_file_is_reported_before_the_command_runs(sample_repo: Path) -> None:
    config = (sample_repo / ".mlv/config.yaml").read_text()
    _set_config(sample_repo, config.replace("- params.yaml", "- param.yaml"))
    proc = mlv(sample_repo, "snapshot", "--run", "touch ran", check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "params file 'param.yaml' does not exist; the command was not run" in line
    assert not (sample_repo / "ran").exists()


def test_missing_data_path_is_reported_before_the_command_runs(sample_repo: Path) -> None:
    _set_config(sample_repo, (sample_repo / ".mlv/config.yaml").read_text().replace("- data", "- dataset"))
    proc = mlv(sample_repo, "snapshot", "--run", "touch ran", check=False)
    assert "data path 'dataset' does not exist; the command was not run" in _one_line(proc)
    assert not (sample_repo / "ran").exists()


@pytest.mark.parametrize(("metrics", "expected"), [
    ("data/metrics.json", "lies inside the data path 'data'"),
    ("train.py/metrics.json", "'train.py' is a file, not a folder"),
])
def test_metrics_path_that_cannot_be_written_is_refused_before_the_run(sample_repo: Path, metrics: str,
                                                                       expected: str) -> None:
    config = (sample_repo / ".mlv/config.yaml").read_text()
    _set_config(sample_repo, config.replace("- metrics.json", f"- {metrics}"))
    proc = mlv(sample_repo, "snapshot", "--run", "touch ran", check=False)
    assert expected in _one_line(proc)
    assert not (sample_repo / "ran").exists()


def test_config_with_yaml_aliases_is_refused(sample_repo: Path) -> None:
    _set_config(sample_repo, "data: &d [data]\noutputs: *d\n")
    line = _one_line(mlv(sample_repo, "snapshot", check=False))
    assert ".mlv/config.yaml is not valid YAML" in line and "aliases are not allowed" in line


def test_params_file_with_yaml_aliases_is_refused(sample_repo: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    (sample_repo / "params.yaml").write_text(bomb)
    line = _one_line(mlv(sample_repo, "snapshot", check=False))
    assert "params file 'params.yaml' cannot be parsed" in line and "aliases" in line


def test_oversized_config_is_refused_before_parsing(sample_repo: Path) -> None:
    _set_config(sample_repo, "# x\n" * 70_000)  # 280 KB of comments
    assert "larger than 256 KiB" in _one_line(mlv(sample_repo, "snapshot", check=False))


# -- 4. no git identity -----------------------------------------------------------------------------------


def _without_identity(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "nobody"
    home.mkdir()
    # No name or email anywhere, and no guessing from the host name (which may succeed on some machines).
    (home / ".gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                        "EMAIL")}
    env.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"))
    return env


def test_missing_git_identity_is_found_before_the_command_runs(sample_repo: Path, tmp_path: Path) -> None:
    proc = subprocess.run([str(Path(VENV_BIN) / "mlv"), "snapshot", "--run", "touch ran"], cwd=sample_repo,
                          env=_without_identity(tmp_path), capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "git does not know who you are" in line and "nothing was run" in line
    assert 'git config --global user.email "you@example.com"' in line
    assert not (sample_repo / "ran").exists()


def test_missing_git_identity_refuses_a_snapshot_without_run_and_commits_nothing(
        experiment_repo: Path, tmp_path: Path) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    env = _without_identity(tmp_path)
    noop = subprocess.run([str(Path(VENV_BIN) / "mlv"), "snapshot"], cwd=experiment_repo, env=env,
                          capture_output=True, text=True, check=False)
    assert noop.returncode == 0 and "nothing changed" in noop.stdout  # no commit, so no identity needed
    (experiment_repo / "notes.txt").write_text("new\n")
    git(experiment_repo, "add", "notes.txt")
    proc = subprocess.run([str(Path(VENV_BIN) / "mlv"), "snapshot", "-m", "x"], cwd=experiment_repo, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "git does not know who you are" in _one_line(proc)
    assert git(experiment_repo, "rev-parse", "HEAD") == head
    assert git(experiment_repo, "status", "--porcelain") == "A  notes.txt"


def test_missing_git_identity_gives_the_registry_the_same_hint(experiment_repo: Path, tmp_path: Path) -> None:
    """`model register` and `model promote` write annotated tags, which need an identity like a commit."""
    env = _without_identity(tmp_path)
    for args in (["model", "register", "sample"], ["model", "promote", "sample", "v0.0.1", "prod"]):
        if args[1] == "promote":
            mlv(experiment_repo, "model", "register", "sample")  # with the test's identity
        proc = subprocess.run([str(Path(VENV_BIN) / "mlv"), *args], cwd=experiment_repo, env=env,
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 1, proc.stderr
        line = _one_line(proc)
        assert "git does not know who you are" in line and "nothing was changed" in line, line
        assert 'git config --global user.email "you@example.com"' in line
    assert git(experiment_repo, "tag", "--list") == "sample@v0.0.1"  # the refused promotion left no tag


# -- 5. signals ---------------------------------------------------------------------------------------------


def _running(pid: int) -> bool:
    """PID exists and is not a zombie (one left for an init that does not reap counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"),
                                                    (signal.SIGINT, 130, "SIGINT")])
def test_signal_to_mlv_alone_stops_the_command_and_makes_no_commit(experiment_repo: Path, sig: int,
                                                                    code: int, name: str) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    pid_file = experiment_repo / "child.pid"
    command = (f"python -c \"import os, time; open('{pid_file.name}.tmp', 'w').write(str(os.getpid())); "
               f"os.rename('{pid_file.name}.tmp', '{pid_file.name}'); time.sleep(60)\"")
    with spawned([str(Path(VENV_BIN) / "mlv"), "snapshot", "--run", command], experiment_repo,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pid_file.read_text())
        assert _running(child)
        started = time.monotonic()
        os.kill(proc.pid, sig)  # mlv's PID only, as `kill PID` does: not the process group
        _, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - started
    assert proc.returncode == code, stderr
    assert stderr.strip().splitlines()[-1] == (
        f"error: interrupted ({name}) while the command ran; the command was stopped and "
        "no experiment commit was made.")
    assert not _running(child), "the command outlived mlv"
    assert took < 4, "the command ended on the forwarded signal, not after the grace period"
    assert git(experiment_repo, "rev-parse", "HEAD") == head


def _in_a_terminal(repo: Path, command: str, keys: bytes) -> tuple[int, str]:
    """Run `mlv snapshot --run COMMAND` in a pseudo-terminal, as in an interactive shell; type KEYS
    once the command has started. The exit code and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        try:
            os.chdir(repo)
            os.execve(str(Path(VENV_BIN) / "mlv"), ["mlv", "snapshot", "--run", command, "-m", "tty"],  # noqa: S606 - our own executable
                      {**os.environ, **TERMINAL_ENV})
        finally:
            os._exit(127)
    shown = b""
    try:
        deadline = time.monotonic() + 60
        while not (repo / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the command is waiting for input now
        os.write(fd, keys)
        with contextlib.suppress(OSError):  # EIO once the terminal's last reader is gone
            while chunk := os.read(fd, 4096):
                shown += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


_READS_A_LINE = ("python -c \"open('started', 'w').close(); line = input(); "
                 "open('got', 'w').write(line)\"")


def test_in_a_terminal_the_command_can_read_its_input(experiment_repo: Path) -> None:
    """Its own process group owns the terminal while it runs (a `breakpoint()` in train.py works)."""
    code, shown = _in_a_terminal(experiment_repo, _READS_A_LINE, b"hello\n")
    assert code == 0, shown
    assert (experiment_repo / "got").read_text() == "hello"


def test_ctrl_c_in_a_terminal_stops_the_command_and_says_so(experiment_repo: Path) -> None:
    head = git(experiment_repo, "rev-parse", "HEAD")
    code, shown = _in_a_terminal(experiment_repo, _READS_A_LINE, b"\x03")
    assert code == 130, shown
    assert ("error: interrupted (SIGINT) while the command ran; the command was stopped and no experiment "
            "commit was made.") in shown
    assert git(experiment_repo, "rev-parse", "HEAD") == head


# -- 6. checkout refuses only what git would ---------------------------------------------------------------


@pytest.fixture
def two_commits(experiment_repo: Path) -> Path:
    params = experiment_repo / "params.yaml"
    params.write_text(params.read_text() + "# second\n")
    mlv(experiment_repo, "snapshot", "-m", "second")
    return experiment_repo


def test_untracked_scratch_file_does_not_block_checkout_and_is_kept(two_commits: Path) -> None:
    (two_commits / "scratch.txt").write_text("x\n")
    mlv(two_commits, "checkout", "HEAD~1")
    assert git(two_commits, "rev-parse", "HEAD") == git(two_commits, "rev-parse", "main~1")
    assert (two_commits / "scratch.txt").read_text() == "x\n"


def test_local_change_to_a_file_both_commits_share_is_carried_over(two_commits: Path) -> None:
    dvc_config = two_commits / ".dvc/config"
    dvc_config.write_text(dvc_config.read_text() + "[core]\n    autostage = true\n")
    mine = dvc_config.read_text()
    mlv(two_commits, "checkout", "HEAD~1")
    assert git(two_commits, "rev-parse", "HEAD") == git(two_commits, "rev-parse", "main~1")
    assert dvc_config.read_text() == mine


def test_local_change_to_a_file_the_commits_differ_in_is_still_refused(two_commits: Path) -> None:
    (two_commits / "params.yaml").write_text("mine: 1\n")
    proc = mlv(two_commits, "checkout", "HEAD~1", check=False)
    assert proc.returncode == 1 and "uncommitted changes (params.yaml)" in _one_line(proc)


# -- 7. a refused large file leaves nothing in .git ---------------------------------------------------------


def _objects_size(repo: Path) -> int:
    return sum(p.stat().st_size for p in (repo / ".git/objects").rglob("*") if p.is_file())


def test_refused_large_file_is_not_hashed_into_git(experiment_repo: Path) -> None:
    (experiment_repo / "weights.raw").write_bytes(os.urandom(12 * 1024 * 1024))
    before, tree = _objects_size(experiment_repo), tree_fingerprint(experiment_repo, include_dvc_cache=False)
    proc = mlv(experiment_repo, "snapshot", "-m", "big", "--include-untracked", check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "weights.raw is 12 MiB, too large to commit to git; nothing was committed" in line
    assert "add 'weights.raw' to `data` or `outputs`" in line
    assert _objects_size(experiment_repo) - before < 1024 * 1024
    assert tree_fingerprint(experiment_repo, include_dvc_cache=False) == tree


# -- 10. exit codes and wording ------------------------------------------------------------------------------


def test_usage_error_exits_64_in_one_line(tmp_path: Path) -> None:
    proc = mlv(tmp_path, "log", "--no-such-option", check=False)
    assert proc.returncode == 64
    assert proc.stderr == "error: No such option: --no-such-option. See `mlv log -h`.\n"
    missing = mlv(tmp_path, "checkout", check=False)
    assert missing.returncode == 64 and missing.stderr == "error: Missing argument 'REV'. See `mlv checkout -h`.\n"
    typo = mlv(tmp_path, "snapshto", check=False)  # click's question keeps its own mark: no "?."
    assert typo.returncode == 64
    assert typo.stderr == "error: No such command 'snapshto'. Did you mean 'snapshot'? See `mlv -h`.\n"


def test_arguments_print_as_uppercase_names(tmp_path: Path) -> None:
    assert mlv(tmp_path, "checkout", "-h").stdout.startswith("Usage: mlv checkout [OPTIONS] REV\n")
    assert mlv(tmp_path, "hooks", "run", "-h").stdout.startswith("Usage: mlv hooks run [OPTIONS] HOOK [ARGS]...\n")
    assert mlv(tmp_path, "show", "-h").stdout.startswith("Usage: mlv show [OPTIONS] [REV]\n")


def test_plain_mlv_prints_its_help(tmp_path: Path) -> None:
    proc = mlv(tmp_path)
    assert proc.stdout.startswith("Usage: mlv [OPTIONS] COMMAND [ARGS]...")


def test_plural_and_values() -> None:
    assert [plural(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert plural(1, "new commit") == "1 new commit" and plural(3, "new commit") == "3 new commits"
    assert (fmt_value(False), fmt_value(True), fmt_value(None), fmt_value(0.5)) == ("false", "true", "null", "0.5")


def test_show_prints_yaml_booleans_as_yaml(experiment_repo: Path) -> None:
    params = experiment_repo / "params.yaml"
    params.write_text(params.read_text() + "shuffle: false\n")
    mlv(experiment_repo, "snapshot", "-m", "flag")
    out = mlv(experiment_repo, "show").stdout
    assert "shuffle = false" in out and "False" not in out


def test_pull_on_a_detached_head_says_what_to_do(experiment_repo: Path) -> None:
    git(experiment_repo, "checkout", "-q", "--detach", "HEAD")
    line = _one_line(mlv(experiment_repo, "pull", check=False))
    assert "HEAD is detached" in line and "`mlv checkout main`" in line and "nothing to share" not in line


def test_pull_on_a_branch_without_commits_says_what_to_do(empty_project: tuple) -> None:
    repo, _ = empty_project
    line = _one_line(mlv(repo, "pull", check=False))
    assert "no commits yet" in line and "git clone" in line


def test_hooks_install_without_init_warns_that_they_do_nothing(repo: Path) -> None:
    proc = mlv(repo, "hooks", "install")
    assert "warning: this repository is not an mlv project yet, so the hooks do nothing until you run " \
           "`mlv init`" in proc.stderr
    assert (repo / ".git/hooks/pre-commit").exists()


# -- 11. the pre-commit refusal names the changed files ---------------------------------------------------------


def test_pre_commit_refusal_names_changed_files_inside_the_folder(experiment_repo: Path) -> None:
    mlv(experiment_repo, "hooks", "install")
    with (experiment_repo / "data/dataset.csv").open("a") as handle:
        handle.write("0.1,0.2,0.3,0.4,9.0\n")
    (experiment_repo / "data/extra.csv").write_text("a\n1\n")
    (experiment_repo / "data.dvc").write_text((experiment_repo / "data.dvc").read_text() + "\n")
    git(experiment_repo, "add", "data.dvc")
    proc = subprocess.run(["git", "commit", "-q", "-m", "x"], cwd=experiment_repo, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 1
    assert "data no longer matches the hash in its pointer file (changed: data/dataset.csv, data/extra.csv), " \
           "so this commit" in proc.stderr


# -- 12. show and diff agree on "latest" -------------------------------------------------------------------------


def test_show_and_diff_agree_on_a_plain_head(experiment_repo: Path) -> None:
    experiment = git(experiment_repo, "rev-parse", "HEAD")
    (experiment_repo / "README.md").write_text("hello\n")
    git(experiment_repo, "add", "README.md")
    git(experiment_repo, "commit", "-q", "-m", "docs")
    head = git(experiment_repo, "rev-parse", "HEAD")
    # Both take HEAD as it is: show says what its tree holds, diff compares the latest experiment with it.
    proc = mlv(experiment_repo, "show")
    assert "is not an mlv experiment commit; what its tree holds:" in proc.stdout
    assert json.loads(mlv(experiment_repo, "show", "--json").stdout)["status"] == "plain"
    compared = json.loads(mlv(experiment_repo, "diff", "--json").stdout)
    assert (compared["old"]["commit"], compared["new"]["commit"]) == (experiment, head)


# -- 3. a checkout that cannot write its data moves nothing, and keeps the changes git carried over ----------


def test_failed_checkout_rolls_back_and_keeps_a_carried_local_change(two_commits: Path) -> None:
    """A read-only mount stops root too (permission bits would not). The local edit of .dvc/config,
    which git carried into the checkout, must survive the rollback (a forced one would discard it)."""
    repo = two_commits
    with (repo / "data/dataset.csv").open("a") as handle:
        handle.write("0.1,0.2,0.3,0.4,9.0\n")
    mlv(repo, "snapshot", "-m", "third: new data")
    dvc_config = repo / ".dvc/config"
    dvc_config.write_text(dvc_config.read_text() + "[core]\n    autostage = true\n")
    mine, head = dvc_config.read_text(), git(repo, "rev-parse", "HEAD")
    data = str(repo / "data")
    if os.geteuid() != 0:
        pytest.skip("a read-only bind mount needs root")
    if subprocess.run(["mount", "--bind", data, data], capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", data], check=True, capture_output=True)
        proc = mlv(repo, "checkout", "HEAD~2", check=False)
    finally:
        subprocess.run(["umount", "-l", data], check=False)
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "Read-only file system" in line and data in line and "nothing was changed (HEAD is back at" in line
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert dvc_config.read_text() == mine
    assert git(repo, "status", "--porcelain") == "M .dvc/config"  # (the helper strips the leading blank)
