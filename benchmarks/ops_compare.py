"""Reading history: diff of two experiments, and the log over many experiments."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from benchmarks import datasets, repos
from benchmarks.context import Bench, Scenario
from benchmarks.measure import CommandFailedError, Measurement, not_available, run_once
from benchmarks.workspace import dvc_exe, mlv_exe


def diff(b: Bench, sc: Scenario) -> None:
    """Two experiments whose small-file folder differs in a few files and whose params differ."""
    case = b.case("diff", sc)
    n = b.profile.diff_files
    case.note = f"the two experiments differ in {n} data files, one param and the metrics"
    b.say(f"diff, {sc.label}")
    small = sc.small_rel
    assert small is not None
    try:
        for repo, commands in ((sc.mlv_repo, repos.mlv_snapshot("ten files changed")),
                               (sc.dvc_repo, repos.dvc_snapshot(sc.data_paths, "ten files changed"))):
            b.ws.run(["git", "tag", "-f", "exp-a"], repo)
            datasets.change_files(repo / small, n, 5000)
            repos.set_params(repo, 0.2)
            run_once(commands, repo, b.ws.env(repo))
            b.ws.run(["git", "tag", "-f", "exp-b"], repo)
    except CommandFailedError as exc:
        case.note += f"; set-up failed: {exc}"
        return
    if b.has("diff"):
        case.add(b.measure("mlv", "mlv diff A B", lambda _i: run_once(
            [[mlv_exe(), "diff", "exp-a", "exp-b"]], sc.mlv_repo, b.ws.env(sc.mlv_repo))))
    else:
        case.add(_missing("mlv diff"))
    dvc = [[dvc_exe(), "diff", "exp-a", "exp-b"], [dvc_exe(), "params", "diff", "exp-a", "exp-b"],
           [dvc_exe(), "metrics", "diff", "exp-a", "exp-b"]]
    case.add(b.measure("dvc", "dvc diff + dvc params diff + dvc metrics diff",
                       lambda _i: run_once(dvc, sc.dvc_repo, b.ws.env(sc.dvc_repo))))
    case.add(b.measure("floor", "git diff --stat A B", lambda _i: run_once(
        [["git", "diff", "--stat", "exp-a", "exp-b"]], sc.dvc_repo, b.ws.env(sc.dvc_repo))))


def _missing(label: str) -> Measurement:
    return not_available("mlv", label, "command not in this mlv yet")


def log(b: Bench) -> None:
    """`mlv log` over N experiment commits, `dvc exp show -n N` over N commits, `git log`.

    Making N real snapshots would take most of the time budget, so one real experiment commit
    is made with `mlv snapshot --run`, and N-1 more are written with `git fast-import`: each
    re-uses that commit's tree and record, with a different `lr` in params.yaml (and in the
    record) and different metrics. The DVC repository is built the same way from one real
    `dvc add` + `git commit`: N commits whose params.yaml and metrics.json differ.
    """
    n = b.profile.log_experiments
    case = b.case("log", dataset=f"{n:,} experiment commits")
    case.nfiles = n
    base = b.ws.runs / "log"
    mlv_repo, dvc_repo = base / "mlv", base / "dvc"
    b.say(f"log over {n} experiments: building the repositories")
    try:
        _build_mlv_history(b, mlv_repo, n)
        _build_dvc_history(b, dvc_repo, n)
    except CommandFailedError as exc:
        case.note = f"set-up failed: {exc}"
        return
    case.add(b.measure("mlv", "mlv log", lambda _i: run_once([[mlv_exe(), "log"]], mlv_repo,
                                                             b.ws.env(mlv_repo))))
    m = case.add(b.measure("dvc", f"dvc exp show -n {n}", lambda _i: run_once(
        [[dvc_exe(), "exp", "show", "-n", str(n), "--no-pager"]], dvc_repo, b.ws.env(dvc_repo))))
    if m.warmup:
        m.note = (f"the first (cold) run took {m.warmup[0].seconds:.1f} s; later runs reuse DVC's "
                  "per-commit cache in .dvc/tmp/exps")
    case.add(b.measure("floor", "git log", lambda _i: run_once([["git", "log"]], mlv_repo, b.ws.env(mlv_repo))))
    case.note = ("1 real experiment commit + the rest written with git fast-import (same tree and "
                 "record, a different lr and metrics in each)")


def _tiny_data(repo: Path) -> None:
    folder = repo / "data" / "small"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(10):
        (folder / f"f{i}.csv").write_text(f"a,b\n{i},{i * i}\n")


def _build_mlv_history(b: Bench, repo: Path, n: int) -> None:
    from mlv.record.record import Record, render_message, split_message

    repos.init_mlv(b.ws, repo, ["data/small"])
    _tiny_data(repo)
    b.ws.run([mlv_exe(), "snapshot", "--run", "python train.py", "-m", "exp 0"], repo)
    message = b.ws.out(["git", "log", "-1", "--format=%B"], repo)
    _user, doc = split_message(message)
    assert doc is not None, "mlv snapshot made a commit without a record"
    stream = []
    for i in range(1, n):
        lr = round(0.1 + i / 10_000, 6)
        doc["params"]["params.yaml"]["train"]["lr"] = lr
        doc["metrics"]["metrics.json"] = json.loads(repos.metrics_text(lr))
        doc["created"] = re.sub(r"T\d\d:\d\d", f"T{(i // 60) % 24:02d}:{i % 60:02d}", doc["created"])
        text = render_message(f"exp {i}", Record.from_dict(doc))
        stream.append(_fast_import_commit(i, text, repos.params_text(lr), repos.metrics_text(lr)))
    _fast_import(b, repo, stream)


def _build_dvc_history(b: Bench, repo: Path, n: int) -> None:
    repos.init_dvc(b.ws, repo)
    _tiny_data(repo)
    run_once(repos.dvc_snapshot(["data/small"], "exp 0"), repo, b.ws.env(repo))
    stream = []
    for i in range(1, n):
        lr = round(0.1 + i / 10_000, 6)
        stream.append(_fast_import_commit(i, f"exp {i}\n", repos.params_text(lr), repos.metrics_text(lr)))
    _fast_import(b, repo, stream)


def _fast_import_commit(i: int, message: str, params: str, metrics: str) -> bytes:
    msg = message.encode()
    when = 1_700_000_000 + 60 * i
    parts = [b"commit refs/heads/main\n", b"author Bench <bench@example.com> %d +0000\n" % when,
             b"committer Bench <bench@example.com> %d +0000\n" % when, b"data %d\n%s\n" % (len(msg), msg)]
    if i == 1:
        parts.append(b"from refs/heads/main^0\n")
    for name, text in ((b"params.yaml", params.encode()), (b"metrics.json", metrics.encode())):
        parts.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name, len(text), text))
    return b"".join(parts)


def _fast_import(b: Bench, repo: Path, stream: list[bytes]) -> None:
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, env=b.ws.env(repo), input=b"".join(stream),
                   check=True)
    b.ws.run(["git", "reset", "-q", "--hard", "main"], repo)  # the benchmark's own repository
