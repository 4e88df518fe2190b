"""`mlv report`: gather the document, render the page, write it. The CLI's only entry point here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlv.adapters import git
from mlv.report import gather, page, write


@dataclass(frozen=True)
class Written:
    path: Path
    experiments: int
    invalid: int


def write_report(root: Path, target: Path, selection: gather.Selection) -> Written:
    """Write the report of ROOT's SELECTION to TARGET; refuses a target inside the git directory."""
    path = write.check_target(target, [git.git_dir(root).resolve(), git.common_dir(root).resolve()])
    doc = gather.gather(root, selection)
    write.write_atomically(path, page.render(doc))
    invalid = sum(1 for e in doc["log"] if e.get("status") == "invalid")
    return Written(path, len(doc["log"]) - invalid, invalid)
