"""What mlv's git hooks run: `python -S -c ... HOOK ARGS` (see mlv/hooks.py), or `mlv hooks run`.

Start-up is nearly all of a hook's cost when nothing changed, so this module's fast paths import
only builtin modules (os, sys, marshal, zlib, array): not pathlib, json, re, hashlib or
subprocess (each costs milliseconds), let alone typer, rich, PyYAML or DVC. The installed shell
script does the git side of the fast path itself (`git ls-files` of the staged pointer files for
pre-commit, `git diff --quiet` for post-checkout/post-merge, which then never start Python when no
pointer file changed). Everything else is imported where it is needed.

Everything a hook prints goes through `mlv.text.visible` (builtins only): paths and messages come
from the repository, and their control characters must be shown, not obeyed by the terminal.

Every hook first finishes an interrupted `mlv snapshot`, and does nothing in a repository without
`.mlv/config.yaml`, or when MLV_SKIP_HOOKS=1 (set by `mlv push`/`mlv pull`, which do the work).
"""

from __future__ import annotations

import os
import sys

from mlv import cachefile
from mlv.errors import DvcError, MlvError, UntrustedRemoteError, debugging, failure
from mlv.text import visible

TYPE_CHECKING = False  # typing costs ~10 ms to import; mypy still reads the block below
if TYPE_CHECKING:
    from typing import Any

    from mlv.adapters import dvc

CONFIG_FILE = ".mlv/config.yaml"
SKIP_VARIABLE = "MLV_SKIP_HOOKS"
STAGED_ON_STDIN = "--staged-on-stdin"  # pre-commit: the script pipes `git ls-files -s -z` to us
ZERO_SHA = "0" * 40
_CACHE_FILE = "mlv/hooks-cache.bin"
_CACHE_VERSION = 3  # 3: pointers cached by earlier versions were not checked for unsafe paths or hashes
_HOOK_VARIABLES = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_PREFIX", "GIT_OBJECT_DIRECTORY")


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: python -m mlv.hooks.run HOOK [ARGS...]\n")
        return 2
    hook = argv[0]
    blocking = hook in ("pre-commit", "pre-push")  # only these can stop anything (see _restore)
    try:
        return _run(hook, argv[1:])
    except (Exception, KeyboardInterrupt) as exc:  # a hook must never throw a traceback at the user
        if debugging() and not isinstance(exc, (MlvError, KeyboardInterrupt)):
            raise
        code, line = failure(exc)
        _say(f"mlv {hook} hook: {line}")
        # Only pre-commit and pre-push can stop anything (see _restore); Ctrl-C always stops.
        return code if blocking or isinstance(exc, KeyboardInterrupt) else 0


def _run(hook: str, args: list[str]) -> int:
    if os.environ.get(SKIP_VARIABLE) == "1":
        return 0
    root = _root()
    if root is None or not os.path.isfile(os.path.join(root, CONFIG_FILE)):
        return 0  # not an mlv project: stay out of the way, silently
    index_file = _take_index_file(root)
    gdir = _git_dir(root)
    if os.path.exists(os.path.join(gdir, "mlv", "publish-journal.json")):
        _recover(root)
        args = [a for a in args if a != STAGED_ON_STDIN]  # staged before recovery: read again
    return _dispatch(hook, args, root, gdir, index_file)


def _dispatch(hook: str, args: list[str], root: str, gdir: str, index_file: str | None) -> int:
    if hook == "pre-commit":
        staged = sys.stdin.buffer.read() if STAGED_ON_STDIN in args else None
        return pre_commit(root, gdir, index_file, staged)
    if hook == "post-checkout":
        old, new, flag = [*args, "", "", ""][:3]
        if not old:  # the pre-commit framework passes these through its environment instead
            old, new = os.environ.get("PRE_COMMIT_FROM_REF", ""), os.environ.get("PRE_COMMIT_TO_REF", "")
            flag = os.environ.get("PRE_COMMIT_CHECKOUT_TYPE", "")
        return post_checkout(root, old, new, flag)
    if hook == "post-merge":
        return post_merge(root)
    if hook == "pre-push":
        return pre_push(root, args, _pre_push_updates())
    _say(f"mlv: unknown hook {hook!r}")
    return 2


def _say(line: str) -> None:
    """One line on stderr, with the repository's control characters shown (see mlv.text)."""
    sys.stderr.write(visible(line) + "\n")


def _root() -> str | None:
    """git runs hooks at the top of the work tree; only ask git when called from elsewhere."""
    cwd = os.getcwd()
    if os.path.exists(os.path.join(cwd, ".git")):
        return cwd
    from pathlib import Path

    from mlv.adapters import git

    try:
        return str(git.find_root(Path(cwd)))
    except MlvError:
        return None


def _take_index_file(root: str) -> str | None:
    """The index git is committing from, then drop git's hook variables from our environment.

    `git commit -a` and `git commit PATH` commit from a temporary index, and `mlv snapshot` from a
    private one; the pointer files to check are the ones staged there. gitio strips the variable
    from its calls, so we hand it over explicitly; DVC, imported later, must not see it at all.
    """
    value = os.environ.get("GIT_INDEX_FILE")
    for name in _HOOK_VARIABLES:
        os.environ.pop(name, None)
    if not value:
        return None
    return value if os.path.isabs(value) else os.path.join(root, value)


def _git_dir(root: str) -> str:
    """This work tree's git folder, read from `.git` without starting git when we can."""
    dotgit = os.path.join(root, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:
        with open(dotgit, encoding="utf-8") as handle:
            text = handle.read().strip()
    except OSError:
        text = ""
    if text.startswith("gitdir:"):
        path = text[len("gitdir:"):].strip()
        return path if os.path.isabs(path) else os.path.normpath(os.path.join(root, path))
    from pathlib import Path

    from mlv.adapters import git

    return str(git.git_dir(Path(root)))


def _recover(root: str) -> None:
    from pathlib import Path

    from mlv.snapshot.publish import recover

    note = recover(Path(root))
    if note:
        _say(f"mlv: {note}")


# -- a small cache, so the fast paths need neither PyYAML nor the big stat cache -----------------


class HookCache:
    """Parsed pointer blobs, data fingerprints, the interpreter and its lockfile (.git/mlv/).

    Stored with marshal (a builtin, unlike json) through mlv.cachefile: a file from another Python
    version or a damaged one fails to load and only costs the work it saved.
    """

    def __init__(self, gdir: str) -> None:
        self.path = os.path.join(gdir, _CACHE_FILE)
        self.dirty = False
        doc: dict[str, Any] = cachefile.read(self.path, _CACHE_VERSION, "marshal") or {}
        self.pointers: dict[str, tuple[str, str]] = doc.get("pointers") or {}  # blob -> (path, md5)
        # path -> (fingerprint, md5, Watchman clock taken before that fingerprint's walk, or "")
        self.data: dict[str, tuple[str, ...]] = doc.get("data") or {}
        self.interpreter: dict[str, Any] = doc.get("interpreter") or {}  # key, path
        self.environment: dict[str, Any] = doc.get("environment") or {}  # interpreter, paths, stamp, lockfile

    def save(self) -> None:
        if not self.dirty:
            return
        if len(self.pointers) > 5000:  # old pointer blobs pile up over time; forget them all
            self.pointers = {}
        doc = {"pointers": self.pointers, "data": self.data,
               "interpreter": self.interpreter, "environment": self.environment}
        cachefile.write(self.path, doc, _CACHE_VERSION, "marshal")


def fingerprint(root: str, path: str, unwatchable: list[str] | None = None) -> str | None:
    """The StatChecksum of everything under ROOT/PATH, walked as hashing walks it (mlv.data.walk);
    None when PATH does not exist. This is the whole cost of an unchanged commit without a watcher:
    one stat per file, no reading. UNWATCHABLE gets what Watchman could not report a change of
    (followed symlinks, folders it ignores wherever they are)."""
    from mlv.data.walk import StatChecksum, walk
    from mlv.data.watcher import UNWATCHED_FOLDERS

    checksum = StatChecksum()
    try:
        for rel, full, st in walk(root, path, folders=True, followed=unwatchable):
            checksum.add(st)
            if unwatchable is not None and rel.endswith("/") and os.path.basename(rel[:-1]) in UNWATCHED_FOLDERS:
                unwatchable.append(full)
    except FileNotFoundError:
        return None
    return checksum.digest()


class _Watch:
    """A Watchman connection, opened on first use and only if one runs (mlv.data.watcher)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.opened = False
        self.watcher: Any = None

    def get(self) -> Any:
        if not self.opened:
            self.opened = True
            from mlv.data import watcher

            self.watcher = watcher.connect(self.root)
        return self.watcher

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()


def _vouched_md5(watch: _Watch, path: str, known: tuple[str, ...] | None) -> str | None:
    """The md5 in KNOWN when Watchman reports nothing changed under PATH since KNOWN's clock."""
    if known is None or len(known) < 3 or not known[2]:
        return None
    watcher = watch.get()
    if watcher is None:
        return None
    from mlv.data.watcher import IGNORE_FILE, WatcherError

    try:
        changed = watcher.changed(known[2], [path])
    except WatcherError:
        return None
    if changed is None or any(n == path or n.startswith(path + "/") or os.path.basename(n) == IGNORE_FILE
                              for n in changed):
        return None
    return known[1]


def _clock(watch: _Watch) -> str:
    """Watchman's clock now, or "" without one (nothing will be vouched for)."""
    watcher = watch.get()
    if watcher is None:
        return ""
    from mlv.data.watcher import WatcherError

    try:
        return str(watcher.clock())
    except WatcherError:
        return ""


def current_md5(root: str, gdir: str, path: str, cache: HookCache, watch: _Watch | None = None) -> str | None:
    """The md5 DVC would give PATH's content now (None when it does not exist)."""
    watch = watch or _Watch("")
    known = cache.data.get(path)
    if watch.root:
        md5 = _vouched_md5(watch, path, known)
        if md5 is not None:
            return md5
    clock = _clock(watch) if watch.root else ""  # before the walk: a change during it shows next time
    unwatchable: list[str] = []
    fp = fingerprint(root, path, unwatchable)
    if fp is None:
        return None
    clock = "" if unwatchable else clock
    if known and known[0] == fp:
        if clock and (len(known) < 3 or known[2] != clock):
            cache.data[path] = (fp, known[1], clock)
            cache.dirty = True
        return known[1]
    from pathlib import Path

    from mlv.data import track
    from mlv.data.statecache import StateCache

    state = StateCache.load(Path(gdir) / "mlv" / "state.json")
    md5 = track.track_paths(Path(root), [path], state, store=False)[0].md5
    state.save()
    cache.data[path] = (fp, md5, clock)
    cache.dirty = True
    return md5


def parse_staged(raw: bytes) -> list[tuple[str, str]]:
    """(blob sha, path) from `git ls-files -s -z` output."""
    found = []
    for entry in raw.decode("utf-8", errors="surrogateescape").split("\0"):
        if entry:
            meta, path = entry.split("\t", 1)
            found.append((meta.split()[1], path))
    return found


def staged_files(root: str, index_file: str | None, specs: list[str]) -> list[tuple[str, str]]:
    """(blob sha, path) of the staged files matching SPECS, from the index being committed."""
    from pathlib import Path

    from mlv.adapters import git

    return parse_staged(git.staged_listing(Path(root), specs, index_file))


def staged_pointers(root: str, blobs: list[tuple[str, str]], cache: HookCache) -> list[tuple[str, str]]:
    """(data path, md5) for pointer files given as (blob, pointer file)."""
    unknown = [(blob, path) for blob, path in blobs if blob not in cache.pointers]
    if unknown:
        from pathlib import Path

        from mlv.adapters import git
        from mlv.data.restore import readable_pointer

        contents = git.read_blobs(Path(root), [blob for blob, _ in unknown])
        for blob, path in unknown:
            data = contents.get(blob)
            pointer = readable_pointer(data, path) if data is not None else None
            if pointer is not None:
                cache.pointers[blob] = (pointer.path, pointer.md5)
                cache.dirty = True
    return [cache.pointers[b] for b, _ in blobs if b in cache.pointers]


# -- pre-commit ----------------------------------------------------------------------------------


def pre_commit(root: str, gdir: str, index_file: str | None, staged_raw: bytes | None = None) -> int:
    """Refuse a commit whose pointer files do not describe the data in the work tree."""
    cache = HookCache(gdir)
    specs = ["*.dvc", ".mlv/env/"]
    staged = parse_staged(staged_raw) if staged_raw is not None else staged_files(root, index_file, specs)
    pointers = staged_pointers(root, [(b, p) for b, p in staged if p.endswith(".dvc")], cache)
    stale = []
    recorded = {}
    watch = _Watch(root)
    try:
        for path, md5 in pointers:
            now = current_md5(root, gdir, path, cache, watch)
            if now is not None and now != md5:  # absent data (never pulled) records nothing false
                stale.append(path)
                recorded[path] = md5
    finally:
        watch.close()
    lockfiles = [p for _, p in staged if p.startswith(".mlv/env/requirements-")]
    warning = _lockfile_warning(root, gdir, lockfiles, cache, index_file) if lockfiles and not stale else None
    cache.save()
    if stale:
        names, one = ", ".join(stale), len(stale) == 1
        files = " ".join(f"{p}.dvc" for p in stale)
        inside = [f for p in stale for f in changed_inside(root, gdir, p, recorded[p])]
        more = f" and {len(inside) - 3} more" if len(inside) > 3 else ""
        changed = f" (changed: {', '.join(inside[:3])}{more})" if inside else ""
        _say(
            f"mlv pre-commit hook: error: {names} no longer {'matches' if one else 'match'} the hash in "
            f"{'its' if one else 'their'} pointer file{changed}, so this commit would record a hash that is not "
            f"the data; nothing was committed. Run `mlv snapshot` (or `dvc add {' '.join(stale)}` "
            f"and `git add {files}`), then commit again."
        )
        return 1
    if warning:
        _say(f"mlv pre-commit hook: warning: {warning}")
    return 0


def changed_inside(root: str, gdir: str, path: str, recorded: str) -> list[str]:
    """Files of folder PATH that differ from its recorded manifest, as the stat cache last saw them.

    Only on the refusing path: the data was just hashed, so the stat cache holds every file's md5
    now; the recorded manifest comes from the DVC cache (nothing is named when it is not there).
    """
    if not recorded.endswith(".dir"):
        return []  # a single file: its name says it all
    from pathlib import Path

    from mlv.adapters import dvc
    from mlv.data.statecache import StateCache

    try:
        before = dvc.load_manifest_map(dvc.cache_dir(Path(root)), recorded)
    except MlvError:
        return []
    if before is None:
        return []
    prefix = path + "/"
    state = StateCache.load(Path(gdir) / "mlv" / "state.json")
    now = {key[len(prefix):]: str(entry[3]) for key, entry in state.entries.items() if key.startswith(prefix)}
    return [prefix + rel for rel in sorted(before.keys() | now.keys()) if before.get(rel) != now.get(rel)]


def _lockfile_warning(root: str, gdir: str, lockfiles: list[str], cache: HookCache,
                     index_file: str | None = None) -> str | None:
    """A warning when the environment no longer matches the lockfile being committed."""
    try:
        interpreter, named = _interpreter(root, cache)
        if named is not None:
            # Repository content: a hook runs on every commit, with nobody asked, so never it.
            if index_file and os.path.basename(index_file) == "mlv-snapshot.index":
                return None  # `mlv snapshot` itself is committing; it said what it captured
            return (f"the Python environment was not checked against {lockfiles[0]}: the interpreter "
                    f"{named!r} is inside the repository, and git hooks never run repository code")
        current = _current_lockfile(gdir, interpreter, cache)
    except MlvError:
        return None  # no interpreter to compare with; snapshot will say so itself
    if current in lockfiles:
        return None
    return (f"the Python environment ({interpreter}) changed since {lockfiles[0]} was captured; "
            "run `mlv snapshot` to record the environment the code now runs in")


def _stamp(paths: list[str]) -> list[int]:
    stamps = []
    for path in paths:
        try:
            stamps.append(os.stat(path).st_mtime_ns)
        except OSError:
            stamps.append(0)
    return stamps


def _current_lockfile(gdir: str, interpreter: str, cache: HookCache) -> str:
    """The lockfile path `mlv snapshot` would write for INTERPRETER's environment now.

    Remembered with the mtimes of the interpreter and its import folders (installing, removing
    or upgrading a package changes them), the same test environment.capture makes, so an
    unchanged environment costs a few stats instead of a capture and a render.
    """
    known = cache.environment
    site = known.get("paths")
    paths = [interpreter, *(site if isinstance(site, list) else [])]
    if known.get("interpreter") == interpreter and known.get("stamp") == _stamp(paths):
        return str(known["lockfile"])
    import json
    import subprocess
    from pathlib import Path

    from mlv.env import environment

    env = environment.capture(interpreter, Path(gdir) / "mlv")
    current = environment.lockfile_path(environment.render_lockfile(env))
    probe = subprocess.run([interpreter, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
                           capture_output=True, check=False, timeout=60)
    if probe.returncode == 0:
        folders = sorted({p for p in json.loads(probe.stdout) if p})
        cache.environment = {"interpreter": interpreter, "paths": folders,
                             "stamp": _stamp([interpreter, *folders]), "lockfile": current}
        cache.dirty = True
    return current


def _interpreter(root: str, cache: HookCache) -> tuple[str, str | None]:
    """The interpreter snapshots capture, and its name as configured when it is repository content
    (else None); remembered while the config file and PATH are unchanged.

    Reading the configuration means importing PyYAML, as costly as the rest of the hook.
    """
    st = os.stat(os.path.join(root, CONFIG_FILE))
    key = [st.st_ino, st.st_mtime_ns, st.st_size, os.environ.get("PATH", "")]
    known = cache.interpreter
    if known.get("key") == key and "repository" in known and os.access(str(known.get("path", "")), os.X_OK):
        repository = known["repository"]
        return str(known["path"]), (str(repository) if repository is not None else None)
    from pathlib import Path

    from mlv.env import environment
    from mlv.project import config

    cfg = config.load(Path(root))
    found = environment.resolve_interpreter(cfg.command, cfg.python, Path(root))
    named = found.named if found.from_repository else None
    cache.interpreter = {"key": key, "path": found.path, "repository": named}
    cache.dirty = True
    return found.path, named


# -- post-checkout and post-merge ----------------------------------------------------------------


def post_checkout(root: str, old: str, new: str, flag: str) -> int:
    """After a branch checkout, bring the data in line with the pointer files that changed."""
    if flag != "1" or not old or old in (new, ZERO_SHA):
        return 0  # a file checkout, the same commit, or a new clone/worktree: nothing to follow
    return _follow(root, [old, new], f"HEAD is now {new[:10]}")


def post_merge(root: str) -> int:
    """After a merge or pull (squash too), bring the data in line with the merged pointers."""
    from pathlib import Path

    from mlv.adapters import git

    if not git.revision_exists(Path(root), "ORIG_HEAD"):
        return 0
    _say_merged_environments(root)
    return _follow(root, ["--cached", "ORIG_HEAD"], "the merge is done")


def _follow(root: str, revs: list[str], what_happened: str) -> int:
    """Restore the data of the pointer files REVS changed; when REVS pointed the DVC remote at a
    URL this clone has not trusted, say so in one line and fetch nothing from it."""
    from pathlib import Path

    from mlv.adapters import git

    untrusted = None
    if git.diff_names(Path(root), revs, ":(top,literal).dvc/config"):
        untrusted = _untrusted_remote(root)
    if untrusted is not None:
        note, network = untrusted
        _say(f"mlv: {what_happened}; {note}")
        if network:  # what the cache holds is restored; the rest waits for `mlv remote trust`
            return _restore(root, _changed_pointer_files(root, revs), what_happened, fetch_allowed=False)
    return _restore(root, _changed_pointer_files(root, revs), what_happened)


def _untrusted_remote(root: str) -> tuple[str, bool] | None:
    """(the one line, whether the remote is reached over a network) for a default DVC remote this
    clone has not trusted, else None."""
    from pathlib import Path

    from mlv.adapters import remote_trust

    try:
        found = remote_trust.status(Path(root), None, upload=True)
    except MlvError:
        return None  # a config DVC cannot read either: the restore says so
    if found is None or found.trusted:
        return None
    return remote_trust.untrusted_error(found).one_line(), not found.remote.is_local


def _say_merged_environments(root: str) -> None:
    """Git keeps both content-addressed lockfiles when two merged branches each changed the
    environment: an environment that never ran. Say so; never take the union silently."""
    folder = os.path.join(root, ".mlv", "env")
    try:
        names = sorted(n for n in os.listdir(folder) if n.startswith("requirements-") and n.endswith(".txt"))
    except OSError:
        return
    if len(names) > 1:
        _say(f"mlv: the merge left {len(names)} environment lockfiles in .mlv/env ({', '.join(names)}): "
             "an environment that never ran; re-snapshot (`mlv snapshot --run ...`) to record one")


def _changed_pointer_files(root: str, revs: list[str]) -> list[str]:
    from pathlib import Path

    from mlv.adapters import git

    # dvc.lock pins the outputs of the pipeline's stages: data too, restored like pointer files'.
    return [*git.diff_names(Path(root), revs, "*.dvc"), *git.diff_names(Path(root), revs, ":(top,literal)dvc.lock")]


def _read_pointers(root: str, pointer_files: list[str]) -> list[dvc.Pointer]:
    from pathlib import Path

    from mlv.data.restore import readable_pointer

    pointers: list[dvc.Pointer] = []
    for rel in pointer_files:
        if rel == "dvc.lock":
            from mlv.pipeline import dvcfiles

            pointers += dvcfiles.worktree_stage_outputs(Path(root))
            continue
        try:
            data = (Path(root) / rel).read_bytes()
        except FileNotFoundError:
            continue  # no longer tracked: the data stays where it is, never deleted
        pointer = readable_pointer(data, rel)
        if pointer is not None:
            pointers.append(pointer)
    return pointers


def _restore(root: str, pointer_files: list[str], what_happened: str, *, fetch_allowed: bool = True) -> int:
    if not pointer_files:
        return 0
    from pathlib import Path

    from mlv.adapters import dvc
    from mlv.data import restore

    try:
        pointers = _read_pointers(root, pointer_files)
        # Data the cache lacks (a pulled branch whose data was never fetched) comes from the DVC
        # remote when there is one; this is never reached when no pointer file changed.
        fetch = fetch_allowed and dvc.default_remote(Path(root)) is not None
        with dvc.quiet_dvc_logs():
            report = restore.restore_paths(Path(root), pointers, fetch_missing=fetch, honour_links=True)
    except MlvError as exc:
        if not fetch_allowed and isinstance(exc, DvcError):
            return 0  # data the cache lacks: the line about the remote said why it was not fetched
        hint = exc.hint
        if hint and "--force" in hint:
            hint = ("Keep it with `dvc add PATH` (or switch back and `mlv snapshot`), "
                    "or discard it with `dvc checkout --force`.")
        _say(f"mlv: {what_happened}, but the data was not restored: {exc.message.rstrip('.')}. {hint or ''}".rstrip())
        # git has switched already and a hook cannot undo that; a non-zero status would only make
        # git report the checkout as failed, breaking tools that run it (`mlv checkout --force`).
        return 0
    if report.restored:
        fetched = f" ({report.fetched} objects downloaded)" if report.fetched else ""
        _say(f"mlv: restored {', '.join(report.restored)}{fetched}")
    return 0


# -- pre-push ------------------------------------------------------------------------------------


def _pre_push_updates() -> list[tuple[str, str, str, str]]:
    """(local ref, local sha, remote ref, remote sha) for each ref git is about to push."""
    if os.environ.get("PRE_COMMIT_REMOTE_NAME"):
        # The pre-commit framework reads stdin itself and passes one ref; when the push includes
        # a root commit it gives no TO_REF, only the local branch.
        local = os.environ.get("PRE_COMMIT_LOCAL_BRANCH", "")
        return [(local, os.environ.get("PRE_COMMIT_TO_REF") or local,
                 os.environ.get("PRE_COMMIT_REMOTE_BRANCH", ""),
                 os.environ.get("PRE_COMMIT_FROM_REF") or ZERO_SHA)]
    updates = []
    for line in sys.stdin.read().splitlines():
        parts = line.split()
        if len(parts) == 4:
            updates.append((parts[0], parts[1], parts[2], parts[3]))
    return updates


def pre_push(root: str, args: list[str], updates: list[tuple[str, str, str, str]]) -> int:
    """Upload the DVC data of every commit being pushed that the DVC remote lacks."""
    remote = args[0] if args else os.environ.get("PRE_COMMIT_REMOTE_NAME", "")
    tips = [local for _, local, _, _ in updates if local != ZERO_SHA]
    if not tips:
        return 0  # only deletions
    from pathlib import Path

    from mlv.share import push

    excluded = [r for _, _, _, r in updates if r != ZERO_SHA]
    data = push.data_to_push(Path(root), tips, remote, excluded)
    if not data.pointers:
        return 0
    strict = push.hooks_strict(Path(root))
    try:
        outcome = push.push_data(Path(root), data.pointers, None, data.at_tips)
    except MlvError as exc:
        if isinstance(exc, UntrustedRemoteError):  # never pushes commits whose data went nowhere
            _say(f"mlv pre-push hook: error: {exc.one_line()} The push was refused.")
            return exc.exit_code
        if strict:
            _say(f"mlv pre-push hook: error: {exc.message.rstrip('.')}; the push was refused because "
                 f"`hooks: {{strict: true}}` is set in .mlv/config.yaml. {exc.hint or ''}".rstrip())
            return 1
        _say(f"mlv pre-push hook: warning: {exc.message.rstrip('.')}; pushing the commits without their "
             f"data. {exc.hint or ''}".rstrip())
        return 0
    if outcome.unavailable:  # only older commits need those: as `mlv push`, warn and go on
        _say(f"mlv pre-push hook: warning: {push.unavailable_note(Path(root), data, outcome.unavailable)}")
    if outcome.uploaded:
        _say(f"mlv: uploaded {outcome.uploaded} data objects to the DVC remote")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
