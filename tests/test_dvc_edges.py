"""DVC's edges, as DVC draws them: a `.dvcignore` inside a tracked folder is refused (DVC refuses
that layout), and an unchanged DVC 2 pointer file whose data has CRLF line endings (DVC 2 hashed
text with CRLF read as LF) is left byte for byte, in DVC 2's format. Checked with real `dvc`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import dvc, git, mlv, run_program
from tests.test_dvc_settings import dvc_clean

pytestmark = pytest.mark.slow

CONFIG = "version: 1\ndata:\n- {data}\noutputs: []\nparams: []\nmetrics: []\ncommand: null\npython: python\n"


def _project(root: Path, data: str) -> None:
    git(root, "init", "-q")
    dvc(root, "init", "-q")
    (root / ".mlv").mkdir()
    (root / ".mlv" / "config.yaml").write_text(CONFIG.format(data=data))


@pytest.mark.parametrize("where", ["data/.dvcignore", "data/sub/.dvcignore"])
def test_a_dvcignore_inside_a_tracked_folder_is_refused_as_dvc_refuses_it(repo: Path, where: str) -> None:
    _project(repo, "data")
    (repo / "data" / "sub").mkdir(parents=True)
    (repo / "data" / "a.csv").write_text("a\n")
    (repo / "data" / "sub" / "b.log").write_text("noise\n")
    (repo / where).write_text("*.log\n")
    refused = mlv(repo, "snapshot", "-m", "data", check=False)
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.count("\n") == 1 and where in refused.stderr and "Traceback" not in refused.stderr
    assert git(repo, "rev-list", "--all") == "" and not (repo / "data.dvc").exists()
    dvc_add = run_program("dvc", ["add", "data"], repo)
    assert dvc_add.returncode != 0 and "should not be in collected dir path" in dvc_add.stderr  # DVC agrees
    (repo / where).unlink()
    (repo / ".dvcignore").write_text("data/**/*.log\n")  # the way DVC accepts it
    mlv(repo, "snapshot", "-m", "data")
    dvc_clean(repo)


def test_an_unchanged_dvc2_file_with_crlf_data_is_left_byte_for_byte(repo: Path) -> None:
    _project(repo, "data.csv")
    raw = b"x,y\r\n1,2\r\n3,4\r\n"
    dvc2_md5 = hashlib.md5(raw.replace(b"\r\n", b"\n"), usedforsecurity=False).hexdigest()  # DVC 2's hash
    (repo / "data.csv").write_bytes(raw)
    obj = repo / ".dvc" / "cache" / dvc2_md5[:2] / dvc2_md5[2:]  # DVC 2's layout, DVC 2's content
    obj.parent.mkdir(parents=True)
    obj.write_bytes(raw)
    pointer = f"outs:\n- md5: {dvc2_md5}\n  size: {len(raw)}\n  path: data.csv\n".encode()
    (repo / "data.csv.dvc").write_bytes(pointer)
    (repo / ".gitignore").write_text("/data.csv\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "DVC 2 data")
    dvc_clean(repo)
    mlv(repo, "snapshot", "-m", "first experiment")
    assert git(repo, "diff", "HEAD~1", "HEAD", "--name-only", "--", "data.csv.dvc") == ""
    assert (repo / "data.csv.dvc").read_bytes() == pointer
    mlv(repo, "checkout", "HEAD~1")
    mlv(repo, "checkout", "main")
    assert (repo / "data.csv").read_bytes() == raw
    dvc_clean(repo)
