"""`mlv serve`: a packaged model version behind an HTTP API (uvicorn + Starlette), with the
prediction log and Prometheus metrics. Needs the optional extra `mlv-vcs[serve]`."""
