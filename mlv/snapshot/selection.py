"""What a snapshot commits: tracked changes, the project's own files, and untracked files only on request.

`git add -A` would take every untracked file into the experiment commit: a `.env` with a key,
`dist/`, a report a command wrote. As `dvc exp save` does, a snapshot commits what git already
tracks (changed or staged) and the files that make up the project as mlv and DVC know it; other
untracked, un-ignored files are listed and left out unless the user asks for them
(`--include-untracked`, or `snapshot: {include_untracked: true}` in the configuration).
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field

from mlv.env.environment import PROJECT_LOCKFILE_PATTERNS
from mlv.pipeline import dvcfiles
from mlv.project import config

# Files that configure the project itself: committed even when new (`mlv init` and `dvc init`
# write them, and a snapshot without them could not be reproduced by anyone).
PROJECT_FILES = frozenset({
    config.CONFIG_FILE, ".dvc/config", ".dvc/.gitignore", ".dvcignore",
    dvcfiles.PIPELINE_FILE, dvcfiles.LOCK_FILE,
})
SHOWN_LEFT_OUT = 10  # untracked files named in the warning; the rest are counted


@dataclass
class UntrackedChoice:
    """The untracked files a snapshot takes, and those it leaves out (listed to the user)."""

    taken: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def warning(self) -> str | None:
        if not self.left_out:
            return None
        shown = ", ".join(self.left_out[:SHOWN_LEFT_OUT])
        more = len(self.left_out) - SHOWN_LEFT_OUT
        extra = f" and {more} more" if more > 0 else ""
        return (f"left out of the commit (untracked): {shown}{extra}; `git add` what belongs to the experiment, "
                "or pass --include-untracked")


def declared_files(cfg: config.ProjectConfig, pipeline: dvcfiles.Pipeline | None) -> set[str]:
    """The params, metrics and plots files the configuration and `dvc.yaml` declare."""
    found = {*cfg.params, *cfg.metrics}
    if pipeline is not None:
        found.update(pipeline.params, pipeline.metrics, pipeline.plots)
    return found


def is_project_file(path: str, declared: set[str]) -> bool:
    """Whether an untracked PATH belongs to the project as mlv and DVC declare it."""
    name = posixpath.basename(path)
    if path in PROJECT_FILES or name == ".gitignore" or path in declared:
        return True
    if "/" not in path and any(fnmatch.fnmatchcase(path, p) for p in PROJECT_LOCKFILE_PATTERNS):
        return True  # the project's own lockfile (requirements.txt, uv.lock): the record fingerprints it
    if any(path.startswith(f"{d}/") for d in declared):
        return True  # a declared plots or metrics folder
    # A DVC pointer file (`dvc add` wrote it), never one inside DVC's own folder.
    return name.endswith(".dvc") and name != ".dvc" and not path.startswith(".dvc/")


def choose_untracked(untracked: Sequence[str], excluded: Sequence[str], declared: set[str],
                     include_all: bool) -> UntrackedChoice:
    """Split UNTRACKED (minus paths under EXCLUDED, which DVC keeps) into taken and left out."""
    prefixes = tuple(f"{p.rstrip('/')}/" for p in excluded)
    choice = UntrackedChoice()
    for path in untracked:
        if path in excluded or path.startswith(prefixes):
            continue
        if include_all or is_project_file(path, declared):
            choice.taken.append(path)
        else:
            choice.left_out.append(path)
    return choice
