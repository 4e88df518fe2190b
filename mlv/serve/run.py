"""Start uvicorn on the app, with N workers: one process each, each its own prediction-log writer."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from mlv.errors import MlvError
from mlv.registry.loaded import check_package
from mlv.serve.settings import ENV, Settings
from mlv.serve.target import Target


class ServeError(MlvError):
    """`mlv serve` cannot start: the extra is missing, or an option is out of range."""


def require_extra() -> None:
    try:
        import prometheus_client  # noqa: F401
        import pyarrow  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ServeError(f"`mlv serve` needs {exc.name}, which is not installed",
                         hint="Install the serve extra: pip install 'mlv-vcs[serve]'.") from None


def serve(target: Target, settings: Settings, host: str, port: int, workers: int) -> None:
    """Check the package (it must verify), then run uvicorn until SIGTERM or Ctrl-C."""
    require_extra()
    import uvicorn

    info, _schema, _path = check_package(target.folder)
    os.environ[ENV] = settings.to_env()
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="mlv-serve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    log = f", logging to {settings.log}" if settings.log else ", no prediction log"
    print(f"mlv serve: {info.get('model')} {info.get('version')} on http://{host}:{port} "
          f"({workers} worker{'s' if workers > 1 else ''}{log})", file=sys.stderr, flush=True)
    try:
        uvicorn.run("mlv.serve.app:create_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False, timeout_graceful_shutdown=30,
                    server_header=False, date_header=False)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def log_url(given: str | None) -> str:
    """A local log folder as an absolute path (the workers agree on it); a URL as given."""
    value = given or "predictions"
    return value if "://" in value else str(Path(value).absolute())
