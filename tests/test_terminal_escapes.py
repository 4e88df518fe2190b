"""Text from a repository never reaches the terminal raw.

A hostile commit's record can hold terminal escapes: `ESC 7 ... ESC 8 ESC [K` in the recorded
command would show a harmless command in `mlv reproduce`'s prompt while the real one runs. Every
human rendering shows control characters as escapes, and rich markup in a message prints as written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pty
import re
import subprocess
from pathlib import Path

import pytest

from mlv.record import record
from tests.conftest import VENV_BIN, git, mlv
from tests.terminal_helpers import TERMINAL_ENV, terminal_stdout

ESC = "\x1b"
# Saves the cursor, draws a harmless command over the real one, restores, clears the rest.
HOSTILE_COMMAND = "python train.py; echo pwned \x1b7\x1b[1A\x1b[2Kpython train.py\x1b8\x1b[K"
HOSTILE_MESSAGE = "[bold]loud[/bold] \x1b[31mred\x1b[0m\nbody \x1b]8;;http://evil\x07link\x9b2J"
HOSTILE_PARAM = "lr\x1b[2J"
HOSTILE_METRIC = "acc\x1b]0;owned\x07"


def _hostile_commit(repo: Path) -> str:
    """A commit on top of HEAD whose record names a hostile command, params and metrics."""
    _, doc = record.split_message(git(repo, "log", "-1", "--format=%B"))
    assert doc is not None
    rec = record.Record.from_dict(doc)
    rec.command = HOSTILE_COMMAND
    rec.params = {"params.yaml": {HOSTILE_PARAM: 0.5, "[red]depth": "\x1b[31mdeep"}}
    rec.metrics = {"metrics.json": {HOSTILE_METRIC: 0.25, "loss": 1.0}}
    rec.data = [dataclasses.replace(item, path=f"{item.path}\x1b[2K") for item in rec.data]
    message = repo / ".git" / "hostile-message"
    message.write_text(record.render_message(HOSTILE_MESSAGE, rec), encoding="utf-8")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "--cleanup=verbatim", "-F", str(message))
    return git(repo, "rev-parse", "HEAD")


def _no_raw_controls(proc: subprocess.CompletedProcess[str]) -> None:
    for name, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        assert ESC not in text, f"raw ESC in {name}:\n{text!r}"
        assert "\x07" not in text and "\x9b" not in text, f"raw control character in {name}:\n{text!r}"


@pytest.fixture
def hostile_repo(experiment_repo: Path) -> Path:
    _hostile_commit(experiment_repo)
    return experiment_repo


def test_show_makes_every_control_character_visible(hostile_repo: Path) -> None:
    proc = mlv(hostile_repo, "show")
    _no_raw_controls(proc)
    out = proc.stdout
    assert "command   python train.py; echo pwned \\x1b7\\x1b[1A\\x1b[2Kpython train.py\\x1b8\\x1b[K" in out
    assert ("message   [bold]loud[/bold] \\x1b[31mred\\x1b[0m\n"
            "          body \\x1b]8;;http://evil\\x07link\\x9b2J") in out
    assert "param     params.yaml.lr\\x1b[2J = 0.5" in out
    assert "param     params.yaml.[red]depth = \\x1b[31mdeep" in out
    assert "metric    metrics.json.acc\\x1b]0;owned\\x07 = 0.25" in out
    assert "\\x1b[2K  md5" in out  # the data path


def test_show_json_stays_exact(hostile_repo: Path) -> None:
    proc = mlv(hostile_repo, "show", "--json")
    _no_raw_controls(proc)
    doc = json.loads(proc.stdout)
    assert doc["command"] == HOSTILE_COMMAND
    assert doc["message"] == HOSTILE_MESSAGE
    assert HOSTILE_PARAM in doc["params"]["params.yaml"]


def test_log_table_shows_escapes_and_markup_literally(hostile_repo: Path) -> None:
    _no_raw_controls(mlv(hostile_repo, "log"))  # piped: tab-separated, escaped too
    proc = mlv(hostile_repo, "log", env=terminal_stdout(250))  # the table, as a terminal gets it
    # The table's own colours are SGR sequences; the repository's `\x1b[2J`, OSC and BEL would not
    # be removed by this, so what is left must hold no control character at all.
    proc.stdout = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    _no_raw_controls(proc)
    assert "[bold]loud[/bold]" in proc.stdout  # markup from the repository is text, not style
    assert "lr\\x1b[2J=0.5" in proc.stdout
    assert "[red]depth=\\x1b[31mdeep" in proc.stdout


def test_diff_terminal_and_markdown(hostile_repo: Path) -> None:
    for args in ((), ("--md",)):
        proc = mlv(hostile_repo, "diff", "HEAD~1", "HEAD", *args, env={"COLUMNS": "250"})
        _no_raw_controls(proc)
        assert "lr\\x1b[2J" in proc.stdout
        assert "acc\\x1b]0;owned\\x07" in proc.stdout
        assert "\\x1b7\\x1b[1A\\x1b[2Kpython train.py\\x1b8\\x1b[K" in proc.stdout
        # Markdown escapes the brackets (no link can form); the terminal prints them literally.
        assert ("\\[bold\\]loud\\[/bold\\]" if args else "[bold]loud[/bold]") in proc.stdout
        assert "[red]depth" in proc.stdout


def test_reproduce_prompt_shows_the_real_command(hostile_repo: Path) -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([str(Path(VENV_BIN) / "mlv"), "reproduce", "HEAD"], cwd=hostile_repo,
                            stdin=secondary, stdout=subprocess.PIPE, stderr=secondary, text=True,
                            env={**os.environ, **TERMINAL_ENV})
    os.close(secondary)
    seen = b""
    try:
        while b"[y/N]" not in seen:
            chunk = os.read(primary, 1024)
            assert chunk, seen
            seen += chunk
        os.write(primary, b"n\n")
        stdout, _ = proc.communicate(timeout=120)
        with contextlib.suppress(OSError):
            while chunk := os.read(primary, 4096):
                seen += chunk
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2
    assert b"\x1b" not in seen and ESC not in stdout
    assert b"Run `python train.py; echo pwned \\x1b7\\x1b[1A\\x1b[2Kpython train.py\\x1b8\\x1b[K`" in seen
    assert b"command: python train.py; echo pwned \\x1b7" in seen


def test_error_lines_show_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from mlv.cli.errors import handle_errors
    from mlv.errors import MlvError

    with pytest.raises(typer.Exit), handle_errors():
        raise MlvError("cannot read data\x1b[2J/file", hint="Look at it.")
    assert capsys.readouterr().err == "error: cannot read data\\x1b[2J/file. Look at it.\n"


def test_hook_lines_show_control_characters(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from mlv.errors import MlvError
    from mlv.hooks import run

    def fail(hook: str, args: list[str]) -> int:
        raise MlvError("data\x1b]0;x\x07 is broken")

    monkeypatch.setattr(run, "_run", fail)
    assert run.main(["pre-commit"]) == 1
    assert capsys.readouterr().err == "mlv pre-commit hook: error: data\\x1b]0;x\\x07 is broken.\n"


def test_visible() -> None:
    from mlv.text import visible

    assert visible("a\x1b[2Jb\tc\r\nd\x7f\x9b\u202e") == "a\\x1b[2Jb\\tc\\r\\nd\\x7f\\x9b\\u202e"
    assert visible("one\ntwo\x1b", newlines=True) == "one\ntwo\\x1b"
    assert visible(b"caf\xff".decode("utf-8", "surrogateescape")) == "caf\\xff"
    assert visible("plain, ünïcode and [brackets]") == "plain, ünïcode and [brackets]"
