"""Where the prediction log lives: a local folder or an fsspec URL (`s3://bucket/prefix`).

Everything is reached through a pyarrow file system, so one code path reads both: pyarrow's own
for a local folder (fastest), fsspec's (wrapped) for a URL. S3 uses the credentials DVC would use:
the settings of a DVC remote on the same bucket (endpoint, keys, profile, region), else boto's
usual environment variables and files.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.monitor.errors import MonitorError, require_pyarrow

if TYPE_CHECKING:
    import pyarrow.fs as pafs

DEFAULT_LOG = "predictions"
SEGMENTS = "segments"
LABELS = "labels"
WRITERS = "writers"  # each live writer's heartbeat: writers/<writer>.json
_URL = re.compile(r"^([a-z][a-z0-9+.-]*)://(.*)$")
# DVC's S3 remote settings -> s3fs's (DVC passes the same ones to s3fs).
_S3_KEYS = {"access_key_id": "key", "secret_access_key": "secret", "profile": "profile"}
_S3_CLIENT_KEYS = {"endpointurl": "endpoint_url", "region": "region_name"}


@dataclass(frozen=True)
class LogStore:
    """The log at URL: FS is a pyarrow file system, BASE the log's root path inside it."""

    url: str
    fs: pafs.FileSystem
    base: str

    @property
    def is_local(self) -> bool:
        return _URL.match(self.url) is None or self.url.startswith("file://")

    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)


def is_url(text: str) -> bool:
    """Whether TEXT is an fsspec URL (`s3://...`) rather than a folder."""
    return _URL.match(text) is not None


def open_log(url: str, root: Path | None = None) -> LogStore:
    """The log at URL (a folder, relative to the current one, or an fsspec URL). ROOT, the
    repository, supplies DVC's S3 settings."""
    require_pyarrow()
    import pyarrow.fs as pafs

    found = _URL.match(url)
    if found is None or found.group(1) == "file":
        local = Path(found.group(2) if found else url).absolute()
        return LogStore(url, pafs.LocalFileSystem(), local.as_posix())
    scheme, rest = found.group(1), found.group(2).rstrip("/")
    try:
        import fsspec  # type: ignore[import-untyped]
    except ImportError:
        raise MonitorError(f"reading a log at {scheme}:// needs fsspec", hint="pip install fsspec s3fs") from None
    options = _s3_options(root, scheme, rest) if scheme in ("s3", "s3a") else {}
    try:
        remote = fsspec.filesystem(scheme, **options)
    except (ImportError, ValueError) as exc:
        raise MonitorError(f"cannot open the log at {url}: {exc}",
                           hint=f"Install fsspec's {scheme} file system (for S3: pip install s3fs).") from None
    return LogStore(url, pafs.PyFileSystem(pafs.FSSpecHandler(remote)), rest)


def _s3_options(root: Path | None, scheme: str, rest: str) -> dict[str, Any]:
    """s3fs options from a DVC remote whose URL is on the same bucket, if any."""
    if root is None:
        return {}
    from mlv.adapters import dvc
    from mlv.errors import MlvError

    try:
        config = dvc.read_dvc_config(root)
    except MlvError:
        return {}
    bucket = rest.split("/", 1)[0]
    for section, values in config.items():
        url = _URL.match(values.get("url", "")) if section.startswith("remote ") else None
        if url is None or url.group(1) not in ("s3", "s3a") or url.group(2).split("/", 1)[0] != bucket:
            continue
        options: dict[str, Any] = {new: values[old] for old, new in _S3_KEYS.items() if values.get(old)}
        client = {new: values[old] for old, new in _S3_CLIENT_KEYS.items() if values.get(old)}
        if client:
            options["client_kwargs"] = client
        return options
    return {}


def describe_error(exc: BaseException) -> str:
    """One line for a failure to reach the log (an OSError of pyarrow or fsspec, a botocore error)."""
    first = (str(exc).splitlines() or [exc.__class__.__name__])[0]
    return first[:300] or exc.__class__.__name__
