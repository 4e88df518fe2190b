"""Reading and writing git objects: blobs, trees and commits, many per git process."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mlv.adapters.git.process import git_dir, out, run


def hash_objects(root: Path, blobs: Sequence[bytes]) -> list[str]:
    """Store several blobs with one git call (through temporary files in the git folder)."""
    if not blobs:
        return []
    folder = git_dir(root) / "mlv" / "blobs"
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for number, data in enumerate(blobs):
        files.append(folder / f"{os.getpid()}-{number}")
        files[-1].write_bytes(data)
    try:
        listing = "".join(f"{f}\n" for f in files).encode()
        shas = out(["hash-object", "-w", "--no-filters", "--stdin-paths"], root, input_bytes=listing)
    finally:
        for file in files:
            file.unlink(missing_ok=True)
    return shas.splitlines()


def read_blob(root: Path, rev: str, path: str) -> bytes | None:
    """The bytes of PATH at REV, or None when it does not exist there."""
    proc = run(["cat-file", "blob", f"{rev}:{path}"], root, check=False)
    return proc.stdout if proc.returncode == 0 else None


def read_blobs(root: Path, specs: Sequence[str]) -> dict[str, bytes | None]:
    """Many `REV:PATH` (or sha) blobs in one `git cat-file --batch` process.

    A spec with a line break (a path from a hostile record) is never sent: it would be read as two
    requests and shift every answer after it. Its answer is None, as for a missing object.
    """
    result: dict[str, bytes | None] = {spec: None for spec in specs if "\n" in spec}
    specs = [spec for spec in specs if "\n" not in spec]
    if not specs:
        return result
    proc = run(["cat-file", "--batch"], root, input_bytes="".join(f"{s}\n" for s in specs).encode())
    data = proc.stdout
    pos = 0
    for spec in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] != b"missing":
            size = int(header[2])
            result[spec] = data[pos : pos + size]
            pos += size + 1
        else:
            result[spec] = None
    return result


def object_ids(root: Path, specs: Sequence[str]) -> dict[str, str | None]:
    """The object id each `REV:PATH` (or `REV^{tree}`) names, None when missing, in one
    `git cat-file --batch-check` process: no content is read, so many specs cost little."""
    result: dict[str, str | None] = {spec: None for spec in specs if "\n" in spec}
    specs = [spec for spec in specs if "\n" not in spec]
    if not specs:
        return result
    proc = run(["cat-file", "--batch-check=%(objectname) %(objecttype)"], root,
               input_bytes="".join(f"{s}\n" for s in specs).encode())
    for spec, line in zip(specs, proc.stdout.decode("utf-8", errors="replace").split("\n"), strict=False):
        words = line.split()
        result[spec] = words[0] if len(words) == 2 and words[1] != "missing" else None
    return result


def ls_tree_paths(root: Path, rev: str, pattern_suffix: str = "") -> list[str]:
    """Every file path at REV (optionally only those ending with PATTERN_SUFFIX)."""
    raw = run(["ls-tree", "-r", "-z", "--name-only", rev], root).stdout
    names = [n for n in raw.decode("utf-8", errors="surrogateescape").split("\0") if n]
    return [n for n in names if n.endswith(pattern_suffix)]


def commit_tree(root: Path, tree: str, parent: str | None, message: str, *, sign: bool = False) -> str:
    args = ["commit-tree", *(["-S"] if sign else []), tree]
    if parent:
        args += ["-p", parent]
    return out([*args, "-F", "-"], root, input_bytes=message.encode())


def commit_messages(root: Path, shas: Sequence[str]) -> dict[str, str]:
    """The message of each commit in SHAS, read in one git process."""
    objects = read_blobs(root, list(shas))
    return {sha: message_of(objects[sha] or b"") for sha in shas}


def commit_tree_and_message(root: Path, sha: str) -> tuple[str | None, str]:
    """The tree and the message of commit SHA, read in one git process."""
    commit_object = read_blobs(root, [sha])[sha] or b""
    return tree_of_commit_object(commit_object), message_of(commit_object)


def tree_of_commit_object(commit_object: bytes | None) -> str | None:
    """The tree sha from a raw commit object's first header line."""
    if not commit_object or not commit_object.startswith(b"tree "):
        return None
    return commit_object[5:commit_object.index(b"\n")].decode("ascii", errors="replace")


def message_of(commit_object: bytes) -> str:
    """The message of a raw commit object (headers, a blank line, then the message)."""
    text = commit_object.decode("utf-8", errors="replace")
    _, _, message = text.partition("\n\n")
    return message


def symlinks_in_tree(root: Path, rev: str, paths: Sequence[str]) -> list[str]:
    """The paths among PATHS (and below them) that REV's tree holds as symlinks."""
    listing = out(["--literal-pathspecs", "ls-tree", "-r", "-z", "--full-tree", rev, "--", *paths], root)
    return [entry.partition("\t")[2] for entry in listing.split("\0") if entry.startswith("120000 ")]


_MAX_TREE_ENTRIES = 200_000  # per listing: a hostile tree cannot make a reader build millions of rows
_MAX_TREE_DEPTH = 200


def tree_listings(root: Path, commits: Sequence[str]) -> dict[str, dict[str, str]]:
    """Each commit's files as path -> object id (blob, or commit for a submodule), every tree object
    read once in one `git cat-file --batch` per level of folders, however many commits share it."""
    raw: dict[str, bytes | None] = {}
    pending = {f"{sha}^{{tree}}" for sha in commits}
    roots = {sha: f"{sha}^{{tree}}" for sha in commits}
    for _level in range(_MAX_TREE_DEPTH + 1):
        if not pending:
            break
        raw.update(read_blobs(root, sorted(pending)))
        pending = {child for spec in pending for child in _subtrees(raw[spec]) if child not in raw}
    flat: dict[str, list[tuple[str, str]]] = {}
    return {sha: dict(_flatten_tree(raw, spec, flat)) for sha, spec in roots.items()}


def _tree_entries(data: bytes | None) -> list[tuple[bool, str, str]]:
    """(is a folder, name, object id) of a raw tree object: `MODE NAME\\0<20-byte id>` repeated."""
    entries: list[tuple[bool, str, str]] = []
    pos = 0
    while data and pos < len(data) and len(entries) < _MAX_TREE_ENTRIES:
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space]
        entries.append((mode == b"40000", data[space + 1:nul].decode("utf-8", "surrogateescape"),
                        data[nul + 1:nul + 21].hex()))
        pos = nul + 21
    return entries


def _subtrees(data: bytes | None) -> list[str]:
    return [oid for is_dir, _name, oid in _tree_entries(data) if is_dir]


def _flatten_tree(raw: dict[str, bytes | None], spec: str, flat: dict[str, list[tuple[str, str]]],
                  depth: int = 0) -> list[tuple[str, str]]:
    """(path, id) of every file under tree SPEC; each distinct tree is flattened once (FLAT).
    Folders nested deeper than _MAX_TREE_DEPTH are left out (they would exhaust the stack)."""
    if spec in flat:
        return flat[spec]
    if depth > _MAX_TREE_DEPTH:
        return []
    found: list[tuple[str, str]] = []
    for is_dir, name, oid in _tree_entries(raw.get(spec)):
        if is_dir:
            found.extend((f"{name}/{path}", blob) for path, blob in _flatten_tree(raw, oid, flat, depth + 1))
        else:
            found.append((name, oid))
        if len(found) > _MAX_TREE_ENTRIES:
            break
    flat[spec] = found
    return found
