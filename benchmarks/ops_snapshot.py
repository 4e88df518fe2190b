"""Snapshots: the first one, one with nothing changed, one after changing a single file.

mlv: `mlv snapshot -m MSG`. DVC: `dvc add PATHS` + `git add -A` + `git commit` (what a DVC user
types to record the same state). Floor: `md5sum` of the same bytes for the first snapshot (the
cost of reading every byte once), a bare `git commit` when nothing changed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from benchmarks import datasets, repos
from benchmarks.context import Bench, Scenario
from benchmarks.measure import CommandFailedError, Sample, run_once


def first_snapshot(b: Bench, sc: Scenario, runs: int, warmup: int) -> None:
    """Each run starts from a fresh repository and a cold cache; the last run's repos are kept.

    The data is borrowed by renaming the originals into the repository and back (no copy to
    pay for); after the last run a hard-linked copy goes back instead, so the repository keeps
    its data for the incremental operations that follow. Earlier runs use their own folders,
    deleted only at the end of the suite: deleting many files on this disk (mounted with
    `discard`) slows the file creations that follow, which would land in the next timed run.
    For the same reason dirty pages are written out (`sync`, not timed) before each run.
    """
    case = b.case("first", sc)
    sources = [b.ws.data / spec.name for spec, _ in sc.parts]
    total = runs + warmup
    # The floor is cheap: it always gets the full count of runs, even where the tools cannot.
    case.add(b.measure("floor", "md5sum over the same files",
                       lambda _i: run_once([datasets.md5sum_command(sources)], b.ws.root, b.ws.env()),
                       prepare=lambda _i: os.sync()))
    for tool, label, keep, init, commands in (
        ("mlv", "mlv snapshot", sc.mlv_repo, lambda repo: repos.init_mlv(b.ws, repo, sc.data_paths),
         repos.mlv_snapshot("first")),
        ("dvc", "dvc add + git add + git commit", sc.dvc_repo, lambda repo: repos.init_dvc(b.ws, repo),
         repos.dvc_snapshot(sc.data_paths, "first")),
    ):
        b.say(f"first snapshot {sc.label}: {tool}")

        def repo_for(index: int, keep: Path = keep) -> Path:
            return keep if index == total - 1 else keep.parent / f"first-{index}" / keep.name

        step = _borrowing(b, sc, repo_for, total, init, commands)
        case.add(b.measure(tool, label, step, runs=runs, warmup=warmup, prepare=lambda _i: os.sync()))
    if runs < b.profile.runs:
        case.note = (f"mlv and DVC: {runs} run(s) each, no warm-up (a DVC run takes about a minute here, "
                     "too long to repeat within the suite's 20-minute budget), so no median for them")


def _borrowing(b: Bench, sc: Scenario, repo_for: Callable[[int], Path], total: int,
               init: Callable[[Path], None], commands: list[list[str]]) -> Callable[[int], Sample]:
    def step(index: int) -> Sample:
        repo = repo_for(index)
        init(repo)
        moved: list[tuple[Path, Path]] = []
        try:
            for spec, rel in sc.parts:
                src, dst = b.ws.data / spec.name, repo / rel
                os.replace(src, dst)
                moved.append((src, dst))
            return run_once(commands, repo, b.ws.env(repo))
        finally:
            for src, dst in moved:
                if index == total - 1:
                    # Keep the data in the repository; the original becomes a hard-linked copy.
                    subprocess.run(["cp", "-al", str(dst), str(src)], check=True)
                else:
                    os.replace(dst, src)

    return step


def add_data(b: Bench, sc: Scenario, rel: str) -> bool:
    """Add the dataset at REL to both repositories (hard-linked copy, then a snapshot; not timed)."""
    spec = next(spec for spec, path in sc.parts if path == rel)
    b.say(f"adding {spec.label} to the {sc.key} repositories (not timed)")
    try:
        for repo in (sc.mlv_repo, sc.dvc_repo):
            subprocess.run(["cp", "-al", str(b.ws.data / spec.name), str(repo / rel)], check=True)
        (sc.mlv_repo / ".mlv" / "config.yaml").write_text(repos.mlv_config(sc.data_paths))
        run_once(repos.mlv_snapshot(f"add {rel}"), sc.mlv_repo, b.ws.env(sc.mlv_repo))
        run_once(repos.dvc_snapshot([rel], f"add {rel}"), sc.dvc_repo, b.ws.env(sc.dvc_repo))
    except (CommandFailedError, subprocess.CalledProcessError) as exc:
        b.say(f"could not add {rel}: {exc}")
        b.case("noop", sc).note = f"set-up failed: {exc}"
        return False
    return True


def noop_snapshot(b: Bench, sc: Scenario) -> None:
    case = b.case("noop", sc)
    b.say(f"snapshot, nothing changed, {sc.label}")
    case.add(b.measure("mlv", "mlv snapshot",
                       lambda i: run_once(repos.mlv_snapshot(f"noop {i}"), sc.mlv_repo, b.ws.env(sc.mlv_repo))))
    case.add(b.measure("dvc", "dvc add + git add + git commit",
                       lambda i: run_once(repos.dvc_snapshot(sc.data_paths, f"noop {i}"), sc.dvc_repo,
                                          b.ws.env(sc.dvc_repo))))
    case.add(b.measure("floor", "git commit",
                       lambda i: run_once(repos.git_commit(f"floor {i}"), sc.dvc_repo, b.ws.env(sc.dvc_repo))))


def watched_snapshots(b: Bench, sc: Scenario) -> None:
    """The same snapshots with the watcher on: nothing changed, then one file changed. One untimed
    snapshot first gives the tracked paths their Watchman clock (the first walk with a watcher)."""
    if b.ws.watchman_sock is None:
        b.say("no watchman: the watcher rows are skipped")
        return
    env = b.ws.env(sc.mlv_repo, watcher=True)
    run_once(repos.mlv_snapshot("take the clocks"), sc.mlv_repo, env)
    b.say(f"snapshot, nothing changed, watcher on, {sc.label}")
    case = b.case("noop-watch", sc)
    case.add(b.measure("mlv", "mlv snapshot (Watchman running)",
                       lambda i: run_once(repos.mlv_snapshot(f"noop watched {i}"), sc.mlv_repo, env)))
    case.add(b.measure("floor", "git commit",
                       lambda i: run_once(repos.git_commit(f"floor watched {i}"), sc.dvc_repo, b.ws.env(sc.dvc_repo))))
    small = sc.small_rel
    if small is None:
        return
    b.say(f"snapshot after changing one file, watcher on, {sc.label}")
    case = b.case("change1-watch", sc)
    case.add(b.measure("mlv", "mlv snapshot (Watchman running)",
                       lambda i: run_once(repos.mlv_snapshot(f"change watched {i}"), sc.mlv_repo, env),
                       prepare=lambda i: _change(sc.mlv_repo / small, 1, 2000 + i)))


def change_one_snapshot(b: Bench, sc: Scenario) -> None:
    """Before each run (not timed) one small file gets new content, as a new inode."""
    case = b.case("change1", sc)
    small = sc.small_rel
    assert small is not None
    b.say(f"snapshot after changing one file, {sc.label}")
    for tool, repo, label, commands in (
        ("mlv", sc.mlv_repo, "mlv snapshot", lambda i: repos.mlv_snapshot(f"change {i}")),
        ("dvc", sc.dvc_repo, "dvc add + git add + git commit",
         lambda i: repos.dvc_snapshot(sc.data_paths, f"change {i}")),
    ):
        case.add(b.measure(
            tool, label,
            lambda i, repo=repo, commands=commands: run_once(commands(i), repo, b.ws.env(repo)),
            prepare=lambda i, repo=repo: _change(repo / small, 1, 1000 + i),
        ))


def _change(folder: Path, count: int, salt: int) -> None:
    datasets.change_files(folder, count, salt)
