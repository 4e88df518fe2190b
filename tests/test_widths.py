"""Every read command at 80 and 120 columns on a terminal, and piped: the values that say what a
row is about (commits, column names, paths, models, metrics) always appear whole, numbers are
never split across lines, no line ends in spaces, and a pipe is never wrapped."""

from __future__ import annotations

import fcntl
import itertools
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN, git, mlv
from tests.terminal_helpers import read_until_closed

pytestmark = pytest.mark.slow

MODEL = "household-income-regressor"
LONG_COLUMNS = ("median_bedrooms_per_household", "population_within_ten_kilometres", "id")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _on_a_terminal(repo: Path, args: list[str], columns: int) -> str:
    """mlv ARGS with stdout on a pty COLUMNS wide; what the terminal showed, without styles."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([str(Path(VENV_BIN) / "mlv"), *args], cwd=repo, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    seen = read_until_closed(master)
    proc.wait(timeout=30)
    os.close(master)
    return _ANSI.sub("", seen.decode().replace("\r\n", "\n"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three experiments, two of them registered under a long model name with a stage each, and
    a table with long column names beside a reference copy that drifted."""
    from tests.conftest import copy_sample_project, pinned

    home = tmp_path_factory.mktemp("home")
    repo = tmp_path_factory.mktemp("widths")
    with pinned(home):
        git(repo, "init", "-q")
        copy_sample_project(repo)
        mlv(repo, "init")
        for size in ("0.25", "0.3", "0.35"):
            params = repo / "params.yaml"
            params.write_text(re.sub(r"test_size: [0-9.]+", f"test_size: {size}", params.read_text()))
            mlv(repo, "snapshot", "--run", "python train.py", "-m", f"hold out {size} of the rows for the test set")
        for rev in ("HEAD~2", "HEAD"):
            mlv(repo, "model", "register", MODEL, rev)
        mlv(repo, "model", "promote", MODEL, "v0.0.1", "prod")
        mlv(repo, "model", "promote", MODEL, "v0.0.2", "staging")
    header = ",".join(LONG_COLUMNS) + "\n"
    for name, shift in (("reference.csv", 0), ("current.csv", 4)):
        (repo / name).write_text(header + "".join(f"{i % 7 + shift}.5,{i * 13 % 1000},{i}\n" for i in range(300)))
    return repo


def _commits(repo: Path) -> list[str]:
    return [line[:10] for line in git(repo, "log", "--format=%H", "-3").splitlines()]


READS = {
    "log": ["log"],
    "show": ["show"],
    "diff": ["diff", "HEAD~2", "HEAD"],
    "diff of three": ["diff", "HEAD~2", "HEAD~1", "HEAD"],
    "status": ["status"],
    "model list": ["model", "list"],
    "model show": ["model", "show", MODEL],
    "model history": ["model", "history", MODEL],
    "data profile": ["data", "profile", "current.csv"],
    "data check": ["data", "check", "current.csv", "--against-file", "reference.csv"],
}


def _expected(repo: Path, name: str) -> list[str]:
    """What must appear whole in NAME's output."""
    commits = _commits(repo)
    return {
        "log": [*commits, "mse"],
        "show": [commits[0], "train.test_size"],
        "diff": ["train.test_size", "mse"],
        "diff of three": ["HEAD~2", "HEAD~1", "train.test_size"],
        "status": [],
        "model list": [MODEL, "v0.0.2"],
        "model show": [MODEL, "v0.0.1", "v0.0.2"],
        "model history": ["v0.0.1 #prod", "v0.0.2 #staging"],
        "data profile": list(LONG_COLUMNS),
        "data check": list(LONG_COLUMNS[:2]),
    }[name]


TABLES = {"log", "diff", "diff of three", "model list", "model history", "data profile", "data check"}


def _check(text: str, wanted: list[str], width: int | None, table: bool = True) -> None:
    lines = text.splitlines()
    for value in wanted:
        assert any(value in line for line in lines), f"{value!r} is not whole in:\n{text}"
    assert all(line == line.rstrip() for line in lines), f"a line ends in spaces:\n{text}"
    if width is not None and table:  # prose lines (status, show) are the terminal's to wrap
        too_wide = [line for line in lines if len(line) > width and "left out to fit" not in line]
        assert not too_wide, f"wider than {width}:\n{text}"
    # A number is never split across lines: no line starts with digits that continue the
    # previous line's number (`2.50385e` / `8`).
    for before, after in itertools.pairwise(lines):
        assert not (re.search(r"[0-9.e]$", before) and re.match(r"^[0-9]", after) and len(before) == width), (
            f"a number is split:\n{before}\n{after}")


@pytest.mark.parametrize("name", list(READS))
@pytest.mark.parametrize("width", [80, 120])
def test_on_a_terminal_the_identifying_values_stay_whole(project: Path, name: str, width: int) -> None:
    _check(_on_a_terminal(project, READS[name], width), _expected(project, name), width, name in TABLES)


@pytest.mark.parametrize("name", list(READS))
def test_piped_output_is_never_wrapped_or_cut(project: Path, name: str) -> None:
    proc = mlv(project, *READS[name], check=False, env={"COLUMNS": "40"})
    assert proc.returncode in (0, 1), proc.stderr
    _check(proc.stdout, _expected(project, name), None)
    assert "left out to fit" not in proc.stdout


def test_log_keeps_commits_and_metrics_and_shortens_tags(project: Path) -> None:
    assert f"{MODEL}@v0.0.2 +1" in _on_a_terminal(project, ["log"], 120)  # a version and how many more
    text = _on_a_terminal(project, ["log"], 80)
    for metric in ("mse=", "r2="):
        assert metric in text
    assert all(len(line) <= 80 for line in text.splitlines() if "left out" not in line)
