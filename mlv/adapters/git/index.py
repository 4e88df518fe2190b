"""Index files: a private index to prepare a commit without touching the user's, and reading
or setting entries of an index (the hooks, publishing a snapshot)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlv.adapters.git.process import git_dir, out, run


@dataclass(frozen=True)
class TempIndex:
    """A private index file, so a commit can be prepared without touching the user's index."""

    root: Path
    path: Path

    @property
    def env(self) -> dict[str, str]:
        return {"GIT_INDEX_FILE": str(self.path)}

    def run(self, args: Sequence[str], input_bytes: bytes | None = None) -> str:
        return out(args, self.root, env=self.env, input_bytes=input_bytes)


def new_temp_index(root: Path) -> TempIndex:
    """A private copy of the user's index: it keeps their stat data, so `git add -A` on it
    re-hashes only the files that changed, and the user's own index is never touched."""
    path = git_dir(root) / "mlv-snapshot.index"
    path.unlink(missing_ok=True)
    real = git_dir(root) / "index"
    if real.exists():
        shutil.copy2(real, path)  # its mtime too: git tells racily clean entries by it
    return TempIndex(root, path)


def stage_all_except(index: TempIndex, excluded: Sequence[str], excluded_names: Sequence[str] = ()) -> None:
    """Stage every change and untracked, non-ignored file, leaving EXCLUDED paths out of git, and
    files whose names match a glob of EXCLUDED_NAMES anywhere (half-written temporary files)."""
    stage_changes_except(index, excluded, untracked=None, excluded_names=excluded_names)


def stage_changes_except(index: TempIndex, excluded: Sequence[str], untracked: Sequence[str] | None,
                         excluded_names: Sequence[str] = ()) -> None:
    """Stage every change to a file the index knows, plus the UNTRACKED files named (None: every
    untracked, non-ignored file, as `git add -A`), leaving EXCLUDED paths out of git, and files
    whose names match a glob of EXCLUDED_NAMES anywhere."""
    if excluded:
        index.run(["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *excluded])
    # git refuses an exclude pathspec that names an ignored path, and needs none for it anyway.
    ignored = check_ignore(index.root, list(excluded))
    specs = [f":(top,exclude,literal){p}" for p in excluded if p not in ignored]
    specs += [f":(top,exclude,glob)**/{name}" for name in excluded_names]
    index.run(["add", "-A" if untracked is None else "-u", "--", ":(top)", *specs])
    if untracked:
        joined = "\0".join(f":(top,literal){p}" for p in untracked)
        index.run(["add", "--pathspec-from-file=-", "--pathspec-file-nul"],
                  input_bytes=joined.encode("utf-8", "surrogateescape"))


def stage_blobs(index: TempIndex, blobs: Mapping[str, str]) -> None:
    """Stage path -> blob sha entries (regular files) in one call."""
    if blobs:
        lines = "".join(f"100644 {sha}\t{path}\n" for path, sha in blobs.items())
        index.run(["update-index", "--add", "--index-info"], input_bytes=lines.encode())


def staged_paths_vs(index: TempIndex, base: str | None) -> list[str]:
    """Paths whose staged content differs from BASE (all staged paths when BASE is None)."""
    if base is None:
        raw = index.run(["ls-files", "-z"])
    else:
        raw = index.run(["diff", "--cached", "--name-only", "-z", "--no-renames", base])
    return [p for p in raw.split("\0") if p]


def staged_changes_vs(index: TempIndex, base: str | None) -> list[tuple[str, str]]:
    """(status letter, path) of every path whose staged content differs from BASE: A, M, D, T."""
    if base is None:
        return [("A", p) for p in staged_paths_vs(index, None)]
    raw = index.run(["diff", "--cached", "--name-status", "-z", "--no-renames", base])
    fields = [f for f in raw.split("\0") if f]
    return [(fields[i][:1], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


def write_tree(index: TempIndex) -> str:
    return index.run(["write-tree"])


def check_ignore(root: Path, paths: Sequence[str]) -> set[str]:
    """Which PATHS git ignores."""
    if not paths:
        return set()
    proc = run(["check-ignore", "--no-index", "-z", "--stdin"], root,
               input_bytes="\0".join(paths).encode() + b"\0", check=False)
    return {p for p in proc.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p}


def staged_listing(root: Path, specs: Sequence[str], index_file: str | None = None) -> bytes:
    """`git ls-files -s -z` of the staged files matching SPECS, from INDEX_FILE (default: the
    repository's index). Raw, because the pre-commit hook script pipes the same listing to Python."""
    env = {"GIT_INDEX_FILE": index_file} if index_file else None
    return run(["ls-files", "-s", "-z", "--", *specs], root, env=env).stdout


def diff_names(root: Path, revs: Sequence[str], pathspec: str) -> list[str]:
    """Paths matching PATHSPEC that differ between REVS, as `git diff REVS` compares them
    (`["A", "B"]`, or `["--cached", "A"]` for the index against A); renames count as two paths."""
    raw = out(["diff", "--name-only", "--no-renames", "-z", *revs, "--", pathspec], root)
    return [p for p in raw.split("\0") if p]


def index_entries(root: Path, index: Path) -> dict[str, str]:
    """Path -> "mode sha stage" of every entry in the index file INDEX."""
    raw = run(["ls-files", "-s", "-z"], root, env={"GIT_INDEX_FILE": str(index)}).stdout
    entries = {}
    for item in raw.split(b"\0"):
        if item:
            meta, _, path = item.partition(b"\t")
            entries[path.decode("utf-8", errors="surrogateescape")] = meta.decode()
    return entries


def update_index_entries(root: Path, index: Path, lines: Sequence[str]) -> None:
    """Set entries of the index file INDEX (`git update-index --index-info` lines, NUL-ended)."""
    run(["update-index", "-z", "--index-info"], root, env={"GIT_INDEX_FILE": str(index)},
        input_bytes="".join(lines).encode("utf-8", errors="surrogateescape"))


def pointer_files_known(root: Path) -> list[str]:
    """Every `*.dvc` file git knows of or would add: committed, staged or untracked, not ignored."""
    raw = out(["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.dvc"], root)
    return [name for name in raw.split("\0") if name]
