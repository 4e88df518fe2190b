"""Asks a running Watchman what changed under the tracked paths, so unchanged data is not walked.

Builtins only (os; socket and json only once a Watchman socket exists): the git hooks import this
on their fast path. Watchman's JSON protocol over its unix socket costs one connection and a few
round trips; no client library or subprocess is needed.

mlv never starts Watchman: it uses one that runs (the socket named by `WATCHMAN_SOCK`, which
Watchman's own clients honour, or Watchman's default socket for this user). `MLV_WATCHER=off`,
or `watcher: off` in .mlv/config.yaml, turns it off.

The answer is trusted only when Watchman vouches for it: a clock from another Watchman instance (a
restart, a dropped watch), a recrawl warning (events were lost) or any error means "unknown", and
the caller walks. Each query first syncs with the file system (Watchman writes a cookie file and
waits to see it), so a change made before the query is in its answer.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing costs milliseconds to import; mypy reads the block
if TYPE_CHECKING:
    import socket
    from typing import Any

_TIMEOUT = 10.0  # seconds; a first watch of a large tree crawls it before answering
_SYNC_MS = 5000  # how long Watchman may wait to see its cookie file
_MAX_ANSWER = 64 << 20  # bytes: a reply larger than this is not worth parsing; walk instead
IGNORE_FILE = ".dvcignore"  # a change to one changes what a walk lists, whatever else changed
UNWATCHED_FOLDERS = frozenset({".git", ".hg", ".svn"})  # Watchman's ignore_vcs: never reported


class WatcherError(Exception):
    """Watchman did not answer as expected; the caller walks instead."""


def disabled_by_env() -> bool:
    return os.environ.get("MLV_WATCHER", "").strip().lower() in {"off", "0", "false", "no"}


def disabled_by_config(root: str) -> bool:
    """`watcher: off` in ROOT's .mlv/config.yaml, read without a YAML parser (the hooks have none):
    only a top-level `watcher:` line counts, and only an explicit off turns it off (mlv.project.config
    validates the key for every other command)."""
    try:
        with open(os.path.join(root, ".mlv", "config.yaml"), "rb") as f:
            text = f.read(1 << 20).decode("utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("watcher:"):
            value = line[len("watcher:"):].split("#", 1)[0].strip().strip("'\"").lower()
            return value in {"off", "false", "no"}
    return False


def _default_socket() -> str | None:
    """Watchman's default socket for this user ($TMPDIR/USER-state/sock), if it is ours."""
    try:
        import pwd

        user = pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return None
    path = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"{user}-state", "sock")  # noqa: S108 - Watchman's own default
    try:
        st = os.stat(path)
    except OSError:
        return None
    # Another user could place a socket there; only one of our own is asked.
    return path if st.st_uid == os.getuid() else None


def socket_path() -> str | None:
    return os.environ.get("WATCHMAN_SOCK") or _default_socket()


class Watcher:
    """One connection to Watchman, watching the repository at ROOT."""

    def __init__(self, sock: socket.socket, root: str) -> None:
        self._sock = sock
        self._buffer = b""
        answer = self._ask(["watch-project", root])
        self._watch = str(answer["watch"])
        self._relative = answer.get("relative_path")
        # Folders the watch ignores (a repository's .watchmanconfig may name any): changes under
        # them are never reported, so no path overlapping one is vouched for.
        config = self._ask(["get-config", self._watch]).get("config") or {}
        ignored = config.get("ignore_dirs") or [] if isinstance(config, dict) else None
        if not isinstance(ignored, list) or not all(isinstance(d, str) for d in ignored):
            raise WatcherError("unreadable ignore_dirs")
        self._ignored = [d.strip("/") for d in ignored]

    def close(self) -> None:
        self._sock.close()

    def _ask(self, command: list[Any]) -> dict[str, Any]:
        import json

        try:
            self._sock.sendall(json.dumps(command).encode() + b"\n")
            while True:
                answer = json.loads(self._line())
                if not isinstance(answer, dict):
                    raise WatcherError("not a JSON object")
                if not answer.get("unilateral"):
                    break
        except (OSError, ValueError) as e:
            raise WatcherError(str(e)) from e
        if "error" in answer:
            raise WatcherError(str(answer["error"]))
        return answer

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            chunk = self._sock.recv(1 << 20)
            if not chunk:
                raise WatcherError("Watchman closed the connection")
            self._buffer += chunk
            if len(self._buffer) > _MAX_ANSWER:
                raise WatcherError("answer too large")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _scoped(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._relative:
            params["relative_root"] = self._relative
        return params

    def _in_watch(self, ignored: str) -> str:
        """IGNORED (relative to the watch root) relative to the repository, as tracked paths are."""
        if not self._relative:
            return ignored
        prefix = str(self._relative).strip("/") + "/"
        if ignored.startswith(prefix):
            return ignored[len(prefix):]
        return "" if prefix.startswith(ignored + "/") else "\0outside"  # "" overlaps everything

    def clock(self) -> str:
        """Watchman's clock now, after it has seen every change made before this call."""
        answer = self._ask(["clock", self._watch, {"sync_timeout": _SYNC_MS}])
        return str(answer["clock"])

    def changed(self, since: str, paths: list[str]) -> set[str] | None:
        """The repository-relative names under PATHS (and any .dvcignore) that changed since clock
        SINCE; None when Watchman cannot vouch for it (another instance's clock, lost events)."""
        if any(_overlap(path, self._in_watch(ignored)) for path in paths for ignored in self._ignored):
            return None
        terms: list[Any] = [["name", IGNORE_FILE, "basename"]]
        for path in paths:
            terms += [["name", path, "wholename"], ["dirname", path]]
        query = self._scoped({"since": since, "fields": ["name"], "expression": ["anyof", *terms],
                              "empty_on_fresh_instance": True, "sync_timeout": _SYNC_MS})
        answer = self._ask(["query", self._watch, query])
        if answer.get("is_fresh_instance") or "warning" in answer:
            return None
        files = answer.get("files")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            return None
        return set(files)


def _overlap(a: str, b: str) -> bool:
    """Whether repository paths A and B are the same, or one is inside the other ("" is the root)."""
    return a == b or not a or not b or a.startswith(b + "/") or b.startswith(a + "/")


def connect(root: str) -> Watcher | None:
    """A Watcher for the repository at ROOT, or None when Watchman is off, absent or failing."""
    if disabled_by_env() or disabled_by_config(root):
        return None
    path = socket_path()
    if path is None:
        return None
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(_TIMEOUT)
    try:
        sock.connect(path)
        return Watcher(sock, root)
    except (OSError, WatcherError, KeyError):
        sock.close()
        return None


def mode(root: str) -> str:
    """"watcher" when Watchman answers for ROOT, else "walk"."""
    watcher = connect(root)
    if watcher is None:
        return "walk"
    watcher.close()
    return "watcher"
