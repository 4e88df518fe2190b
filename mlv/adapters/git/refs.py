"""All of mlv's access to git, as verb-named functions.

We call the `git` executable directly (as pre-commit does): it is what the user runs, honours
their configuration and hooks, and costs a few milliseconds per call, far less than importing a
git library on the hot paths (`mlv snapshot` with nothing changed, the git hooks). Every failure
becomes a `GitError` whose message says what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlv.errors import GitError

ZERO_SHA = "0" * 40
# Variables git sets for hooks. Inside a hook they would redirect our own git calls to the
# caller's repository or index, so we drop them unless we set them ourselves.
_HOOK_VARIABLES = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX", "GIT_OBJECT_DIRECTORY")


def _git_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HOOK_VARIABLES}
    env.setdefault("LC_ALL", "C")
    if extra:
        env.update(extra)
    return env


def run(
    args: Sequence[str],
    cwd: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git ARGS` in CWD and return the completed process (stdout as bytes)."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=_git_env(env),
            input=input_bytes,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed or not on PATH", hint="Install git and try again."
        ) from None
    if check and proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        last = detail[-1] if detail else f"exit code {proc.returncode}"
        raise GitError(f"git {args[0]} failed: {last}")
    return proc


def out(args: Sequence[str], cwd: Path | str, **kwargs: object) -> str:
    """Run git and return its stdout as text without the trailing newline."""
    proc = run(args, cwd, **kwargs)  # type: ignore[arg-type]
    return proc.stdout.decode("utf-8", errors="surrogateescape").rstrip("\n")


def require_git() -> None:
    if shutil.which("git") is None:
        raise GitError("git is not installed or not on PATH", hint="Install git and try again.")


@dataclass(frozen=True)
class RepoPaths:
    root: Path  # top of the work tree
    git_dir: Path  # this work tree's private git folder (.git/worktrees/NAME in a linked one)
    common_dir: Path  # the git folder shared by all worktrees (objects, config, refs)
    hooks_dir: Path  # where git looks for hooks (honours core.hooksPath)


_PATHS_CACHE: dict[str, RepoPaths] = {}


def repo_paths(start: Path | str) -> RepoPaths:
    """Where the repository containing START keeps everything, from a single git call."""
    key = os.fspath(start)
    cached = _PATHS_CACHE.get(key)
    if cached is not None:
        return cached
    require_git()
    proc = run(["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir",
                "--git-path", "hooks"], start, check=False)
    if proc.returncode != 0:
        raise GitError(
            f"{Path(start).resolve()} is not inside a git repository",
            hint="Run `git init` first, or `mlv init --git`.",
        )
    lines = proc.stdout.decode("utf-8", errors="surrogateescape").splitlines()
    top, gdir, common, hooks = lines[:4]
    root = Path(top)
    paths = RepoPaths(
        root=root,
        git_dir=Path(gdir),
        common_dir=_absolute(Path(start), common),
        hooks_dir=_absolute(Path(start), hooks),
    )
    _PATHS_CACHE[key] = paths
    _PATHS_CACHE[os.fspath(root)] = paths
    return paths


def _absolute(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()


def find_root(start: Path | str) -> Path:
    """The top of the work tree that contains START."""
    return repo_paths(start).root


def init(path: Path) -> None:
    run(["init", "-q"], path)


def git_dir(root: Path) -> Path:
    """This work tree's private git folder (`.git`, or `.git/worktrees/NAME` in a linked one)."""
    return repo_paths(root).git_dir


def common_dir(root: Path) -> Path:
    """The git folder shared by all worktrees (holds hooks, config and objects)."""
    return repo_paths(root).common_dir


def head_sha(root: Path) -> str | None:
    """The commit HEAD points at, or None in a repository with no commits yet."""
    proc = run(["rev-parse", "-q", "--verify", "HEAD^{commit}"], root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def head_ref(root: Path) -> str | None:
    """The branch HEAD points at (`refs/heads/x`), or None when HEAD is detached."""
    proc = run(["symbolic-ref", "-q", "HEAD"], root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def resolve_commit(root: Path, rev: str) -> str:
    """The full sha of REV, or a GitError naming it."""
    proc = run(["rev-parse", "-q", "--verify", "--end-of-options", f"{rev}^{{commit}}"], root, check=False)
    if proc.returncode != 0:
        raise GitError(
            f"unknown revision {rev!r}",
            hint="Give a commit sha, branch, tag or HEAD~N; `mlv log` lists experiments.",
        )
    return proc.stdout.decode().strip()


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
    raw = run(["status", "--porcelain=v1", "-z", "--untracked-files=all"], root).stdout
    entries = raw.decode("utf-8", errors="surrogateescape").split("\0")
    paths: list[str] = []
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
        paths.append(path)
    return paths


def hash_objects(root: Path, blobs: Sequence[bytes]) -> list[str]:
    """Store several blobs with one git call (through temporary files in the git folder)."""
    if not blobs:
        return []
    folder = git_dir(root) / "mlv" / "blobs"
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for number, data in enumerate(blobs):
        files.append(folder / f"{os.getpid()}-{number}")
        files[-1].write_bytes(data)
    try:
        listing = "".join(f"{f}\n" for f in files).encode()
        shas = out(["hash-object", "-w", "--no-filters", "--stdin-paths"], root, input_bytes=listing)
    finally:
        for file in files:
            file.unlink(missing_ok=True)
    return shas.splitlines()


def read_blob(root: Path, rev: str, path: str) -> bytes | None:
    """The bytes of PATH at REV, or None when it does not exist there."""
    proc = run(["cat-file", "blob", f"{rev}:{path}"], root, check=False)
    return proc.stdout if proc.returncode == 0 else None


def read_blobs(root: Path, specs: Sequence[str]) -> dict[str, bytes | None]:
    """Many `REV:PATH` (or sha) blobs in one `git cat-file --batch` process.

    A spec with a line break (a path from a hostile record) is never sent: it would be read as two
    requests and shift every answer after it. Its answer is None, as for a missing object.
    """
    result: dict[str, bytes | None] = {spec: None for spec in specs if "\n" in spec}
    specs = [spec for spec in specs if "\n" not in spec]
    if not specs:
        return result
    proc = run(["cat-file", "--batch"], root, input_bytes="".join(f"{s}\n" for s in specs).encode())
    data = proc.stdout
    pos = 0
    for spec in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] != b"missing":
            size = int(header[2])
            result[spec] = data[pos : pos + size]
            pos += size + 1
        else:
            result[spec] = None
    return result


def object_ids(root: Path, specs: Sequence[str]) -> dict[str, str | None]:
    """The object id each `REV:PATH` (or `REV^{tree}`) names, None when missing, in one
    `git cat-file --batch-check` process: no content is read, so many specs cost little."""
    result: dict[str, str | None] = {spec: None for spec in specs if "\n" in spec}
    specs = [spec for spec in specs if "\n" not in spec]
    if not specs:
        return result
    proc = run(["cat-file", "--batch-check=%(objectname) %(objecttype)"], root,
               input_bytes="".join(f"{s}\n" for s in specs).encode())
    for spec, line in zip(specs, proc.stdout.decode("utf-8", errors="replace").split("\n"), strict=False):
        words = line.split()
        result[spec] = words[0] if len(words) == 2 and words[1] != "missing" else None
    return result


def ls_tree_paths(root: Path, rev: str, pattern_suffix: str = "") -> list[str]:
    """Every file path at REV (optionally only those ending with PATTERN_SUFFIX)."""
    raw = run(["ls-tree", "-r", "-z", "--name-only", rev], root).stdout
    names = [n for n in raw.decode("utf-8", errors="surrogateescape").split("\0") if n]
    return [n for n in names if n.endswith(pattern_suffix)]


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
        shutil.copyfile(real, path)
    return TempIndex(root, path)


def stage_all_except(index: TempIndex, excluded: Sequence[str]) -> None:
    """Stage every change and untracked, non-ignored file, leaving EXCLUDED paths out of git."""
    if excluded:
        index.run(["rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *excluded])
    # git refuses an exclude pathspec that names an ignored path, and needs none for it anyway.
    ignored = check_ignore(index.root, list(excluded))
    specs = [f":(top,exclude,literal){p}" for p in excluded if p not in ignored]
    index.run(["add", "-A", "--", ":(top)", *specs])


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


def write_tree(index: TempIndex) -> str:
    return index.run(["write-tree"])


def commit_tree(root: Path, tree: str, parent: str | None, message: str) -> str:
    args = ["commit-tree", tree]
    if parent:
        args += ["-p", parent]
    return out([*args, "-F", "-"], root, input_bytes=message.encode())


def advance_ref(root: Path, ref: str, new: str, old: str | None, reason: str) -> None:
    """Move REF to NEW only if it still points at OLD: the atomic step that publishes a commit."""
    proc = run(["update-ref", "-m", reason, ref, new, old or ZERO_SHA], root, check=False)
    if proc.returncode != 0:
        raise GitError(
            f"{ref} moved while mlv was working; nothing was changed",
            hint="Run the command again.",
        )


def run_hook(root: Path, name: str, args: Sequence[str], env: Mapping[str, str]) -> int:
    """Run the repository's NAME hook like `git commit` would; 0 when it is absent."""
    hook = repo_paths(root).hooks_dir / name
    if not os.access(hook, os.X_OK):
        return 0  # saves spawning git on every snapshot of a repository without hooks
    proc = subprocess.run(
        ["git", "hook", "run", "--ignore-missing", name, "--", *args],
        cwd=root,
        env=_git_env(env),
        check=False,
    )
    return proc.returncode


def log_shas(root: Path, rev: str | Sequence[str], grep: str, limit: int | None) -> list[str]:
    """Shas of the commits reachable from REV whose message has a line matching the extended regex
    GREP, newest first. git filters and stops after LIMIT, so a long history costs nothing. REV may
    be several arguments (`["--branches"]`).

    Only shas: a message can hold any byte, so no separator in `git log` output is safe for it
    (`commit_messages` reads messages with their exact lengths instead).
    """
    args = ["log", "-E", f"--grep={grep}", "--format=%H"]
    if limit is not None:
        args.append(f"--max-count={limit}")
    revs = [rev] if isinstance(rev, str) else list(rev)
    return out([*args, *revs, "--"], root).split()


def first_commit_with_object(root: Path, obj: str, revs: Sequence[str]) -> str | None:
    """The oldest commit reachable from REVS that added the blob OBJ (`git log --find-object`)."""
    shas = out(["log", "--format=%H", f"--find-object={obj}", *revs, "--"], root, check=False).split()
    return shas[-1] if shas else None


def commit_messages(root: Path, shas: Sequence[str]) -> dict[str, str]:
    """The message of each commit in SHAS, read in one git process."""
    objects = read_blobs(root, list(shas))
    return {sha: message_of(objects[sha] or b"") for sha in shas}


def commit_tree_and_message(root: Path, sha: str) -> tuple[str | None, str]:
    """The tree and the message of commit SHA, read in one git process."""
    commit_object = read_blobs(root, [sha])[sha] or b""
    return tree_of_commit_object(commit_object), message_of(commit_object)


def tree_of_commit_object(commit_object: bytes | None) -> str | None:
    """The tree sha from a raw commit object's first header line."""
    if not commit_object or not commit_object.startswith(b"tree "):
        return None
    return commit_object[5:commit_object.index(b"\n")].decode("ascii", errors="replace")


def message_of(commit_object: bytes) -> str:
    """The message of a raw commit object (headers, a blank line, then the message)."""
    text = commit_object.decode("utf-8", errors="replace")
    _, _, message = text.partition("\n\n")
    return message


def check_ignore(root: Path, paths: Sequence[str]) -> set[str]:
    """Which PATHS git ignores."""
    if not paths:
        return set()
    proc = run(["check-ignore", "--no-index", "-z", "--stdin"], root,
               input_bytes="\0".join(paths).encode() + b"\0", check=False)
    return {p for p in proc.stdout.decode("utf-8", errors="surrogateescape").split("\0") if p}


def identity_problem(root: Path) -> str | None:
    """Why git could not name the author or committer of a commit here; None when it can.

    `git var` applies the same strict rules as `git commit` (config, GIT_AUTHOR_EMAIL, EMAIL,
    auto-detection, user.useConfigOnly), so the answer is git's own.
    """
    for variable in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        proc = run(["var", variable], root, check=False)
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", errors="replace").strip().splitlines()
            return lines[-1].removeprefix("fatal: ") if lines else "no name or email is configured"
    return None


def config_get(root: Path, key: str) -> str | None:
    proc = run(["config", "--get", key], root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


# -- diffs (mlv diff) ------------------------------------------------------------------------------


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
            shutil.copyfile(index, private)
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


# -- linked worktrees and checkout (mlv reproduce, mlv checkout) ---------------------------------


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


def branch_exists(root: Path, name: str) -> bool:
    return run(["rev-parse", "-q", "--verify", f"refs/heads/{name}"], root, check=False).returncode == 0


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


def delete_branch(root: Path, name: str, expected: str) -> None:
    """Delete branch NAME only if it still points at EXPECTED (undoes a branch mlv just made)."""
    run(["update-ref", "-d", f"refs/heads/{name}", expected], root, check=False)


# -- hooks (mlv.hooks.run) -----------------------------------------------------------------------


def staged_listing(root: Path, specs: Sequence[str], index_file: str | None = None) -> bytes:
    """`git ls-files -s -z` of the staged files matching SPECS, from INDEX_FILE (default: the
    repository's index). Raw, because the pre-commit hook script pipes the same listing to Python."""
    env = {"GIT_INDEX_FILE": index_file} if index_file else None
    return run(["ls-files", "-s", "-z", "--", *specs], root, env=env).stdout


def revision_exists(root: Path, rev: str) -> bool:
    """Whether REV (`ORIG_HEAD`, a branch, a sha) names an object in this repository."""
    return run(["rev-parse", "-q", "--verify", "--end-of-options", rev], root, check=False).returncode == 0


def diff_names(root: Path, revs: Sequence[str], pathspec: str) -> list[str]:
    """Paths matching PATHSPEC that differ between REVS, as `git diff REVS` compares them
    (`["A", "B"]`, or `["--cached", "A"]` for the index against A); renames count as two paths."""
    raw = out(["diff", "--name-only", "--no-renames", "-z", *revs, "--", pathspec], root)
    return [p for p in raw.split("\0") if p]


# -- sharing (mlv push, mlv pull) ----------------------------------------------------------------


def current_branch(root: Path) -> str | None:
    """The name of the branch HEAD is on, or None when HEAD is detached or the branch has no commits."""
    ref = head_ref(root)
    if ref is None or head_sha(root) is None:
        return None
    return ref.removeprefix("refs/heads/")


def remote_names(root: Path) -> list[str]:
    """The repository's git remotes, by name."""
    return out(["remote"], root).split()


def is_ancestor(root: Path, old: str, new: str) -> bool:
    """Whether commit OLD is reachable from NEW (so moving from OLD to NEW is a fast-forward)."""
    return run(["merge-base", "--is-ancestor", old, new], root, check=False).returncode == 0


def count_commits(root: Path, tip: str, *, excluded: Sequence[str] = (), not_on_remote: str | None = None) -> int:
    """How many commits are reachable from TIP but from none of EXCLUDED, nor from any
    remote-tracking branch of NOT_ON_REMOTE."""
    args = ["rev-list", "--count", tip, "--not", *excluded]
    if not_on_remote:
        args.append(f"--remotes={not_on_remote}")
    return int(out(args, root))


def blobs_not_on_remote(root: Path, tips: Sequence[str], remote: str,
                        excluded: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(blob sha, path) of every file version in the commits reachable from TIPS but from none of
    EXCLUDED nor REMOTE's remote-tracking branches ("" for none): what a push would send."""
    # Blobs only, so a folder whose name ends like a file (`.dvc/`) is never listed.
    args = ["rev-list", "--objects", "--filter=object:type=blob", "--ignore-missing", *tips, "--not"]
    if remote:
        args.append(f"--remotes={remote}")
    found = []
    for line in out([*args, *excluded], root).splitlines():
        sha, _, path = line.partition(" ")
        if path:
            found.append((sha, path))
    return found


def fetch(root: Path, remote: str, refspec: str) -> None:
    """`git fetch REMOTE REFSPEC`, quietly."""
    proc = run(["fetch", "--quiet", remote, refspec], root, check=False)
    if proc.returncode != 0:
        raise GitError(f"git fetch from {remote} failed: {_failure_reason(proc.stderr, 'fetch')}",
                       hint="Check the remote's URL (`git remote -v`) and that the branch exists there.")


def is_shallow(root: Path) -> bool:
    """True in a shallow clone (CI checkouts often are: `fetch-depth: 1`)."""
    return out(["rev-parse", "--is-shallow-repository"], root).strip() == "true"


def fetch_refs(root: Path, remote: str, refspecs: Sequence[str], *, unshallow: bool = False) -> None:
    """`git fetch [--unshallow] REMOTE REFSPEC...`, quietly; a GitError with git's reason."""
    args = ["fetch", "--quiet", *(["--unshallow"] if unshallow else []), remote, *refspecs]
    proc = run(args, root, check=False)
    if proc.returncode != 0:
        raise GitError(f"git fetch from {remote} failed: {_failure_reason(proc.stderr, 'fetch')}")


def push_refs(root: Path, remote: str, refspecs: Sequence[str], *, set_upstream: bool = False,
              env: Mapping[str, str] | None = None) -> None:
    """`git push REMOTE REFSPECS`, quietly (with `--set-upstream` when asked)."""
    args = ["push", "--quiet", *(["--set-upstream"] if set_upstream else []), remote, *refspecs]
    proc = run(args, root, env=env, check=False)
    if proc.returncode != 0:
        reason = _failure_reason(proc.stderr, "push")
        behind = "rejected" in reason or "fetch first" in reason
        raise GitError(f"git push to {remote} failed: {reason}",
                       hint="Run `mlv pull` first, then push again." if behind
                       else "Check the remote's URL (`git remote -v`) and your access to it.")


def fast_forward(root: Path, rev: str, *, env: Mapping[str, str] | None = None) -> None:
    """Move the current branch, index and work tree forward to REV; never makes a merge commit."""
    proc = run(["merge", "--ff-only", "--quiet", rev], root, env=env, check=False)
    if proc.returncode != 0:
        raise GitError(f"git could not fast-forward to {rev[:10]}: {_failure_reason(proc.stderr, 'merge')}",
                       hint="Commit or stash your changes, then run the command again.")


def _failure_reason(stderr: bytes, what: str) -> str:
    """The line of git's stderr that says why it failed (git prints hints and progress too)."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    useful = [line for line in lines if line.startswith(("error:", "fatal:", "!")) or "rejected" in line]
    return (useful or lines or [f"git {what} failed"])[0].removeprefix("error: ").removeprefix("fatal: ")


# -- tags and refs (mlv model: the registry) -------------------------------------------------------


@dataclass(frozen=True)
class RefEntry:
    """One ref from `for_each_ref`: an annotated tag's tagger fields are empty for other objects."""

    name: str  # refs/tags/ or refs/heads/ stripped (never git's ambiguous-aware short form)
    object_type: str  # "tag" for an annotated tag, "commit" for a branch or a lightweight tag
    target: str  # the commit it ends at (peeled through an annotated tag)
    tagger: str
    tagger_email: str
    date: int  # tagger date of a tag, committer date of a commit (unix seconds)
    contents: str  # the message, cut at MAX_CONTENTS bytes
    truncated: bool


# A message is read in full by git but kept only up to this size: registry metadata is a few KB,
# and a huge hand-made tag message must not make every read slow or memory-hungry downstream.
MAX_CONTENTS = 256 * 1024


def for_each_ref(root: Path, patterns: Sequence[str], max_contents: int = MAX_CONTENTS) -> list[RefEntry]:
    """Every ref matching PATTERNS with its message, in ONE git call.

    Each record is a header line ending with the byte size of the message, then exactly that many
    bytes: no separator a message could contain can confuse the parser.
    """
    fmt = ("%(refname)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(taggername)%00"
           "%(taggeremail:trim)%00%(taggerdate:unix)%00%(committerdate:unix)%00%(contents:size)%0a%(contents)")
    raw = run(["for-each-ref", f"--format={fmt}", *patterns], root).stdout
    entries: list[RefEntry] = []
    pos = 0
    while pos < len(raw):
        end = raw.index(b"\n", pos)
        fields = raw[pos:end].decode("utf-8", errors="replace").split("\0")
        size = int(fields[8] or 0)
        body = raw[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1  # for-each-ref ends every record with a newline
        name, kind, obj, peeled, tagger, email, tag_date, commit_date = fields[:8]
        short = name.split("/", 2)[2] if name.startswith(("refs/tags/", "refs/heads/")) else name
        entries.append(RefEntry(
            name=short, object_type=kind, target=peeled or obj, tagger=tagger, tagger_email=email,
            date=int(tag_date or commit_date or 0),
            contents=body[:max_contents].decode("utf-8", errors="replace"), truncated=size > max_contents,
        ))
    return entries


def check_tag_name(root: Path, name: str) -> bool:
    """True when git accepts NAME as a tag name (`git check-ref-format`)."""
    return run(["check-ref-format", f"refs/tags/{name}"], root, check=False).returncode == 0


def create_annotated_tag(root: Path, name: str, commit: str, message: str) -> None:
    """Create the annotated tag NAME on COMMIT; refuses (GitError) when it exists already.

    `git tag` without -f never moves an existing tag, so two writers racing for one name cannot
    both succeed: the loser gets the error.
    """
    proc = run(["tag", "-a", "--no-sign", "-F", "-", "--", name, commit], root, input_bytes=message.encode(),
               check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git refused the tag {name!r}: {detail[-1] if detail else 'unknown error'}")


def branches_containing(root: Path, commit: str) -> list[str]:
    """Local branches whose history contains COMMIT (short names)."""
    raw = out(["for-each-ref", "--format=%(refname:short)", f"--contains={commit}", "refs/heads/"], root)
    return [line for line in raw.splitlines() if line]


def tag_names(root: Path) -> list[str]:
    """Every local tag's name."""
    return [line.removeprefix("refs/tags/") for line in
            out(["for-each-ref", "--format=%(refname)", "refs/tags"], root).splitlines() if line]


# -- refs and index files (publishing a snapshot) --------------------------------------------------


def ref_sha(root: Path, ref: str) -> str | None:
    """The sha REF points at, or None when it does not exist."""
    proc = run(["rev-parse", "-q", "--verify", ref], root, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


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


def symlinks_in_tree(root: Path, rev: str, paths: Sequence[str]) -> list[str]:
    """The paths among PATHS (and below them) that REV's tree holds as symlinks."""
    listing = out(["--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", rev, "--", *paths], root)
    return [entry.partition("\t")[2] for entry in listing.split("\0") if entry.startswith("120000 ")]


_MAX_TREE_ENTRIES = 200_000  # per listing: a hostile tree cannot make a reader build millions of rows
_MAX_TREE_DEPTH = 200


def tree_listings(root: Path, commits: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each commit's files as path -> object id (blob, or commit for a submodule), every tree object
    read once in one `git cat-file --batch` per level of folders, however many commits share it."""
    raw: dict[str, bytes | None] = {}
    pending = {f"{sha}^{{tree}}" for sha in commits}
    roots = {sha: f"{sha}^{{tree}}" for sha in commits}
    for _level in range(_MAX_TREE_DEPTH + 1):
        if not pending:
            break
        raw.update(read_blobs(root, sorted(pending)))
        pending = {child for spec in pending for child in _subtrees(raw[spec]) if child not in raw}
    flat: dict[str, list[tuple[str, str]]] = {}
    return {sha: dict(_flatten_tree(raw, spec, flat)) for sha, spec in roots.items()}


def _tree_entries(data: bytes | None) -> list[tuple[bool, str, str]]:
    """(is a folder, name, object id) of a raw tree object: `MODE NAME\\0<20-byte id>` repeated."""
    entries: list[tuple[bool, str, str]] = []
    pos = 0
    while data and pos < len(data) and len(entries) < _MAX_TREE_ENTRIES:
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space]
        entries.append((mode == b"40000", data[space + 1:nul].decode("utf-8", "surrogateescape"),
                        data[nul + 1:nul + 21].hex()))
        pos = nul + 21
    return entries


def _subtrees(data: bytes | None) -> list[str]:
    return [oid for is_dir, _name, oid in _tree_entries(data) if is_dir]


def _flatten_tree(raw: dict[str, bytes | None], spec: str, flat: dict[str, list[tuple[str, str]]],
                  depth: int = 0) -> list[tuple[str, str]]:
    """(path, id) of every file under tree SPEC; each distinct tree is flattened once (FLAT).
    Folders nested deeper than _MAX_TREE_DEPTH are left out (they would exhaust the stack)."""
    if spec in flat:
        return flat[spec]
    if depth > _MAX_TREE_DEPTH:
        return []
    found: list[tuple[str, str]] = []
    for is_dir, name, oid in _tree_entries(raw.get(spec)):
        if is_dir:
            found.extend((f"{name}/{path}", blob) for path, blob in _flatten_tree(raw, oid, flat, depth + 1))
        else:
            found.append((name, oid))
        if len(found) > _MAX_TREE_ENTRIES:
            break
    flat[spec] = found
    return found
