"""Which DVC remotes the user trusted: nothing (no data, no credentials) goes to any other.

A repository's committed `.dvc/config` names the remote's URL, so whoever made a commit chooses
where a checkout, merge or push sends data, and where DVC sends the credentials the user keeps in
`.dvc/config.local` or in the environment. mlv therefore remembers, outside the repository
(`.git/mlv/remotes.json`, shared by linked worktrees, never committed), each remote URL the user
trusted, and every transfer to a DVC remote (`dvc.fetch_objects`, `push_objects`,
`missing_everywhere`) checks it first.

A remote is trusted when its *where* (the URL, plus the settings that redirect traffic, such as an
S3 `endpointurl`) is:
- remembered: trusted with `mlv remote trust`, or by answering yes (or `--yes`) to `mlv push`,
  `mlv pull` or `mlv checkout`;
- or set by the user of this clone, never by a commit someone else made: in a config file the
  repository does not hold (`.dvc/config.local`, DVC's global or system config), in an unstaged
  edit of `.dvc/config` (`dvc remote add`), or by a commit made in this clone (a `commit` or
  `mlv snapshot` entry in HEAD's reflog: a fetched, pulled, merged or cloned commit has none).
  Such a where is remembered at its first use.
Downloading from a local folder sends nothing anywhere, so it needs no trust; uploading does.
The URL a fresh clone came with is not trusted until the user says so: the git hooks never trust
anything silently, they print one line instead.
"""

from __future__ import annotations

import configparser
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlv.adapters import dvc, git
from mlv.errors import UntrustedRemoteError

STORE = "mlv/remotes.json"
_STORE_VERSION = 1
_MAX_STORE_BYTES = 1 << 20
# Settings that change where a remote's requests go (the URL aside); anything else (credentials,
# jobs, timeouts) can change without a new trust.
REDIRECTING = ("endpointurl", "account_name", "host", "port", "proxy")
_REPOSITORY_CONFIG = Path(".dvc") / "config"
_MADE_HERE = ("commit", "commit (initial)", "commit (amend)", "commit (merge)", "mlv snapshot")


@dataclass(frozen=True)
class Remote:
    """A DVC remote as DVC would use it now: its name and where its requests go."""

    name: str
    url: str
    redirects: tuple[tuple[str, str], ...] = ()

    @property
    def where(self) -> str:
        """The URL and any redirecting setting, as shown to the user and remembered."""
        extra = ", ".join(f"{key} {value}" for key, value in self.redirects)
        return f"{self.url} ({extra})" if extra else self.url

    @property
    def is_local(self) -> bool:
        return "://" not in self.url or self.url.startswith("file://")


@dataclass(frozen=True)
class TrustStatus:
    remote: Remote
    trusted: bool
    why: str  # "remembered", "set in this clone", "local folder", or "not trusted"
    previous: str | None  # the where last used under this name, when it differs

    def to_json(self) -> dict[str, object]:
        return {"name": self.remote.name, "url": self.remote.url, "where": self.remote.where,
                "trusted": self.trusted, "why": self.why, "previous": self.previous}


def resolve(root: Path, name: str | None) -> Remote | None:
    """The remote DVC would use for NAME (its default when None); None when there is none."""
    name = name or dvc.default_remote(root)
    if not name:
        return None
    values = dvc.read_dvc_config(root).get(f'remote "{name}"', {})
    url = values.get("url")
    if not url:
        return None
    return Remote(name, url, tuple((key, values[key]) for key in REDIRECTING if values.get(key)))


def configured(root: Path) -> list[Remote]:
    """Every remote DVC's config files define, by name."""
    found = []
    for section in sorted(dvc.read_dvc_config(root)):
        if section.startswith('remote "'):
            remote = resolve(root, section[len('remote "'):-1])
            if remote is not None:
                found.append(remote)
    return found


def status(root: Path, name: str | None, *, upload: bool, remember: bool = True) -> TrustStatus | None:
    """Whether the remote NAME may be sent requests (UPLOAD: data too); None when there is no
    remote. With REMEMBER (a use, not a listing), a where set by the user of this clone is
    remembered here, at its first use."""
    remote = resolve(root, name)
    if remote is None:
        return None
    store = _load(root)
    remembered = store["trusted"]
    last = store["last"].get(remote.name)
    previous = last if last and last != remote.where else None
    if remote.where in remembered:
        why = "remembered"
    elif remote.is_local and not upload:
        return TrustStatus(remote, True, "local folder", previous)
    elif _set_by_user(root, remote):
        why = "set in this clone"
    else:
        return TrustStatus(remote, False, "not trusted", previous)
    if remember and (remote.where not in remembered or last != remote.where):
        trust(root, remote, store)
    return TrustStatus(remote, True, why, previous)


def require(root: Path, name: str | None, *, upload: bool) -> None:
    """Raise UntrustedRemoteError, having sent nothing, unless the remote NAME is trusted."""
    found = status(root, name, upload=upload)
    if found is not None and not found.trusted:
        raise untrusted_error(found)


def untrusted_error(found: TrustStatus) -> UntrustedRemoteError:
    remote = found.remote
    change = f"changed from {found.previous} to {remote.where}" if found.previous else f"is {remote.where}"
    return UntrustedRemoteError(
        f"the DVC remote {remote.name!r} {change}, a URL not trusted in this clone; "
        "no data or credentials were sent there",
        hint=f"If you trust it, run `mlv remote trust {remote.name}`.",
        name=remote.name, url=remote.where, previous=found.previous)


def trust(root: Path, remote: Remote, store: dict[str, dict[str, str]] | None = None) -> None:
    """Remember REMOTE's where as trusted, and as the last one used under its name."""
    store = store if store is not None else _load(root)
    store["trusted"].setdefault(remote.where, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    store["last"][remote.name] = remote.where
    _save(root, store)


def remembered(root: Path) -> dict[str, str]:
    """Trusted where -> when it was trusted (UTC, ISO 8601)."""
    return dict(_load(root)["trusted"])


# -- who set it ----------------------------------------------------------------------------------


def _set_by_user(root: Path, remote: Remote) -> bool:
    """Whether every setting that makes REMOTE's where comes from the user of this clone."""
    section = f'remote "{remote.name}"'
    keys = ["url", *(key for key, _ in remote.redirects)]
    setters: dict[str, Path] = {}
    for path, level in dvc.read_dvc_config_levels(root):
        for key in keys:
            if key in level.get(section, {}):
                setters[key] = path
    repository_config = root / _REPOSITORY_CONFIG
    from_repository = [key for key, path in setters.items() if path == repository_config]
    if not from_repository:
        return True  # config.local, the global or the system config: never in a commit
    raw = _raw_values(_read_worktree_config(root), section, from_repository)
    if raw != _raw_values(_read_index_config(root), section, from_repository):
        return True  # an unstaged edit of .dvc/config: `dvc remote add` or the user's editor
    made_here = _commits_made_here(root)
    return all(_introduced_by(root, value) in made_here for value in raw.values() if value)


def _read_worktree_config(root: Path) -> str:
    try:
        with open(root / _REPOSITORY_CONFIG, encoding="utf-8", errors="replace") as handle:
            return handle.read(_MAX_STORE_BYTES)
    except OSError:
        return ""


def _read_index_config(root: Path) -> str:
    proc = git.run(["show", f":{_REPOSITORY_CONFIG.as_posix()}"], root, check=False)
    return proc.stdout.decode("utf-8", errors="replace") if proc.returncode == 0 else ""


def _raw_values(text: str, section: str, keys: list[str]) -> dict[str, str | None]:
    """KEYS of SECTION as written in a `.dvc/config` text (None when absent or unreadable)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return dict.fromkeys(keys)
    for candidate in (section, f"'{section}'"):
        if parser.has_section(candidate):
            return {key: parser.get(candidate, key, fallback=None) for key in keys}
    return dict.fromkeys(keys)


def _introduced_by(root: Path, value: str) -> str | None:
    """The newest commit of HEAD's history that added or removed VALUE in `.dvc/config`."""
    proc = git.run(["log", "-1", "--format=%H", f"-S{value}", "HEAD", "--",
                    f":(top,literal){_REPOSITORY_CONFIG.as_posix()}"], root, check=False)
    found = proc.stdout.decode().strip()
    return found or None


def _commits_made_here(root: Path) -> set[str]:
    """Commits HEAD's reflog says were made in this clone (not fetched, merged or cloned)."""
    proc = git.run(["log", "-g", "--format=%H%x09%gs", "HEAD"], root, check=False)
    made = set()
    for line in proc.stdout.decode("utf-8", errors="replace").splitlines():
        sha, _, subject = line.partition("\t")
        if subject.split(":", 1)[0] in _MADE_HERE:
            made.add(sha)
    return made


# -- the store -----------------------------------------------------------------------------------


def _store_path(root: Path) -> Path:
    return git.common_dir(root) / STORE


def _load(root: Path) -> dict[str, dict[str, str]]:
    """The remembered wheres; an unreadable or malformed store trusts nothing."""
    empty: dict[str, dict[str, str]] = {"trusted": {}, "last": {}}
    try:
        with open(_store_path(root), "rb") as handle:
            doc = json.loads(handle.read(_MAX_STORE_BYTES + 1)[:_MAX_STORE_BYTES])
    except (OSError, ValueError):
        return empty
    if not isinstance(doc, dict) or doc.get("version") != _STORE_VERSION:
        return empty
    for key in empty:
        table = doc.get(key)
        if isinstance(table, dict):
            empty[key] = {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str)}
    return empty


def _save(root: Path, store: dict[str, dict[str, str]]) -> None:
    path = _store_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump({"version": _STORE_VERSION, **store}, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.filename is None:
            exc.filename = str(path)
        raise


# -- the only way to a DVC remote ----------------------------------------------------------------
# Every transfer goes through these: each checks the remote first, so no caller can forget to.
# (tests/test_layers.py fails when anything else calls dvc's transfer functions.)


def fetch_objects(root: Path, md5s: list[str], remote: str | None,
                  progress: dvc.TransferProgress | None = None) -> int:
    """`dvc.fetch_objects` from a trusted remote only (UntrustedRemoteError otherwise)."""
    if not md5s:
        return 0
    require(root, remote, upload=False)
    return dvc.fetch_objects(root, md5s, remote, progress)


def push_objects(root: Path, md5s: list[str], remote: str | None,
                 progress: dvc.TransferProgress | None = None) -> dvc.PushReport:
    """`dvc.push_objects` to a trusted remote only (UntrustedRemoteError otherwise)."""
    require(root, remote, upload=True)
    return dvc.push_objects(root, md5s, remote, progress)


def missing_everywhere(root: Path, md5s: list[str], remote: str | None) -> list[str]:
    """`dvc.missing_everywhere`, asking a trusted remote only (UntrustedRemoteError otherwise)."""
    if not md5s:
        return []
    require(root, remote, upload=False)
    return dvc.missing_everywhere(root, md5s, remote)


def absent_from_remote(root: Path, md5s: list[str], remote: str | None,
                       failure: str = "cannot query the DVC remote") -> list[str]:
    """`dvc.absent_from_remote`, asking a trusted remote only (UntrustedRemoteError otherwise)."""
    if not md5s:
        return []
    require(root, remote, upload=False)
    return dvc.absent_from_remote(root, md5s, remote, failure)
