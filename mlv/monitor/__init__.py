"""Production monitoring: the prediction log `mlv serve` writes, read back against the served
version's lineage (its training-data profile, reference predictions and recorded metrics).

The log's layout and columns are docs/reference/prediction-log.md. Modules: `logstore` (where the
log lives: a folder or an fsspec URL), `window` (which time span), `segments` (finding, checking
and reading segments), `system` (throughput, latency, errors, drops), `quality` (metrics on labelled
rows), `labels` (`mlv monitor labels`), `baseline` (what the served version was trained on),
`rules` (the `monitor:` section), `run` (`mlv monitor`), `export` (`mlv monitor export`) and
`lineage` (the sidecar an export leaves for `mlv snapshot`).

Nothing heavy is imported here: pyarrow is needed only once a log is read.
"""
