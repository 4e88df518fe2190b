"""Generate docs/reference/cli.md from the typer app, so the reference cannot drift from the code.

    python scripts/gen_cli_docs.py > docs/reference/cli.md
    python scripts/gen_cli_docs.py --check docs/reference/cli.md   # CI: fail when out of date
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from typer.testing import CliRunner

from mlv.cli.app import app

HEADER = """# CLI reference

Generated from the application by `make docs` (scripts/gen_cli_docs.py); CI fails when it is out of
date. Exit codes: 0 success, 1 user error, 2 could not run (reproduce), 3 unexpected error,
64 usage error, 130 interrupted, 143 terminated (see [exit codes](exit-codes.md)).
"""


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], prog_name="mlv",
                                env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"})
    if result.exit_code != 0:
        raise SystemExit(f"mlv {' '.join(args)} --help failed: {result.output}")
    return result.output.rstrip() + "\n"


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = []
    for info in app.registered_commands:
        if info.name:
            paths.append([info.name])
    for group in app.registered_groups:
        name = group.name or ""
        sub = group.typer_instance
        paths.append([name])
        if sub is not None:
            paths.extend([name, c.name] for c in sub.registered_commands if c.name)
    return sorted(paths)


def render() -> str:
    parts = [HEADER, "## mlv\n", "```text", help_text().rstrip(), "```\n"]
    for path in command_paths():
        parts += [f"## mlv {' '.join(path)}\n", "```text", help_text(*path).rstrip(), "```\n"]
    return "\n".join(parts)


def main() -> int:
    os.environ["COLUMNS"] = "100"
    text = render()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        current = Path(sys.argv[2]).read_text("utf-8") if Path(sys.argv[2]).exists() else ""
        if current != text:
            sys.stderr.write(f"{sys.argv[2]} is out of date: run `make docs` and commit it.\n")
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
