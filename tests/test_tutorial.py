"""docs/tutorial.md can be followed: every command block runs, in order, in a fresh home folder,
and every output block it shows matches what the commands print (loosely: each shown line's
leading word is found at the start of an output line; hashes, timings and sizes may differ)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

TUTORIAL = REPO_ROOT / "docs/tutorial.md"
MARKER = "@@mlv-tutorial-block"
_BLOCK = re.compile(r"```(sh|text)\n(.*?)```", re.DOTALL)


def blocks(markdown: str) -> list[tuple[str, str | None]]:
    """(commands, the output block right after them or None), for every ```sh block in order."""
    found: list[tuple[str, str | None]] = []
    previous_end = None
    for match in _BLOCK.finditer(markdown):
        kind, body = match.group(1), match.group(2)
        if kind == "sh":
            found.append((body, None))
        elif found and found[-1][1] is None and previous_end is not None and \
                not markdown[previous_end:match.start()].strip():
            found[-1] = (found[-1][0], body)
        previous_end = match.end()
    return found


def key_of(line: str) -> str:
    """What must appear of a shown output line: its first word (a `[sha]` prefix and `=value` dropped)."""
    text = re.sub(r"^\[[0-9a-f]+\]\s*", "", line.strip())
    return text.split()[0].split("=")[0] if text else ""


def test_the_blocks_are_found() -> None:
    found = blocks(TUTORIAL.read_text())
    assert len(found) >= 6 and "mlv push" in found[-2][0] and found[-2][1]
    assert key_of("[097c4613d5] baseline: x") == "baseline:" and key_of("  data  data  f3") == "data"


@pytest.mark.slow
def test_every_command_block_of_the_tutorial_runs_in_a_fresh_home(tmp_path: Path) -> None:
    found = blocks(TUTORIAL.read_text())
    work = tmp_path / "work"
    work.mkdir()
    script = ["set -euo pipefail", "exec 2>&1"]
    for number, (commands, _) in enumerate(found):
        # The tutorial's placeholder for the reader's clone of mlv is this checkout.
        script += [f"echo '{MARKER} {number}'", commands.replace("/path/to/mlv", str(REPO_ROOT))]
    script.append(f"echo '{MARKER} end'")
    env = {**os.environ, "HOME": str(tmp_path / "home")}  # isolated_env already made it fresh
    env.pop("MLV_SRC", None)
    # git's own defaults, as a new user has them: no init.defaultBranch (a bare remote's HEAD is
    # `master`), no advice settings. Only the identity comes from the environment.
    defaults = tmp_path / "git-defaults"
    defaults.write_text("")
    env["GIT_CONFIG_GLOBAL"] = str(defaults)
    assert subprocess.run(["git", "config", "init.defaultBranch"], env=env, check=False,
                          capture_output=True).returncode == 1
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=work, env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    parts = re.split(rf"^{MARKER} (\S+)\n", proc.stdout, flags=re.MULTILINE)
    outputs = dict(zip(parts[1::2], parts[2::2], strict=True))
    assert proc.returncode == 0 and "end" in outputs, (
        f"tutorial block {max((k for k in outputs if k != 'end'), key=int, default='?')} failed "
        f"(exit {proc.returncode}):\n{proc.stdout[-4000:]}")
    for number, (commands, shown) in enumerate(found):
        if shown is None:
            continue
        printed = [line.strip() for line in outputs[str(number)].splitlines()]
        for line in shown.splitlines():
            key = key_of(line)
            assert any(p.startswith(key) or f" {key}" in p for p in printed), (
                f"the tutorial shows {line.strip()!r} after\n{commands}\nbut the commands printed:\n"
                + "\n".join(printed))
    # The teammate's clone has the data and the experiments.
    teammate = work / "teammate"
    assert (teammate / "data/dataset.csv").is_file()
    assert "hold out 30%" in outputs[str(len(found) - 1)]


def test_push_warns_when_the_dvc_remote_is_not_committed(tmp_path: Path) -> None:
    from tests.conftest import SAMPLE_PROJECT, dvc, git, mlv

    repo, bare, store = tmp_path / "repo", tmp_path / "origin.git", tmp_path / "store"
    repo.mkdir()
    store.mkdir()
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "init", "-q")
    (repo / "data").mkdir()
    (repo / "data/d.csv").write_text("a\n1\n")
    (repo / "models").mkdir()
    (repo / "train.py").write_text((SAMPLE_PROJECT / "train.py").read_text())
    mlv(repo, "init")
    mlv(repo, "snapshot", "-m", "first")
    git(repo, "remote", "add", "origin", str(bare))
    dvc(repo, "remote", "add", "--local", "-d", "store", str(store))
    local_only = mlv(repo, "push")
    assert "warning: the DVC remote 'store' is not in the committed .dvc/config" in local_only.stderr
    dvc(repo, "remote", "remove", "--local", "store")
    dvc(repo, "remote", "add", "-d", "store", str(store))
    (repo / "data/d.csv").write_text("a\n2\n")
    mlv(repo, "snapshot", "-m", "second")  # commits .dvc/config with it
    assert "warning" not in mlv(repo, "push").stderr
