"""Meta-tests: every command and option is documented, the reference is current, start-up is lean."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import typer.main

from mlv.cli.app import app
from tests.conftest import REPO_ROOT


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path, command
        if hasattr(command, "commands"):
            yield from _commands(command, path)


def test_every_command_and_option_has_help_and_every_command_an_example() -> None:
    root = typer.main.get_command(app)
    found = list(_commands(root))
    assert len(found) >= 4
    for path, command in found:
        assert command.help, f"mlv {' '.join(path)} has no help"
        assert "Example" in command.help, f"mlv {' '.join(path)} --help has no example"  # groups too
        for param in command.params:
            if param.param_type_name == "option":
                assert getattr(param, "help", None), f"mlv {' '.join(path)} {param.opts[0]} has no help"


def test_read_commands_offer_json() -> None:
    root = typer.main.get_command(app)
    for path, command in _commands(root):
        if path[-1] in {"log", "show", "diff", "status"}:
            options = {opt for p in command.params for opt in getattr(p, "opts", [])}
            assert "--json" in options, f"mlv {' '.join(path)} lacks --json"


def test_cli_reference_is_generated_and_current() -> None:
    result = subprocess.run([sys.executable, "scripts/gen_cli_docs.py", "--check", "docs/reference/cli.md"],
                            cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    reference = (REPO_ROOT / "docs/reference/cli.md").read_text()
    for path, _ in _commands(typer.main.get_command(app)):
        assert f"## mlv {' '.join(path)}\n" in reference


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys; from mlv.cli import app; "
            "heavy = [m for m in ('dvc', 'rich.table', 'sklearn', 'pydantic', 'yaml', 'git') if m in sys.modules]; "
            "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
