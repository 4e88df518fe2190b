"""A command that rewrites its own input: the record pins the input as the command read it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import git, mlv

# Reads data/raw.bin (137 KiB, 1 file), writes a model from it, then replaces data/ with two
# smaller files (27 KiB): what a "cleaning" step that writes back into its input folder does.
REWRITER = """\
import hashlib, pathlib, shutil
raw = pathlib.Path("data/raw.bin").read_bytes()
pathlib.Path("models").mkdir(exist_ok=True)
pathlib.Path("models/model.txt").write_text(hashlib.md5(raw).hexdigest() + "\\n")
shutil.rmtree("data")
pathlib.Path("data").mkdir()
pathlib.Path("data/part-1.bin").write_bytes(raw[: 20 * 1024])
pathlib.Path("data/part-2.bin").write_bytes(raw[20 * 1024 : 27 * 1024])
print("rows: 3")
"""


@pytest.fixture
def rewriting_repo(repo: Path) -> Path:
    (repo / "data").mkdir()
    (repo / "data/raw.bin").write_bytes(bytes(range(256)) * 548)  # 137 KiB
    (repo / "rewrite.py").write_text(REWRITER)
    mlv(repo, "init")
    (repo / ".mlv/config.yaml").write_text("data: [data]\noutputs: [models]\ncommand: python rewrite.py\n")
    git(repo, "add", "rewrite.py")
    return repo


def test_an_input_the_run_rewrote_is_recorded_as_read_and_flagged(rewriting_repo: Path) -> None:
    repo = rewriting_repo
    result = mlv(repo, "snapshot", "--run", "python rewrite.py", "-m", "rewrites its input", "--json")
    doc = json.loads(result.stdout)
    record = doc["record"]
    [data] = record["data"]
    assert (data["size"], data["nfiles"]) == (137 * 1024 + 0, 1)
    assert record["modified_by_run"] == ["data"]
    assert any("the command changed its input data (137.0 KiB, 1 file before the run, 27.0 KiB, 2 files after)"
               in w for w in doc["warnings"])
    # The commit's pointer file pins the same content as the record: the record is true to its tree.
    pointer = git(repo, "show", "HEAD:data.dvc")
    assert data["md5"] in pointer and "nfiles: 1" in pointer
    show = mlv(repo, "show")
    assert "modified_by_run: recorded as the command read it" in show.stdout
    assert "rewritten" not in show.stdout
    log = json.loads(mlv(repo, "log", "--json").stdout)
    assert "modified_by_run" in log[0]["labels"]

    # reproduce restores the content the command first read, so the re-run trains on it again.
    verdict = mlv(repo, "reproduce", "HEAD", "--yes", "--json", check=False)
    judged = json.loads(verdict.stdout)
    assert judged["verdict"] == "reproduced", verdict.stderr
    assert judged["modified_by_run"] == ["data"]


def test_the_configuration_can_refuse_such_a_run(rewriting_repo: Path) -> None:
    repo = rewriting_repo
    config = repo / ".mlv/config.yaml"
    config.write_text(config.read_text() + "snapshot:\n  inputs_modified: refuse\n")
    result = mlv(repo, "snapshot", "--run", "python rewrite.py", check=False)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    match = re.fullmatch(
        r"error: the command changed its input data \(137.0 KiB, 1 file before the run, 27.0 KiB, 2 files after\); "
        r"no experiment commit was made. Write results outside `data:`, or set `snapshot: \{inputs_modified: "
        r"record\}` in .mlv/config.yaml; what the command read is in the DVC cache as ([0-9a-f]{32}).dir.",
        lines[0])
    assert match, lines[0]
    digest = match.group(1)
    assert (repo / ".dvc/cache/files/md5" / digest[:2] / f"{digest[2:]}.dir").is_file()
    assert git(repo, "rev-list", "--all") == ""


def test_an_input_left_alone_is_not_flagged(rewriting_repo: Path) -> None:
    repo = rewriting_repo
    (repo / "rewrite.py").write_text(REWRITER.split("shutil.rmtree", maxsplit=1)[0])
    record = json.loads(mlv(repo, "snapshot", "--run", "python rewrite.py", "--json").stdout)["record"]
    assert "modified_by_run" not in record
