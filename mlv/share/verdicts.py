"""Saved verdicts travel with `mlv push` and `mlv pull`.

`mlv reproduce --save` keeps each re-run on a branch `mlv/reproduced/<sha10>[-N]`. Push sends
the ones the remote lacks (after the branch, like the registry's tags); pull fetches the remote's
into remote-tracking refs and makes a local branch only for a name this clone does not have, so a
local verdict is never overwritten. A fetched verdict is a claim like any other: the registry's
gates and `mlv log` count it only once its evidence checks out (mlv.verdict.evidence).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlv.adapters import git
from mlv.errors import GitError

PREFIX = "mlv/reproduced/"


def local_verdicts(root: Path) -> dict[str, str]:
    """Branch name (`mlv/reproduced/...`) -> the commit it ends at, for every saved verdict here."""
    return {ref.name: ref.target for ref in git.for_each_ref(root, [f"refs/heads/{PREFIX}"], max_contents=0)}


def unpushed_verdicts(root: Path, remote: str) -> dict[str, str]:
    """The saved verdicts REMOTE does not have as they are here (as far as its tracking refs know)."""
    return {name: sha for name, sha in local_verdicts(root).items()
            if git.ref_sha(root, f"refs/remotes/{remote}/{name}") != sha}


def push_verdicts(root: Path, remote: str, verdicts: dict[str, str], env: Mapping[str, str]) -> str | None:
    """Push VERDICTS' branches to REMOTE (never forced); a warning when the remote refused them."""
    if not verdicts:
        return None
    try:
        git.push_refs(root, remote, [f"refs/heads/{name}:refs/heads/{name}" for name in sorted(verdicts)], env=env)
    except GitError as exc:
        return f"the saved verdicts were not pushed ({exc.message}); the branch and its data were"
    return None


def pull_verdicts(root: Path, remote: str) -> int:
    """Fetch REMOTE's saved verdicts; a local branch is made for each name not here. How many were made."""
    git.fetch(root, remote, f"+refs/heads/{PREFIX}*:refs/remotes/{remote}/{PREFIX}*")
    made = 0
    mine = local_verdicts(root)
    for ref in git.for_each_ref(root, [f"refs/remotes/{remote}/{PREFIX}"], max_contents=0):
        name = ref.name.removeprefix(f"remotes/{remote}/").removeprefix(f"refs/remotes/{remote}/")
        if name.startswith(PREFIX) and name not in mine:
            git.advance_ref(root, f"refs/heads/{name}", ref.target, None, f"mlv pull: saved verdict from {remote}")
            made += 1
    return made
