"""DVC's configuration, read as DVC reads it (without importing DVC), and written for a linked worktree."""

from __future__ import annotations

import configparser
import os
import re
from pathlib import Path

from mlv.errors import DvcError

# DVC reads four config files, each overriding the one before: system, global, the repository's
# committed `.dvc/config`, and its private `.dvc/config.local`. Paths in a file (`cache.dir`, a
# local remote's `url`) are relative to that file's folder. Reading them here, not through
# dvc.config.Config, keeps DVC (0.4 s to import) off the no-op snapshot.
_PATH_KEYS = {"cache": ("dir",), "remote": ("url",)}
DvcConfig = dict[str, dict[str, str]]  # section ("core", "cache", 'remote "NAME"') -> key -> value


def config_files(root: Path) -> list[Path]:
    """DVC's config files for ROOT, lowest precedence first, where DVC itself looks for them."""
    return [_level_dir("DVC_SYSTEM_CONFIG_DIR", "site_config_dir") / "config",
            _level_dir("DVC_GLOBAL_CONFIG_DIR", "user_config_dir") / "config",
            root / ".dvc" / "config", root / ".dvc" / "config.local"]


def _level_dir(variable: str, platform_dir: str) -> Path:
    """DVC's system or global config folder: its environment variable, else platformdirs' choice
    for app "dvc" by "iterative" (what dvc.dirs does)."""
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(getattr(platformdirs, platform_dir)("dvc", "iterative"))


def _resolve_config_path(conf_dir: Path, value: str) -> str:
    """A path setting as DVC resolves it: URLs and absolute paths as they are, `~` expanded,
    anything else relative to the folder of the file that sets it."""
    if re.match(r"\w+://", value) or os.path.isabs(value):
        return value
    expanded = os.path.expanduser(value)
    return expanded if os.path.isabs(expanded) else os.path.abspath(conf_dir / value)


def read_dvc_config(root: Path) -> DvcConfig:
    """DVC's merged configuration for ROOT (all four levels), path settings made absolute."""
    merged: DvcConfig = {}
    for _path, level in read_dvc_config_levels(root):
        for name, values in level.items():
            merged.setdefault(name, {}).update(values)
    return merged


def read_dvc_config_levels(root: Path) -> list[tuple[Path, DvcConfig]]:
    """Each of DVC's config files that exists, lowest precedence first, with its settings (path
    settings made absolute): who set a value matters when the repository may have chosen it."""
    levels: list[tuple[Path, DvcConfig]] = []
    for path in config_files(root):
        parser = configparser.ConfigParser(interpolation=None)
        try:
            if not parser.read(path, encoding="utf-8"):
                continue
        except (configparser.Error, UnicodeDecodeError) as exc:
            detail = (exc.message if isinstance(exc, configparser.Error) else str(exc)).splitlines()[0]
            shown = path.relative_to(root) if path.is_relative_to(root) else path
            raise DvcError(f"{shown} cannot be parsed: {detail}",
                           hint="Fix it (DVC cannot read it either), e.g. with `dvc config`.") from None
        level: DvcConfig = {}
        for section in parser.sections():
            name = section.strip("'").strip()  # DVC writes ['remote "x"']; configparser keeps the quotes
            values = level.setdefault(name, {})
            path_keys = _PATH_KEYS.get(name.split(" ", 1)[0], ())
            for key, raw in parser.items(section):
                value = _unquoted(raw)
                values[key] = _resolve_config_path(path.parent, value) if key in path_keys else value
        levels.append((path, level))
    return levels


def _unquoted(value: str) -> str:
    """A value as configobj (DVC's reader) gives it: `dvc config` quotes a value holding a comma or
    a quote (`type = "a,b"`), and configparser would keep those quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def cache_dir(root: Path) -> Path:
    """The DVC cache folder: `cache.dir` from DVC's config files (system, global, repository,
    local; the last one setting it wins), else `.dvc/cache`."""
    configured = read_dvc_config(root).get("cache", {}).get("dir")
    if configured:
        return Path(configured).resolve()
    default = root / ".dvc" / "cache"
    if default.is_symlink() and _committed(root, ".dvc/cache"):
        # A symlink made by whoever made a commit: hashing would write the cache wherever it points.
        raise DvcError(f".dvc/cache is a symlink committed to the repository (to {os.readlink(default)}); "
                       "mlv does not follow it, and nothing was read or written",
                       hint="Remove it from the repository (`git rm --cached .dvc/cache && rm .dvc/cache`); "
                            "to keep the cache elsewhere, run `dvc cache dir --local PATH`.")
    return default


def _committed(root: Path, rel: str) -> bool:
    """Whether git's index tracks REL (then it came with a commit, not from this clone's user)."""
    from mlv.adapters import git

    proc = git.run(["ls-files", "-z", "--", f":(literal){rel}"], root, check=False)
    return proc.returncode == 0 and bool(proc.stdout.strip(b"\0"))


LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")


def cache_link_types(root: Path) -> list[str]:
    """`cache.type` as DVC reads it (e.g. ["reflink", "copy"], ["symlink"]); DVC's default when
    unset. A type DVC does not know is refused as DVC refuses it (config_schema.supported_cache_type)."""
    configured = read_dvc_config(root).get("cache", {}).get("type")
    if configured is None:
        return ["reflink", "copy"]
    kinds = [k.strip() for k in configured.split(",")]
    unknown = [k for k in kinds if k not in LINK_TYPES]
    if unknown:
        raise DvcError(f"DVC's config sets cache.type to {configured[:200]!r}, and "
                       f"{', '.join(repr(k) for k in unknown[:5])} is not a cache type",
                       hint=f"Set it to types from {', '.join(LINK_TYPES)}, in order of preference, "
                       "e.g. `dvc config cache.type hardlink,copy`.")
    return kinds


def default_remote(root: Path) -> str | None:
    value = read_dvc_config(root).get("core", {}).get("remote")
    return value.strip() if value else None


def remote_url(root: Path, name: str) -> str | None:
    """The remote's URL, a local folder made absolute as DVC does (relative to its config file)."""
    return read_dvc_config(root).get(f'remote "{name}"', {}).get("url")


def is_dvc_repo(root: Path) -> bool:
    return (root / ".dvc").is_dir()


def share_cache_with(worktree: Path, main_root: Path, private_cache: Path | None = None) -> None:
    """Make DVC in a linked WORKTREE use MAIN_ROOT's cache and remotes (in its `.dvc/config.local`).

    A new worktree has no `.dvc/cache` (it is git-ignored) and no `config.local`; without this,
    DVC there would see an empty cache and maybe no remote. Relative local remote URLs are made
    absolute because DVC resolves them against the config file's folder, which moved.

    With PRIVATE_CACHE, DVC there uses that (empty) folder as its cache instead, remotes still
    shared: `dvc repro` then finds no run-cache entry and no cached output, so every stage runs.
    """
    main = read_dvc_config(main_root)
    out = configparser.ConfigParser(interpolation=None)
    for name, values in main.items():
        if name.startswith('remote "'):
            out[name] = dict(values)  # local URLs are absolute already (see read_dvc_config)
    remote = default_remote(main_root)
    if remote:
        out["core"] = {"remote": remote}
    out["cache"] = {"dir": str((private_cache or cache_dir(main_root)).resolve())}
    target = worktree / ".dvc" / "config.local"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8") as handle:
        out.write(handle)
