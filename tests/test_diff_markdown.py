"""`mlv diff --md` against a golden file, on a repository whose every byte is fixed.

Nothing is trained (snapshots record files written by the test), so sizes, values and names are
the same on every machine; commit shas are replaced by placeholders before comparing. Regenerate
the golden file after an intended change with `MLV_UPDATE_GOLDEN=1 pytest tests/test_diff_markdown.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import git, mlv

GOLDEN = Path(__file__).resolve().parent / "golden" / "diff.md"


def _write(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_markdown_matches_the_golden_file(repo: Path) -> None:
    _write(repo, {
        "params.yaml": "train:\n  lr: 0.1\n  epochs: 10\n  model:\n    depth: 3\n",
        "metrics.json": '{"accuracy": 0.8, "loss": 0.5, "n_rows": 1000}\n',
        "train.py": "print('train')\n",
        "data/a.csv": "a\n1\n", "data/b.csv": "b\n2\n",
        "models/model.bin": "weights v1\n",
    })
    mlv(repo, "init")
    git(repo, "add", "train.py")
    mlv(repo, "snapshot", "-m", "baseline")
    (repo / "data" / "a.csv").unlink()
    _write(repo, {
        "params.yaml": "train:\n  lr: 0.05\n  epochs: 10\n  model:\n    depth: 4\n    width: 64\n",
        "metrics.json": '{"accuracy": 0.85, "loss": 0.4, "n_rows": 1200}\n',
        "train.py": "print('train')\nprint('deeper model')\n",
        "tools/a|b.py": "# a pipe in a file name must not break the table\n",
        "data/b.csv": "b\n2\n3\n", "data/odd|name.csv": "c\n",
        "models/model.bin": "weights v2, longer\n",
    })
    git(repo, "add", "tools/a|b.py")
    config = repo / ".mlv" / "config.yaml"
    config.write_text(config.read_text().replace("command: python train.py", "command: python train.py --deep"))
    mlv(repo, "snapshot", "-m", "deeper model")

    out = mlv(repo, "diff", "--md").stdout
    for rev, placeholder in (("HEAD", "NEWCOMMIT0"), ("HEAD~1", "OLDCOMMIT0")):
        out = out.replace(git(repo, "rev-parse", rev)[:10], placeholder)
    if os.environ.get("MLV_UPDATE_GOLDEN"):
        GOLDEN.write_text(out)
    assert out == GOLDEN.read_text()
