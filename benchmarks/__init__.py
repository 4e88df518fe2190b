"""mlv's benchmark suite: mlv against DVC and against the physical floor, on the same data.

Run it with `make bench` (full, writes docs/benchmarks.md and docs/benchmarks.png) or
`make bench-smoke` (tiny datasets, one pass of every operation, nothing asserted about time).
Everything it creates lives under the work folder (benchmarks/.work/ unless --work-dir or
MLV_BENCH_DIR says otherwise).
"""
