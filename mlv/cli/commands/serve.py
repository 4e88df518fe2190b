"""`mlv serve`: a registry version or a package behind an HTTP API, every prediction logged."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)


def serve_command(
    what: Annotated[str, typer.Argument(metavar="NAME#STAGE|NAME@vX.Y.Z|PACKAGE_DIR", help="What to serve: a registry stage or version (packaged into .git/mlv/ first), or a folder made by `mlv model package`.", show_default=False)],
    host: Annotated[str, typer.Option("--host", help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The TCP port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes; each writes its own log segments.")] = 1,
    follow: Annotated[bool, typer.Option("--follow", help="Watch NAME#STAGE; when it moves, verify and load the new version and swap without dropping a request.")] = False,
    follow_every: Annotated[float, typer.Option("--follow-every", help="Seconds between two looks at the stage (with --follow).")] = 5.0,
    log: Annotated[str | None, typer.Option("--log", metavar="URL", help="Where the prediction log goes: a folder or an fsspec URL (s3://bucket/prefix). Default: predictions/ in the current folder.", show_default=False)] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="Write no prediction log.")] = False,
    log_sample: Annotated[float, typer.Option("--log-sample", metavar="RATE", help="The share of requests logged, 0 to 1 (every request is still counted).")] = 1.0,
    log_interval: Annotated[float, typer.Option("--log-interval", metavar="SECONDS", help="Seconds between two segments of a worker: what a SIGKILL can lose at most.")] = 1.0,
    log_queue: Annotated[int, typer.Option("--log-queue", metavar="N", help="Requests waiting for the log writer, at most; beyond that, rows are dropped and counted.")] = 100_000,
    max_body: Annotated[int, typer.Option("--max-body", metavar="BYTES", help="The largest request body accepted (413 beyond).")] = 1 << 20,
) -> None:
    """Serve a model version over HTTP (uvicorn): POST /predict (and MLflow's /invocations),
    GET /health, GET /metrics (Prometheus). Needs `pip install 'mlv-vcs[serve]'`.

    Only a package that verifies is loaded (a pickle is code: docs/security.md). Every answered
    prediction goes to the prediction log (docs/reference/prediction-log.md) through a bounded
    queue, off the request path; SIGTERM writes everything acknowledged. API: docs/reference/serve.md.

    Examples:

        mlv serve churn#prod --follow --workers 2

        mlv serve churn@v0.0.3 --port 9000 --log s3://bucket/predictions --log-sample 0.1

        mlv model package churn#prod -o dist/churn && mlv serve dist/churn
    """
    from mlv.cli.errors import handle_errors
    from mlv.serve import run, target
    from mlv.serve.settings import Settings

    with handle_errors():
        problems = [text for bad, text in (
            (not 0.0 <= log_sample <= 1.0, f"--log-sample {log_sample} is not between 0 and 1"),
            (workers < 1, "--workers must be at least 1"),
            (not 0 < port < 65536, f"--port {port} is not a TCP port"),
            (log_interval <= 0 or follow_every <= 0, "--log-interval and --follow-every must be positive"),
            (log_queue < 1 or max_body < 1, "--log-queue and --max-body must be at least 1"),
        ) if bad]
        if problems:
            raise run.ServeError(problems[0])
        run.require_extra()
        found = target.find(what, Path.cwd())
        if follow and found.stage is None:
            raise run.ServeError("--follow needs a stage to watch", hint=f"Serve NAME#STAGE, e.g. `mlv serve {what.split('@')[0]}#prod --follow`.")
        settings = Settings(package=str(found.folder), root=str(found.root) if found.root else None,
                            follow=found.reference if follow else None, follow_every_s=follow_every,
                            log=None if no_log else run.log_url(log), log_sample=log_sample,
                            log_queue=log_queue, log_interval_s=log_interval, max_body=max_body)
        run.serve(found, settings, host, port, workers)
