"""Check records against their commits' trees: the tree is the truth, the record only a claim.

A record is copied along by `git cherry-pick`, `rebase`, `commit --amend` and squashes, and can be
written by hand, so it may describe another tree than its commit's. What the tree pins (its code,
its `.dvc` pointer files, its `dvc.lock` outs, its lockfile, its params files) is compared with
what the record claims; every disagreement is a `Difference`, and a record with any is
*rewritten* (docs/reference/record-format.md). Everything for every commit checked is read by three
`git cat-file` processes, whatever the number of commits.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlv.adapters import git
from mlv.env.environment import Environment
from mlv.errors import MlvError
from mlv.record.record import Record

if TYPE_CHECKING:
    from mlv.adapters.dvc import Pointer

REWRITTEN = "rewritten"
OK = "ok"
DVC_LOCK = "dvc.lock"
LOCKFILE_DIR = ".mlv/env"
MAX_DVC_LOCK_BYTES = 4 * 1024 * 1024  # a dvc.lock of thousands of stages; larger is not read
MAX_PARAMS_BYTES = 1024 * 1024  # as the record itself: a params file larger could not be recorded


@dataclass(frozen=True)
class Difference:
    """One way a record disagrees with its commit's tree. JSON: {kind, path, recorded, tree}."""

    kind: str  # code | data | output | lockfile | params
    path: str | None
    recorded: str | None  # what the record says (a hash, "present"), None when it says nothing
    tree: str | None  # what the tree holds, None when the tree lacks it

    def describe(self) -> str:
        if self.kind == "code":
            return (f"code: the record was made with tree {(self.recorded or '')[:10]}, "
                    f"the commit has tree {(self.tree or '')[:10]}")
        where = f"{self.kind} {self.path}" if self.path else self.kind
        if self.tree is None:
            return f"{where}: named by the record, not in the commit's tree"
        return f"{where}: the record pins {(self.recorded or '-')[:16]}, the tree {self.tree[:16]}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "recorded": self.recorded, "tree": self.tree}


@dataclass
class TreeFacts:
    """What a commit's tree pins, for the record's paths, and how the record disagrees with it."""

    data: list[Pointer]  # the tree's pointer for each recorded data path it has
    outputs: list[Pointer]
    lockfiles: list[str]  # every lockfile in the tree's .mlv/env (two after a merge of environments)
    differences: list[Difference] = field(default_factory=list)

    @property
    def status(self) -> str:
        return REWRITTEN if self.differences else OK


def _paths(rec: Record) -> list[str]:
    paths = [f"{item.path}.dvc" for item in (*rec.data, *rec.outputs)]
    return [*paths, rec.environment.lockfile, LOCKFILE_DIR, DVC_LOCK, *rec.params]


def _read_trees(root: Path, records: list[tuple[str, Record]]) -> dict[str, bytes | None]:
    """`sha:path` -> content for every path the records name, plus `sha` -> "tree <id>".

    Three git processes whatever the number of commits: the trees of the commits, the ids of the
    paths in each distinct tree, then each distinct object once. Experiments share most files (the
    lockfile, unchanged data), so this reads each of them once instead of once per commit.
    """
    trees = git.object_ids(root, [f"{sha}^{{tree}}" for sha, _ in records])
    wanted = {(trees[f"{sha}^{{tree}}"], path) for sha, rec in records for path in _paths(rec)}
    ids = git.object_ids(root, sorted(f"{tree}:{path}" for tree, path in wanted if tree))
    contents = git.read_blobs(root, sorted({oid for oid in ids.values() if oid}))
    found: dict[str, bytes | None] = {}
    for sha, rec in records:
        tree = trees[f"{sha}^{{tree}}"]
        found[sha] = f"tree {tree}\n".encode() if tree else None
        for path in _paths(rec):
            oid = ids.get(f"{tree}:{path}") if tree else None
            found[f"{sha}:{path}"] = contents.get(oid) if oid else None
    return found


def _other_pointer_files(root: Path, records: list[tuple[str, Record]],
                         found: dict[str, bytes | None]) -> dict[str, dict[str, Pointer]]:
    """Commit -> {output path: pointer} from every `.dvc` file of the (rare) trees that lack
    `<path>.dvc` for a recorded path: DVC lets a pointer file of any name track a path, so the
    tree may still pin it. The trees are listed together and the pointer files read together, so
    a history of many such commits costs a few git processes, not one per commit."""
    tree_of_commit: dict[str, str] = {}
    for sha, rec in records:
        if all(found.get(f"{sha}:{item.path}.dvc") is not None for item in (*rec.data, *rec.outputs)):
            continue
        tree = git.tree_of_commit_object(found.get(sha))
        if tree is not None:
            tree_of_commit[sha] = tree
    if not tree_of_commit:
        return {}
    trees = sorted(set(tree_of_commit.values()))
    listings = git.tree_listings(root, trees)
    specs = {tree: [name for name in listings[tree] if name.endswith(".dvc")] for tree in trees}
    blobs = git.read_blobs(root, [f"{tree}:{name}" for tree in trees for name in specs[tree]])
    per_tree: dict[str, dict[str, Pointer]] = {}
    for tree in trees:
        pointers: dict[str, Pointer] = {}
        for name in specs[tree]:
            pointer = _pointer(blobs[f"{tree}:{name}"], name)
            if pointer is not None:
                pointers.setdefault(pointer.path, pointer)
        per_tree[tree] = pointers
    return {sha: per_tree[tree] for sha, tree in tree_of_commit.items()}


def check_all(root: Path, records: list[tuple[str, Record]]) -> dict[str, TreeFacts]:
    """Each (commit, record) checked against the commit's tree, with one git process for all.

    Commits share most of their files (a pointer file, the lockfile), so each distinct content is
    parsed or hashed once: `mlv log` over a thousand experiments stays within its budget.
    """
    if not records:
        return {}
    objects = _read_trees(root, records)
    others = _other_pointer_files(root, records, objects)
    memo: dict[tuple[str, bytes], Any] = {}
    return {sha: _check(sha, rec, objects, memo, others.get(sha, {})) for sha, rec in records}


def _once(memo: dict[tuple[str, bytes], Any], kind: str, data: bytes, compute: Callable[[], Any]) -> Any:
    key = (kind, data)
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def lockfiles_of(root: Path, shas: list[str]) -> dict[str, list[str]]:
    """The lockfiles in each commit's .mlv/env (for commits without a record), in one git process."""
    objects = git.read_blobs(root, [f"{sha}:{LOCKFILE_DIR}" for sha in shas])
    return {sha: _lockfiles(objects[f"{sha}:{LOCKFILE_DIR}"], len(sha)) for sha in shas}


def two_lockfiles_note(lockfiles: list[str]) -> str:
    """What to say about a tree holding several lockfiles: a merge kept both environments."""
    return (f"the tree holds {len(lockfiles)} environment lockfiles ({', '.join(lockfiles)}): a merge of two "
            "environments that never ran together; re-snapshot (`mlv snapshot --run ...`) to record one")


def _check(sha: str, rec: Record, objects: dict[str, bytes | None],
           memo: dict[tuple[str, bytes], Any] | None = None, others: dict[str, Pointer] | None = None) -> TreeFacts:
    memo = {} if memo is None else memo

    def blob(path: str) -> bytes | None:
        return objects.get(f"{sha}:{path}")

    differences: list[Difference] = []
    recorded_tree = rec.tree
    actual_tree = git.tree_of_commit_object(objects.get(sha))
    if recorded_tree is not None and actual_tree is not None and recorded_tree != actual_tree:
        differences.append(Difference("code", None, recorded_tree, actual_tree))
    lock_blob = blob(DVC_LOCK)
    lock_outs: dict[str, LockedOut] = (_once(memo, "dvc.lock", lock_blob, lambda: _dvc_lock_outs(lock_blob))
                                 if lock_blob is not None else {})
    facts = TreeFacts(data=[], outputs=[], lockfiles=_lockfiles(blob(LOCKFILE_DIR), len(sha)))
    others = others or {}
    for kind, items, found in (("data", rec.data, facts.data), ("output", rec.outputs, facts.outputs)):
        for item in items:
            data = blob(f"{item.path}.dvc")
            pointer = (None if data is None else
                       _once(memo, f"{item.path}.dvc", data, functools.partial(_pointer, data, f"{item.path}.dvc")))
            if pointer is None and item.path in others:
                pointer = others[item.path]
            if pointer is None and item.path in lock_outs:
                pointer = _lock_pointer(item.path, lock_outs[item.path])
            if pointer is None:
                differences.append(Difference(kind, item.path, item.md5, None))
                continue
            found.append(pointer)
            if pointer.md5 != item.md5:
                differences.append(Difference(kind, item.path, item.md5, pointer.md5))
    differences += _lockfile_differences(rec, blob(rec.environment.lockfile), memo)
    if recorded_tree is None or recorded_tree != actual_tree:
        # With the tree the record was made with, its params files are the ones the snapshot read:
        # parsing them again (the slow part of a long `mlv log`) could find nothing new.
        differences += _params_differences(rec, blob, memo)
    facts.differences = differences
    return facts


def _pointer(data: bytes | None, pointer_file: str) -> Pointer | None:
    from mlv.adapters import dvc

    if data is None:
        return None
    try:
        return dvc.parse_pointer(data, pointer_file)
    except MlvError:
        return None  # an unreadable pointer file pins nothing: the record names what is not there


LockedOut = tuple[str, int, int | None, str]  # md5, size, nfiles, stage: an output as dvc.lock pins it


def _lock_pointer(path: str, locked: LockedOut) -> Pointer | None:
    from mlv.adapters import dvc

    md5, size, nfiles, stage = locked
    try:
        return dvc.Pointer(path=path, md5=md5, size=size, nfiles=nfiles, stage=stage)
    except MlvError:
        return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _dvc_lock_outs(data: bytes | None) -> dict[str, LockedOut]:
    """Output path -> (md5, size, nfiles, stage) of every stage in a `dvc.lock` (DVC 2/3 format);
    {} when unreadable. A size or file count that is not a count is read as unknown (0, None)."""
    from mlv.adapters import dvc

    if data is None:
        return {}
    try:
        doc = dvc.load_untrusted_yaml(data, MAX_DVC_LOCK_BYTES)
    except ValueError:
        return {}
    stages = doc.get("stages") if isinstance(doc, dict) else None
    found: dict[str, LockedOut] = {}
    for name, stage in (stages.items() if isinstance(stages, dict) else []):
        outs = stage.get("outs") if isinstance(stage, dict) else None
        for out in outs if isinstance(outs, list) else []:
            if isinstance(out, dict) and isinstance(out.get("path"), str) and dvc.is_object_hash(out.get("md5")):
                size, nfiles = out.get("size"), out.get("nfiles")
                found[out["path"].strip("/")] = (
                    str(out["md5"]), size if isinstance(size, int) and _is_count(size) else 0,
                    nfiles if isinstance(nfiles, int) and _is_count(nfiles) else None, str(name))
    return found


def _lockfiles(tree_object: bytes | None, sha_hex_len: int) -> list[str]:
    """Names of the `requirements-*.txt` files in a raw git tree object (`mode name\\0<hash>`)."""
    if not tree_object:
        return []
    hash_len = sha_hex_len // 2
    names, pos = [], 0
    while pos < len(tree_object):
        nul = tree_object.find(b"\0", pos)
        if nul < 0:
            break
        _, _, name = tree_object[pos:nul].partition(b" ")
        pos = nul + 1 + hash_len
        text = name.decode("utf-8", errors="replace")
        if text.startswith("requirements-") and text.endswith(".txt"):
            names.append(f"{LOCKFILE_DIR}/{text}")
    return sorted(names)


def _lockfile_differences(rec: Record, data: bytes | None, memo: dict[tuple[str, bytes], Any]) -> list[Difference]:
    import hashlib

    lockfile = rec.environment.lockfile
    if data is None:
        return [Difference("lockfile", lockfile, rec.environment.lockfile_sha256, None)]
    actual = _once(memo, "sha256", data, lambda: hashlib.sha256(data).hexdigest())
    if actual != rec.environment.lockfile_sha256:
        return [Difference("lockfile", lockfile, rec.environment.lockfile_sha256, actual)]
    return []


def _params_differences(rec: Record, blob: Callable[[str], bytes | None],
                        memo: dict[tuple[str, bytes], Any]) -> list[Difference]:
    """Params files as the tree holds them against the record's copy (parsed: formatting is free)."""
    found = []
    for name, content in rec.params.items():
        data = blob(name)
        if data is None:
            found.append(Difference("params", name, "present", None))
            continue
        parsed = _once(memo, name, data, functools.partial(_parse_params, name, data))
        if parsed is not _UNREADABLE and _canonical(parsed) != _canonical(content):
            found.append(Difference("params", name, _digest(content), _digest(parsed)))
    return found


_UNREADABLE = object()


def _parse_params(name: str, data: bytes) -> Any:
    from mlv.project import paramfiles

    if len(data) > MAX_PARAMS_BYTES:
        return _UNREADABLE
    try:
        return paramfiles.parse_text(name, data.decode("utf-8"))
    except (MlvError, UnicodeDecodeError):
        return _UNREADABLE


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _digest(value: Any) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(_canonical(value).encode()).hexdigest()[:16]


# -- a commit without a record: what its tree says ------------------------------------------------


@dataclass
class PlainCommit:
    """A commit without an experiment record (a revert, a merge, a plain `git commit`), described
    by what its tree holds: the project's config names the params and metrics files, the one
    lockfile gives the environment. Nothing of it is a claim about a run."""

    command: str | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    lockfiles: list[str]
    environment: Environment | None  # None unless the tree holds exactly one lockfile
    pointers: list[Pointer] = field(default_factory=list)  # every readable `.dvc` file in the tree

    def to_json(self, sha: str, message: str) -> dict[str, Any]:
        """`mlv show --json` of a commit without a record (`#/$defs/plain` in the schema)."""
        return {"commit": sha, "message": message, "status": "plain", "command": self.command,
                "params": self.params, "metrics": self.metrics,
                "data": [p.to_json() for p in self.pointers], "lockfiles_in_tree": self.lockfiles,
                "environment": self.environment.to_json(with_packages=True) if self.environment else None}


def read_plain_commit(root: Path, sha: str, with_pointers: bool = False,
                      dvc_projects: bool = False) -> PlainCommit | None:
    """What SHA's tree says, for mlv diff, show, checkout and reproduce; None when it is not an mlv
    project's tree (with DVC_PROJECTS, nor a DVC project's).

    With WITH_POINTERS, every readable `.dvc` file and every cached stage output its `dvc.lock`
    pins. A DVC project's tree without `.mlv/config.yaml` is described by its `dvc.yaml`: the
    params and metrics files the stages name, and `dvc repro` as the command.
    """
    from mlv.project import config

    first = git.read_blobs(root, [f"{sha}:{config.CONFIG_FILE}", f"{sha}:{LOCKFILE_DIR}"])
    raw = first[f"{sha}:{config.CONFIG_FILE}"]
    if raw is None:
        return _read_plain_dvc_commit(root, sha, with_pointers) if dvc_projects else None
    try:
        cfg = config.parse(raw.decode("utf-8", errors="replace"))
    except MlvError:
        return None
    lockfiles = _lockfiles(first[f"{sha}:{LOCKFILE_DIR}"], len(sha))
    cfg.params, cfg.metrics = _safe_paths(cfg.params), _safe_paths(cfg.metrics)  # the commit's config is untrusted
    values, blobs = _read_values(root, sha, cfg.params, cfg.metrics, lockfiles[:1])
    env = None
    if len(lockfiles) == 1 and blobs[f"{sha}:{lockfiles[0]}"] is not None:
        env = _environment_from_lockfile(lockfiles[0], blobs[f"{sha}:{lockfiles[0]}"] or b"")
    plain = PlainCommit(cfg.command, values["params"], values["metrics"], lockfiles, env)
    if with_pointers:
        plain.pointers = tree_pointers(root, sha)
    return plain


def _read_values(root: Path, sha: str, params: list[str], metrics: list[str],
                 others: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, bytes | None]]:
    """The readable params and metrics files at SHA by kind, and the blobs read (OTHERS too)."""
    blobs = git.read_blobs(root, [f"{sha}:{name}" for name in [*params, *metrics, *others]])
    values: dict[str, dict[str, Any]] = {"params": {}, "metrics": {}}
    for kind, names in (("params", params), ("metrics", metrics)):
        for name in names:
            data = blobs[f"{sha}:{name}"]
            parsed = _parse_params(name, data) if data is not None else _UNREADABLE
            if parsed is not _UNREADABLE and parsed is not None:
                values[kind][name] = parsed
    return values, blobs


def _read_plain_dvc_commit(root: Path, sha: str, with_pointers: bool) -> PlainCommit | None:
    """A DVC project's commit without mlv's config: what its `dvc.yaml` names; None when the tree
    holds nothing of DVC."""
    from mlv.pipeline import dvcfiles

    dvc_files = [f"{sha}:{dvcfiles.PIPELINE_FILE}", f"{sha}:{DVC_LOCK}", f"{sha}:.dvc/config"]
    found = git.read_blobs(root, dvc_files)
    pointer_files = git.ls_tree_paths(root, sha, ".dvc") if all(v is None for v in found.values()) else []
    if all(v is None for v in found.values()) and not pointer_files:
        return None
    pipeline_data = found[f"{sha}:{dvcfiles.PIPELINE_FILE}"]
    pipeline = dvcfiles.parse_pipeline(pipeline_data) if pipeline_data is not None else None
    params, metrics = (pipeline.params, pipeline.metrics) if pipeline is not None else ([], [])
    values, _ = _read_values(root, sha, params, metrics, [])
    plain = PlainCommit(PIPELINE_COMMAND if pipeline is not None else None, values["params"], values["metrics"],
                        [], None)
    if with_pointers:
        plain.pointers = tree_pointers(root, sha)
    return plain


PIPELINE_COMMAND = "dvc repro"  # what re-runs the pipeline a `dvc.yaml` declares


def tree_pointers(root: Path, sha: str) -> list[Pointer]:
    """Every readable `.dvc` file at SHA and every cached stage output its `dvc.lock` pins.

    Raises DvcError for a `dvc.yaml` or `dvc.lock` that cannot be read: the outputs it pins are
    then unknown, and leaving them out would pass for "none".
    """
    from mlv.pipeline import dvcfiles

    names = git.ls_tree_paths(root, sha, ".dvc")
    pipeline_files = [f"{sha}:{dvcfiles.PIPELINE_FILE}", f"{sha}:{DVC_LOCK}"]
    blobs = git.read_blobs(root, [*(f"{sha}:{name}" for name in names), *pipeline_files])
    found = (_pointer(blobs[f"{sha}:{name}"], name) for name in names)
    pointers = {p.path: p for p in found if p is not None}
    for out in dvcfiles.stage_outputs(*(blobs[f] for f in pipeline_files)):
        pointers.setdefault(out.path, out)
    return list(pointers.values())


def _safe_paths(names: list[str]) -> list[str]:
    from mlv.data.pathsafety import UnsafePathError, data_path

    safe = []
    for name in names:
        try:
            safe.append(data_path(name, "params or metrics file"))
        except UnsafePathError:
            continue
    return safe


_HEADER = re.compile(r"# python (\S+) \((\S+)\) on (\S+) (\S+)\n# platform (\S+)\n")


def _environment_from_lockfile(path: str, data: bytes) -> Environment:
    """The environment a lockfile pins: its packages, and the facts its header lines give."""
    import hashlib

    from mlv.env import environment

    text = data[:4096].decode("utf-8", errors="replace")
    match = _HEADER.search(text)
    python, implementation, os_name, machine, platform = (
        match.groups() if match else ("unknown",) * 5)
    env = Environment(python, implementation, os_name, platform, machine, "unknown", lockfile=path,
                      lockfile_sha256=hashlib.sha256(data).hexdigest())
    env.packages = environment.packages_from_lockfile(data)
    return env
