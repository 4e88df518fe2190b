"""How `mlv show` says what a commit's tree holds against its record: a rewritten record's status
lines, and a commit without a record (a revert, a merge) shown as its tree describes it."""

from __future__ import annotations

from pathlib import Path

import typer


def show_plain_commit(root: object, rev: str, why: str, json_output: bool) -> bool:
    """Show a commit without a record as its tree describes it; False when it is neither an mlv
    nor a DVC project's tree."""
    from mlv.adapters import git
    from mlv.cli import output
    from mlv.record import treecheck

    assert isinstance(root, Path)  # noqa: S101
    sha = git.resolve_commit(root, rev)
    plain = treecheck.read_plain_commit(root, sha, with_pointers=True, dvc_projects=True)
    if plain is None:
        return False
    message = git.commit_messages(root, [sha])[sha].strip()
    if json_output:
        output.emit_json(plain.to_json(sha, message))
        return True
    first, *rest = message.split("\n")
    lines = [f"commit    {sha}", f"message   {first}", *(f"          {line}" for line in rest),
             f"status    plain: {why}; what its tree holds:"]
    for item in plain.pointers:
        files = f" ({item.nfiles} files)" if item.nfiles is not None else ""
        lines.append(f"data      {item.path}  md5 {item.md5}  {output.fmt_size(item.size)}{files}")
    for kind, values in (("param", plain.params), ("metric", plain.metrics)):
        for key, value in flatten_values(values).items():
            lines.append(f"{kind:<9} {key} = {output.fmt_value(value)}")
    if len(plain.lockfiles) > 1:
        lines.append(f"warning   {treecheck.two_lockfiles_note(plain.lockfiles)}")
    for path in plain.lockfiles:
        lines.append(f"lockfile  {path}")
    typer.echo("\n".join(output.visible(line) for line in lines))
    return True


def flatten_values(values: dict[str, object]) -> dict[str, object]:
    from mlv.record.record import flatten

    return flatten(values)


def tree_truth_lines(exp: object) -> list[str]:
    """The status line of a record that disagrees with its commit's tree, and a merged environment."""
    from mlv.record import treecheck
    from mlv.record.history import Experiment

    assert isinstance(exp, Experiment)  # noqa: S101
    lines = []
    if exp.rewritten:
        lines.append("status    rewritten: the record disagrees with its commit's tree (the tree is the truth; "
                     "its metrics came from another tree)")
        lines += [f"          - {d.describe()}" for d in exp.differences]
    if len(exp.lockfiles_in_tree) > 1:
        lines.append(f"warning   {treecheck.two_lockfiles_note(exp.lockfiles_in_tree)}")
    return lines
