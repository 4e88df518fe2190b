"""Branches, tags and HEAD: reading refs, moving them safely, and the registry's annotated tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlv.adapters.git.process import IDENTITY_HINT, identity_problem, out, run
from mlv.errors import GitError

ZERO_SHA = "0" * 40


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


def advance_ref(root: Path, ref: str, new: str, old: str | None, reason: str) -> None:
    """Move REF to NEW only if it still points at OLD: the atomic step that publishes a commit."""
    proc = run(["update-ref", "-m", reason, ref, new, old or ZERO_SHA], root, check=False)
    if proc.returncode != 0:
        raise GitError(
            f"{ref} moved while mlv was working; nothing was changed",
            hint="Run the command again.",
        )


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


def branch_exists(root: Path, name: str) -> bool:
    return run(["rev-parse", "-q", "--verify", f"refs/heads/{name}"], root, check=False).returncode == 0


def delete_branch(root: Path, name: str, expected: str) -> None:
    """Delete branch NAME only if it still points at EXPECTED (undoes a branch mlv just made)."""
    run(["update-ref", "-d", f"refs/heads/{name}", expected], root, check=False)


def create_tracking_branch(root: Path, name: str, upstream: str) -> None:
    """The local branch NAME at the remote-tracking branch UPSTREAM (`origin/NAME`), following it."""
    run(["branch", "--quiet", "--track", "--end-of-options", name, upstream], root)


def revision_exists(root: Path, rev: str) -> bool:
    """Whether REV (`ORIG_HEAD`, a branch, a sha) names an object in this repository."""
    return run(["rev-parse", "-q", "--verify", "--end-of-options", rev], root, check=False).returncode == 0


def current_branch(root: Path) -> str | None:
    """The name of the branch HEAD is on, or None when HEAD is detached or the branch has no commits."""
    ref = head_ref(root)
    if ref is None or head_sha(root) is None:
        return None
    return ref.removeprefix("refs/heads/")


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


def create_annotated_tag(root: Path, name: str, commit: str, message: str, *, sign: bool = False) -> None:
    """Create the annotated tag NAME on COMMIT, signed with the user's key when SIGN (`git tag -s`);
    refuses (GitError) when it exists already.

    `git tag` without -f never moves an existing tag, so two writers racing for one name cannot
    both succeed: the loser gets the error.
    """
    proc = run(["tag", "-s" if sign else "-a", *([] if sign else ["--no-sign"]), "-F", "-", "--", name, commit],
               root, input_bytes=message.encode(), check=False)
    if proc.returncode != 0:
        _refuse_without_identity(root, f"the tag {name!r} cannot be made")
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitError(f"git refused the tag {name!r}: {detail[-1] if detail else 'unknown error'}")


def _refuse_without_identity(root: Path, consequence: str) -> None:
    """After git refused to write: when the reason is that it does not know who the user is, say so
    and how to fix it (asked only on failure, so the common path costs no extra git call)."""
    problem = identity_problem(root)
    if problem is not None:
        raise GitError(f"git does not know who you are ({problem}), so {consequence}; nothing was changed",
                       hint=IDENTITY_HINT)


def branches_containing(root: Path, commit: str) -> list[str]:
    """Local branches whose history contains COMMIT (short names)."""
    raw = out(["for-each-ref", "--format=%(refname:short)", f"--contains={commit}", "refs/heads/"], root)
    return [line for line in raw.splitlines() if line]


def tag_names(root: Path) -> list[str]:
    """Every local tag's name."""
    return [line.removeprefix("refs/tags/") for line in
            out(["for-each-ref", "--format=%(refname)", "refs/tags"], root).splitlines() if line]


def ref_sha(root: Path, ref: str) -> str | None:
    """The sha REF points at, or None when it does not exist."""
    proc = run(["rev-parse", "-q", "--verify", ref], root, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def previous_checkout(root: Path) -> str | None:
    """What `git checkout -` goes back to: the branch checked out before (its name), or the commit
    when HEAD was detached there; None when nothing was checked out before."""
    proc = run(["rev-parse", "--symbolic-full-name", "@{-1}"], root, check=False)
    name = proc.stdout.decode("utf-8", errors="surrogateescape").strip() if proc.returncode == 0 else ""
    if name.startswith("refs/heads/"):
        return name.removeprefix("refs/heads/")
    proc = run(["rev-parse", "--verify", "-q", "@{-1}"], root, check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def commits_left_behind(root: Path, old: str, new: str) -> list[str]:
    """Commits reachable from OLD that neither NEW nor any branch, tag or remote-tracking branch
    reaches (newest first): what git warns about when HEAD leaves a detached commit."""
    raw = out(["rev-list", old, "--not", new, "--branches", "--tags", "--remotes"], root)
    return raw.split()
