"""The CI recipes of docs/ci/ pass zizmor's audit of GitHub Actions workflows at its default persona,
offline: actions pinned by commit, least permissions per job, no credentials left for the code of
a pull request. (GitLab's file is not a GitHub workflow; zizmor skips it, test_ci_loop checks it.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import VENV_BIN

DOCS_CI = Path(__file__).resolve().parent.parent / "docs" / "ci"
ZIZMOR = str(Path(VENV_BIN) / "zizmor")


def _audit(*paths: Path) -> tuple[int, list[dict[str, object]]]:
    # --offline: no network audits; --no-config: no zizmor.yml of the checkout may silence a finding.
    proc = subprocess.run([ZIZMOR, "--offline", "--no-config", "--format", "json", *map(str, paths)],
                          capture_output=True, text=True, check=False, timeout=120)
    return proc.returncode, json.loads(proc.stdout or "[]")


def test_zizmor_finds_nothing_in_the_recipes() -> None:
    recipes = sorted(DOCS_CI.glob("*.yml"))
    assert len(recipes) >= 4
    code, findings = _audit(*recipes)
    assert findings == [], json.dumps(findings, indent=1)[:4000]
    assert code == 0


def test_zizmor_would_catch_what_the_recipes_used_to_do(tmp_path: Path) -> None:
    """The audit can fail: an unpinned action and a token left in .git/config."""
    workflow = tmp_path / ".github" / "workflows" / "bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: pull_request\npermissions: write-all\njobs:\n  gate:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n      - run: make test\n")
    code, findings = _audit(workflow)
    kinds = {str(f.get("ident")) for f in findings}
    assert code != 0
    assert {"unpinned-uses", "artipacked"} <= kinds, kinds
