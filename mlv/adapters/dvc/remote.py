"""DVC's own API, imported lazily (it costs ~0.4 s): `dvc init`, and transfers to and from a DVC remote."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlv.adapters.dvc.cache import drop_corrupt_downloads, has_object, new_object_path
from mlv.adapters.dvc.config import cache_dir, default_remote
from mlv.errors import DvcError


def init_dvc(root: Path) -> None:
    """`dvc init` in ROOT (which must be a git repository)."""
    import contextlib
    import io

    from dvc.repo import Repo

    try:
        # DVC's welcome banner goes through its logging (to the stdout it saw at import) and print.
        with quiet_dvc_logs(), contextlib.redirect_stdout(io.StringIO()):
            Repo.init(str(root))
    except Exception as exc:
        if not _raised_by_dvc_or_a_remote(exc):
            raise
        raise DvcError(f"dvc init failed: {exc}") from None


@contextlib.contextmanager
def quiet_dvc_logs() -> Iterator[None]:
    """Mute DVC's multi-line WARNING/ERROR log blocks: mlv reports each failure in one line
    (while `_upload_failures` listens, its handler alone hears the errors)."""
    previous = logging.root.manager.disable
    # process-wide: DVC logs through many child loggers
    logging.disable(logging.WARNING if _listening else logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def _open_repo(root: Path) -> Iterator[Any]:
    """DVC's Repo for ROOT, with its logging muted for as long as it is open."""
    from dvc.repo import Repo

    with quiet_dvc_logs(), Repo(str(root)) as repo:
        yield repo


class TransferProgress(Protocol):
    """Hears a transfer to or from a DVC remote as it happens: objects (files) and bytes."""

    def transfer_started(self, objects: int, description: str) -> None: ...
    def transfer_advanced(self, objects: int, nbytes: int) -> None: ...
    def transfer_finished(self) -> None: ...


def _sink_callback(sink: TransferProgress, description: str) -> Any:
    """An fsspec callback that tells SINK each object done and each byte moved.

    DVC sizes its callback once with the objects to transfer, then again for every batch it
    hands the file system (a folder's files, its manifest, the rest), so only the first size is
    the total; the value counts objects across all batches. Each object's bytes arrive through
    the callback it branches for that file.
    """
    from fsspec.callbacks import Callback  # type: ignore[import-untyped]

    class _Bytes(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._seen = 0

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self.value > self._seen:
                sink.transfer_advanced(0, self.value - self._seen)
                self._seen = self.value

    class _Objects(Callback):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self._total: int | None = None
            self._done = 0

        def set_size(self, size: int | None) -> None:
            if self._total is None and size is not None:
                self._total = size
                sink.transfer_started(size, description)

        def call(self, *args: Any, **kwargs: Any) -> None:
            if self.value > self._done:
                sink.transfer_advanced(self.value - self._done, 0)
                self._done = self.value

        def branched(self, path_1: Any, path_2: Any, **kwargs: Any) -> Callback:
            return _Bytes()

    return _Objects()


LEGACY_HASH = "md5-dos2unix"  # DVC's name for DVC 2's objects: `XX/REST` in the cache and on the remote


def _hash_infos(cache: Path, md5s: Sequence[str], *, legacy: bool | None = None) -> list[Any]:
    """DVC's HashInfo for each of MD5S. An object found only in DVC 2's cache layout is DVC 2's
    (DVC keeps it, and its remote copy, under `XX/REST` rather than `files/md5/XX/REST`); LEGACY
    True or False forces one kind."""
    from dvc_data.hashfile.hash_info import HashInfo

    def is_legacy(md5: str) -> bool:
        if legacy is not None:
            return legacy
        return not os.path.exists(new_object_path(cache, md5)) and os.path.exists(f"{cache}/{md5[:2]}/{md5[2:]}")

    return [HashInfo(LEGACY_HASH if is_legacy(md5) else "md5", md5) for md5 in md5s]


def _transfer(repo: Any, verb: str, hash_infos: list[Any], remote: str | None, sink: TransferProgress) -> Any:
    """`repo.cloud.pull/push` for md5 objects, as DVC does it, with SINK hearing the progress
    (DVC's own methods make a tqdm bar of their own, in decimal units, and take no callback).
    DVC 2's objects go between DVC 2's layouts, as DVC sends them."""
    from dvc_data.hashfile.transfer import TransferResult

    result = TransferResult(set(), set())
    for legacy in (True, False):
        group = [h for h in hash_infos if (h.name == LEGACY_HASH) == legacy]
        if group:
            done = _transfer_one_layout(repo, verb, group, remote, sink, legacy=legacy)
            result.transferred.update(done.transferred)
            result.failed.update(done.failed)
    return result


def _transfer_one_layout(repo: Any, verb: str, hash_infos: list[Any], remote: str | None,
                         sink: TransferProgress, *, legacy: bool) -> Any:
    from dvc.data_cloud import get_index

    odb = repo.cloud.get_remote_odb(remote, verb, hash_name=LEGACY_HASH if legacy else "md5")
    cache = repo.cache.legacy if legacy else repo.cache.local
    if verb == "pull":
        callback = _sink_callback(sink, "Downloading data")
        try:
            return repo.cloud.transfer(odb, cache, hash_infos, src_index=get_index(odb), cache_odb=cache,
                                       verify=odb.verify, callback=callback)
        finally:
            sink.transfer_finished()
    callback = _sink_callback(sink, "Uploading data")
    try:
        return repo.cloud.transfer(cache, odb, hash_infos, dest_index=get_index(odb), cache_odb=cache,
                                   callback=callback)
    finally:
        sink.transfer_finished()


def _cloud(root: Path, verb: str, md5s: Sequence[str], remote: str | None, failure: str,
           progress: TransferProgress | None = None, *, legacy: bool | None = None) -> Any:
    """DVC's `repo.cloud.VERB` (push, pull or status) on objects by hash, errors as DvcError
    (LEGACY: see `_hash_infos`)."""
    from dvc.exceptions import DvcException

    if remote is None and default_remote(root) is None:
        raise DvcError("no DVC remote is configured", hint="Add one with `dvc remote add -d NAME URL`.")
    try:
        with _open_repo(root) as repo:
            hash_infos = _hash_infos(cache_dir(root), md5s, legacy=legacy)
            if progress is not None and verb in ("pull", "push"):
                return _transfer(repo, verb, hash_infos, remote, progress)
            return getattr(repo.cloud, verb)(hash_infos, remote=remote)
    except (DvcException, OSError) as exc:
        raise DvcError(
            f"{failure}: {_one_line(exc)}",
            hint="Check the DVC remote with `dvc remote list` and that it is reachable.",
        ) from None
    except Exception as exc:
        # Each remote's client library raises its own types (botocore's EndpointConnectionError,
        # asyncssh's PermissionDenied, ...), none of them OSError.
        if not _raised_by_dvc_or_a_remote(exc):
            raise
        raise DvcError(
            f"{failure}: {type(exc).__name__}: {_one_line(exc)}",
            hint="Check the DVC remote with `dvc remote list` and that it is reachable.",
        ) from None


def _raised_by_dvc_or_a_remote(exc: BaseException) -> bool:
    """EXC comes from DVC or a remote: an OSError (a connection, a timeout, a file), or the type of a
    package outside the standard library and mlv (DVC, dvc-data, fsspec, a remote's client library).
    Anything else, a TypeError of mlv's or of a DVC API that changed, is a bug in mlv (exit 3), and
    must not read as "check the remote"; an MlvError is already the right error."""
    if isinstance(exc, OSError):
        return True
    package = type(exc).__module__.partition(".")[0]
    return package not in sys.stdlib_module_names and package not in ("builtins", "mlv")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def fetch_objects(root: Path, md5s: Sequence[str], remote: str | None,
                  progress: TransferProgress | None = None) -> int:
    """Download cache objects by hash from the DVC remote (a `.dir` brings its files); count fetched.

    Unlike `dvc fetch`, this needs no pointer file in the work tree, so it can fetch the data of
    any revision (`mlv reproduce`, `mlv checkout`, the git hooks).
    """
    if not md5s:
        return 0
    cache = cache_dir(root)
    result = _cloud(root, "pull", md5s, remote, "dvc fetch failed", progress, legacy=False)
    drop_corrupt_downloads(cache, [h.value for h in result.transferred])
    fetched = len(result.transferred)
    # What DVC 2 pushed sits in DVC 2's layout on the remote: ask there for what is still missing.
    missing = [md5 for md5 in md5s if not has_object(cache, md5)]
    if missing:
        result = _cloud(root, "pull", missing, remote, "dvc fetch failed", progress, legacy=True)
        drop_corrupt_downloads(cache, [h.value for h in result.transferred])
        fetched += len(result.transferred)
    return fetched


@dataclass(frozen=True)
class PushReport:
    """What `push_objects` did: objects uploaded, those it could not (absent from the cache, or
    refused by the remote), why uploads failed (one line each, with the path: a full or
    read-only remote), and when it started (time.time())."""

    uploaded: int
    failed: list[str]
    errors: list[str] = field(default_factory=list)
    started: float = 0.0


class _FailedUploads(logging.Filter):
    """Keeps why each upload failed, and lets no handler print it: DVC logs it (`failed to
    transfer`, with the exception) and carries on, so the cause would otherwise be lost."""

    def __init__(self) -> None:
        super().__init__()
        self.causes: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self._keep(record)
        return False

    def _keep(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or len(self.causes) >= 10:
            return
        # The file an OSError names is often the cache object read, not the remote's file: the
        # caller says where the remote is.
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
        if cause not in self.causes:
            self.causes.append(cause)


@contextlib.contextmanager
def _upload_failures() -> Iterator[_FailedUploads]:
    """The upload errors DVC logs reach only the returned filter; the rest stays muted (a root
    NullHandler keeps any other error record from Python's last-resort printing)."""
    global _listening  # noqa: PLW0603 - logging itself is process-wide state
    failures = _FailedUploads()
    transfer_logger = logging.getLogger("dvc_data.hashfile.transfer")
    root_logger = logging.getLogger()
    quiet = logging.NullHandler()
    previous = root_logger.manager.disable
    logging.disable(logging.WARNING)  # errors get as far as the filter
    transfer_logger.addFilter(failures)
    root_logger.addHandler(quiet)
    _listening = True
    try:
        yield failures
    finally:
        _listening = False
        transfer_logger.removeFilter(failures)
        root_logger.removeHandler(quiet)
        logging.disable(previous)


_listening = False


def push_objects(root: Path, md5s: Sequence[str], remote: str | None,
                 progress: TransferProgress | None = None) -> PushReport:
    """Upload cache objects by hash to the DVC remote (a `.dir` sends its files); skip those there.

    Unlike `dvc push`, this needs no pointer file in the work tree, so the pre-push hook and
    `mlv push` can send the data of every commit being pushed, not only of the checked-out one.
    """
    if not md5s:
        return PushReport(0, [])
    started = time.time()
    with _upload_failures() as failures:
        result = _cloud(root, "push", md5s, remote, "dvc push failed", progress)
    return PushReport(len(result.transferred), sorted(h.value for h in result.failed), failures.causes, started)


def missing_everywhere(root: Path, md5s: Sequence[str], remote: str | None) -> list[str]:
    """Which of MD5S (objects the local cache lacks) the DVC remote lacks too.

    DVC's push skips an object that is in neither place without counting it as failed, so a
    caller that must know the remote is complete asks this for the objects it could not send.
    """
    if not md5s:
        return []
    status = _cloud(root, "status", md5s, remote, "cannot query the DVC remote")
    missing = sorted(h.value for h in status.missing)
    if missing:  # DVC 2 may have pushed them, to DVC 2's layout
        status = _cloud(root, "status", missing, remote, "cannot query the DVC remote", legacy=True)
        missing = sorted(h.value for h in status.missing)
    return missing


def absent_from_remote(root: Path, md5s: Sequence[str], remote: str | None,
                       failure: str = "cannot query the DVC remote") -> list[str]:
    """Which of MD5S the DVC remote does not hold, each looked for in the layout the local cache
    keeps it in (DVC 2's or DVC 3's): what a clone could not download. FAILURE starts the error."""
    if not md5s:
        return []
    status = _cloud(root, "status", md5s, remote, failure)
    new = {h.value for h in status.new}
    missing = sorted(h.value for h in status.missing)
    if missing:  # in neither the cache nor DVC 3's layout: DVC 2 may have pushed them to its own
        status = _cloud(root, "status", missing, remote, failure, legacy=True)
        new |= {h.value for h in status.missing}
    return sorted(new)
