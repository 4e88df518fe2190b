"""Git remotes: fetch, push and fast-forward (`mlv push`, `mlv pull`), with git's reason on failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mlv.adapters.git.process import out, run
from mlv.errors import GitError


def remote_names(root: Path) -> list[str]:
    """The repository's git remotes, by name."""
    return out(["remote"], root).split()


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


def remote_tags(root: Path, remote: str) -> dict[str, str]:
    """REMOTE's tags (`git ls-remote --tags`): name -> the object the tag ref points at."""
    proc = run(["ls-remote", "--tags", "--refs", remote], root, check=False)
    if proc.returncode != 0:
        raise GitError(f"git ls-remote {remote} failed: {_failure_reason(proc.stderr, 'fetch')}")
    found = {}
    for line in proc.stdout.decode("utf-8", errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        found[ref.removeprefix("refs/tags/")] = sha
    return found


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
