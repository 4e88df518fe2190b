"""Profiles computed in pieces and merged: the Dask engine (`mlv data profile --engine dask`).

Every accumulator merges (KLL sketches, K-minimum-values, Misra-Gries counts, moments by Chan's
update), so each file of a dataset is profiled on its own, on any worker, and the pieces are
merged into the profile one process would have made: counts, moments, top values and distinct
counts below the sketch's capacity are the same; quantiles agree within the KLL rank error.

The cluster is the user's: `scheduler` is a Dask scheduler address (`tcp://host:8786`) that the
user typed, or a local scheduler ("threads", "processes", "synchronous"). Workers read the files
by the paths given, so a remote cluster needs them on a shared file system.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlv.datahealth.errors import DataHealthError, require_extra
from mlv.datahealth.model import Profile
from mlv.datahealth.partial import Partial

LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
DASK_HINT = "pip install 'mlv-vcs[dask]'"


def profile_file_partial(file: Path) -> Partial:
    """The partial profile of one CSV or Parquet file (run on a worker)."""
    from mlv.datahealth.profiler import file_partial

    return file_partial(file)


def profile_dataset_dask(path: Path, scheduler: str = "threads") -> Profile:
    """The profile of the dataset at PATH, one task per file on SCHEDULER, merged here."""
    require_extra(checking=False)
    from mlv.datahealth.reader import find_dataset

    dataset = find_dataset(path)
    partials = _compute([(profile_file_partial, file) for file in dataset.files], scheduler)
    merged = partials[0]
    for partial in partials[1:]:
        merged = merged.merge(partial)
    return merged.result({"format": dataset.format, "files": len(dataset.files), "engine": "dask"})


def _compute(calls: list[tuple[Any, Any]], scheduler: str) -> list[Partial]:
    try:
        import dask
    except ImportError:
        raise DataHealthError(f"--engine dask needs the optional extra: {DASK_HINT}") from None
    tasks = [dask.delayed(function, pure=False)(argument) for function, argument in calls]
    if scheduler in LOCAL_SCHEDULERS:
        return list(dask.compute(*tasks, scheduler=scheduler))
    return _on_cluster(tasks, scheduler)


def _on_cluster(tasks: list[Any], address: str) -> list[Partial]:
    if not address.startswith(("tcp://", "tls://", "inproc://")):
        raise DataHealthError(f"--scheduler {address!r} is neither a Dask scheduler address nor one of "
                              f"{', '.join(LOCAL_SCHEDULERS)}", hint="For example: --scheduler tcp://10.0.0.5:8786.")
    try:
        import dask
        from distributed import Client
    except ImportError:
        raise DataHealthError(f"a Dask scheduler address needs the optional extra: {DASK_HINT}") from None
    try:
        with Client(address, timeout=30, set_as_default=False) as client:
            return list(dask.compute(*tasks, scheduler=client.get))
    except OSError as exc:
        raise DataHealthError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
