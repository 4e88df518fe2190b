"""Operations on the working tree: checkout, reproduce, git hooks; and start-up time."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks import datasets, repos
from benchmarks.context import Bench, Case, Scenario
from benchmarks.measure import CommandFailedError, not_available, run_once
from benchmarks.workspace import dvc_exe, mlv_exe, python_exe, remove_repo


def checkout(b: Bench, sc: Scenario) -> None:
    """Switch back and forth between two experiment branches whose data differ in one file.

    Each timed run is one switch (to chk-a, then chk-b, ...). Floor: the same `git checkout` in
    the DVC repository without `dvc checkout`, i.e. code and pointer files only.
    """
    case = b.case("checkout", sc)
    case.note = "two experiment branches whose data differ in one file; each run is one switch"
    b.say(f"checkout, {sc.label}")
    small = sc.small_rel
    assert small is not None
    try:
        for repo, commands in ((sc.mlv_repo, repos.mlv_snapshot("one file changed")),
                               (sc.dvc_repo, repos.dvc_snapshot(sc.data_paths, "one file changed"))):
            b.ws.run(["git", "switch", "-q", "-C", "chk-a"], repo)
            b.ws.run(["git", "switch", "-q", "-C", "chk-b"], repo)
            datasets.change_files(repo / small, 1, 7000)
            run_once(commands, repo, b.ws.env(repo))
    except CommandFailedError as exc:
        case.note += f"; set-up failed: {exc}"
        return

    def target(i: int) -> str:
        return "chk-a" if i % 2 == 0 else "chk-b"

    if b.has("checkout"):
        case.add(b.measure("mlv", "mlv checkout BRANCH", lambda i: run_once(
            [[mlv_exe(), "checkout", target(i)]], sc.mlv_repo, b.ws.env(sc.mlv_repo))))
        _back_to(b, sc.mlv_repo, [mlv_exe(), "checkout", "chk-b"])
    else:
        case.add(not_available("mlv", "mlv checkout BRANCH", "command not in this mlv yet"))
    case.add(b.measure("floor", "git checkout BRANCH", lambda i: run_once(
        [["git", "checkout", "-q", target(i)]], sc.dvc_repo, b.ws.env(sc.dvc_repo))))
    _back_to(b, sc.dvc_repo, ["git", "checkout", "-q", "chk-b"])
    case.add(b.measure("dvc", "git checkout BRANCH + dvc checkout", lambda i: run_once(
        [["git", "checkout", "-q", target(i)], [dvc_exe(), "checkout", "-q"]], sc.dvc_repo,
        b.ws.env(sc.dvc_repo))))
    _back_to(b, sc.dvc_repo, ["git", "checkout", "-q", "chk-b"], [dvc_exe(), "checkout", "-q"])


def _back_to(b: Bench, repo: Path, *commands: list[str]) -> None:
    try:
        for argv in commands:
            b.ws.run(argv, repo)
    except CommandFailedError as exc:
        b.say(f"warning: could not return {repo.name} to chk-b: {exc}")


def reproduce(b: Bench, sc: Scenario) -> None:
    """`mlv reproduce HEAD --yes` against the recorded command run on its own.

    The overhead (everything but the command's own run) is the difference of the two medians.
    DVC has no equivalent: `dvc repro`/`dvc exp run` re-run a pipeline but verify nothing.
    """
    case = b.case("reproduce", sc)
    case.note = "command: python train.py; overhead = mlv median - the command's median"
    b.say(f"reproduce, {sc.label}")
    if b.has("reproduce"):
        case.add(b.measure("mlv", "mlv reproduce HEAD --yes", lambda _i: run_once(
            [[mlv_exe(), "reproduce", "HEAD", "--yes"]], sc.mlv_repo, b.ws.env(sc.mlv_repo))))
    else:
        case.add(not_available("mlv", "mlv reproduce HEAD --yes", "command not in this mlv yet"))
    case.add(b.measure("floor", "python train.py (the command alone)", lambda _i: run_once(
        [[python_exe(), "train.py"]], sc.mlv_repo, b.ws.env(sc.mlv_repo))))


def hooks(b: Bench, sc: Scenario) -> None:
    """`git commit` and `git checkout` with mlv's hooks, with DVC's hooks, and with none.

    Three repositories on the same data: the scenario's mlv repository (`mlv hooks install`), its
    DVC repository (`dvc install`), and a clone of the DVC repository with no hooks (floor). Each
    commit changes one code file (staged before the timed run); each checkout switches between
    two branches whose pointer files are identical (they differ in that code file).
    """
    commit_case = b.case("hook-commit", sc)
    checkout_case = b.case("hook-checkout", sc)
    b.say(f"git hooks, {sc.label}")
    floor_repo = sc.dvc_repo.parent / "nohooks"
    try:
        remove_repo(floor_repo)
        b.ws.run(["git", "clone", "-q", str(sc.dvc_repo), str(floor_repo)], sc.dvc_repo.parent)
        for rel in sc.data_paths:
            subprocess.run(["cp", "-al", str(sc.dvc_repo / rel), str(floor_repo / rel)], check=True)
        b.ws.run(["git", "switch", "-q", "-C", "hooks"], floor_repo)
        b.ws.run(["git", "switch", "-q", "-C", "hooks"], sc.dvc_repo)
        b.ws.run([dvc_exe(), "install"], sc.dvc_repo)
        b.ws.run(["git", "switch", "-q", "-C", "hooks"], sc.mlv_repo)
        if b.has("hooks"):
            b.ws.run([mlv_exe(), "hooks", "install"], sc.mlv_repo)
    except CommandFailedError as exc:
        commit_case.note = checkout_case.note = f"set-up failed: {exc}"
        return
    setups = [("floor", floor_repo, "no hooks"), ("dvc", sc.dvc_repo, "DVC's hooks (dvc install)")]
    if b.has("hooks"):
        setups.insert(0, ("mlv", sc.mlv_repo, "mlv's hooks (mlv hooks install)"))
    else:
        for case in (commit_case, checkout_case):
            case.add(not_available("mlv", "mlv's hooks", "`mlv hooks` not in this mlv yet"))
    for tool, repo, label in setups:
        _measure_hooks(b, commit_case, checkout_case, tool, repo, label)
    commit_case.note = "git commit of one changed code file, data unchanged"
    checkout_case.note = "git checkout between two branches with identical pointer files"


def _measure_hooks(b: Bench, commit_case: Case, checkout_case: Case, tool: str, repo: Path,
                   label: str) -> None:
    def stage(i: int) -> None:
        with open(repo / "notes.txt", "a") as handle:
            handle.write(f"note {i}\n")
        b.ws.run(["git", "add", "notes.txt"], repo)

    commit_case.add(b.measure(tool, f"git commit, {label}", lambda i: run_once(
        [["git", "commit", "-q", "-m", f"code change {i}"]], repo, b.ws.env(repo)), prepare=stage))
    try:
        b.ws.run(["git", "branch", "-f", "hook-a", "HEAD~1"], repo)
        b.ws.run(["git", "branch", "-f", "hook-b", "HEAD"], repo)
        b.ws.run(["git", "checkout", "-q", "hook-b"], repo)
    except CommandFailedError as exc:
        checkout_case.note = f"set-up failed: {exc}"
        return
    checkout_case.add(b.measure(tool, f"git checkout, {label}", lambda i: run_once(
        [["git", "checkout", "-q", "hook-a" if i % 2 == 0 else "hook-b"]], repo, b.ws.env(repo))))


def startup(b: Bench) -> None:
    case = b.case("startup", dataset="no repository")
    b.say("start-up")
    for tool, argv in (("mlv", [mlv_exe(), "--help"]), ("dvc", [dvc_exe(), "--help"]),
                       ("floor", [python_exe(), "-c", "pass"])):
        case.add(b.measure(tool, " ".join([Path(argv[0]).name, *argv[1:]]),
                           lambda _i, argv=argv: run_once([argv], b.ws.root, b.ws.env())))
