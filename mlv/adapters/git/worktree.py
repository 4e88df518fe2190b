"""The work tree: what changed in it, diffs against it, and linked worktrees and checkout
(`mlv reproduce`, `mlv checkout`)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mlv.adapters.git.process import git_dir, run
from mlv.adapters.git.refs import branch_exists, resolve_commit


def operation_in_progress(root: Path) -> str | None:
    """'merge', 'rebase', 'cherry-pick' or 'revert' when one is under way, else None."""
    gdir = git_dir(root)
    markers = {
        "MERGE_HEAD": "merge",
        "rebase-merge": "rebase",
        "rebase-apply": "rebase",
        "CHERRY_PICK_HEAD": "cherry-pick",
        "REVERT_HEAD": "revert",
    }
    for name, label in markers.items():
        if (gdir / name).exists():
            return label
    return None


def changed_paths(root: Path) -> list[str]:
    """Paths that differ from HEAD in the index or work tree, untracked ones included."""
    return [path for _, path in changed_paths_with_status(root)]


def changed_paths_with_status(root: Path) -> list[tuple[str, str]]:
    """(porcelain code, path) of each path that differs from HEAD; untracked files have code "??"."""
    # --no-optional-locks: a look (`mlv snapshot --dry-run`) must not refresh the index.
    raw = run(["--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all"], root).stdout
    entries = raw.decode("utf-8", errors="surrogateescape").split("\0")
    found: list[tuple[str, str]] = []
    skip_next = False
    for entry in entries:
        if skip_next:
            skip_next = False
            continue
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":
            skip_next = True  # the next field is the rename's source
        found.append((code, path))
    return found


@dataclass(frozen=True)
class FileChange:
    """One file that differs between two trees, with git's line counts (None when binary)."""

    status: str  # git's letter: A added, D deleted, M modified, T type changed, R renamed, C copied
    path: str
    old_path: str | None  # the source of a rename or copy
    added: int | None
    removed: int | None


def diff_files(root: Path, old: str, new: str | None) -> list[FileChange]:
    """Files that differ between commits OLD and NEW; NEW None means the work tree (tracked files).

    One process for both the status (--raw) and the line counts (--numstat). Against the work tree,
    git would refresh the stat data of the user's index (rewriting .git/index); it works on a
    private copy instead, so the user's index is never written.
    """
    args = ["diff", "--raw", "--numstat", "-z", "--find-renames", "--no-ext-diff", "--no-textconv",
            "--ignore-submodules=none", old]
    if new is not None:
        return _parse_diff_tokens(run([*args, new, "--"], root).stdout.split(b"\0"))
    gdir = git_dir(root)
    index, private = gdir / "index", gdir / f"mlv-diff-{os.getpid()}.index"
    try:
        if index.exists():
            shutil.copy2(index, private)  # its mtime too: git tells racily clean entries by it
        stdout = run([*args, "--"], root, env={"GIT_INDEX_FILE": str(private)}).stdout
    finally:
        private.unlink(missing_ok=True)
        Path(f"{private}.lock").unlink(missing_ok=True)
    return _parse_diff_tokens(stdout.split(b"\0"))


def _parse_diff_tokens(tokens: list[bytes]) -> list[FileChange]:
    """Parse `git diff --raw --numstat -z`: the raw records first, then the numstat ones."""
    names = [t.decode("utf-8", errors="surrogateescape") for t in tokens]
    raw: list[tuple[str, str, str | None]] = []
    counts: dict[str, tuple[int | None, int | None]] = {}
    i = 0
    while i < len(names):
        token = names[i]
        if token.startswith(":"):  # ":oldmode newmode oldsha newsha STATUS", then 1 or 2 paths
            status = token.split()[-1][0]
            if status in "RC":
                raw.append((status, names[i + 2], names[i + 1]))
                i += 3
            else:
                raw.append((status, names[i + 1], None))
                i += 2
        elif "\t" in token:  # "ADDED\tREMOVED\tPATH", or an empty PATH then SOURCE and DEST
            added, removed, path = token.split("\t", 2)
            if not path:
                path = names[i + 2]
                i += 2
            counts[path] = (None if added == "-" else int(added), None if removed == "-" else int(removed))
            i += 1
        else:
            i += 1
    return [FileChange(status, path, source, *counts.get(path, (None, None))) for status, path, source in raw]


def untracked_files(root: Path) -> list[str]:
    """Files in the work tree that git neither tracks nor ignores (paths from the root)."""
    raw = run(["ls-files", "--others", "--exclude-standard", "-z", "--full-name", "--", ":(top)"], root).stdout
    return [p for p in raw.decode("utf-8", errors="surrogateescape").split("\0") if p]


def worktree_add(root: Path, path: Path, commit: str) -> None:
    """A detached linked worktree at PATH holding COMMIT's files; runs no hook of the user's.

    `--no-checkout` keeps git from running post-checkout (a hook could restore data into it or
    fail); `reset --hard` inside the new worktree then writes the files and its own index.
    """
    run(["worktree", "add", "--quiet", "--detach", "--no-checkout", str(path), commit], root)
    run(["reset", "--quiet", "--hard", commit], path)


def worktree_remove(root: Path, path: Path) -> None:
    """Remove a linked worktree and git's record of it, even when it holds untracked files."""
    proc = run(["worktree", "remove", "--force", "--force", str(path)], root, check=False)
    if proc.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
    run(["worktree", "prune"], root, check=False)


def attach_head(root: Path, ref: str) -> None:
    """Point ROOT's HEAD at REF without touching its files or index (the ref holds HEAD's commit)."""
    run(["symbolic-ref", "HEAD", ref], root)


def checkout(root: Path, rev: str, *, force: bool = False) -> None:
    """`git checkout` REV: a branch name switches to that branch, anything else detaches HEAD."""
    args = ["checkout", "--quiet"]
    if force:
        args.append("--force")
    if branch_exists(root, rev):
        args.append(rev)
    else:
        args += ["--detach", resolve_commit(root, rev)]
    # mlv checkout restores the data itself; mlv's post-checkout hook doing it too is wasted work.
    run(args, root, env={"MLV_SKIP_HOOKS": "1"})
