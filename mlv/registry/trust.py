"""A registry tag is a claim; the tagged commit's record is the truth. This module checks one
against the other, and the tag's signature against the user's policy, before anything acts on it.

A version is:
- `valid`: what its tag says (artifact, metrics, params, data, lockfile, experiment) is what the
  tagged commit's record says, and, under a signing policy, its tags are signed by allowed signers;
- `invalid`: a field of the tag disagrees with the record (`fields` names which);
- `untrusted`: a signing policy is set and a tag is unsigned, or signed by a key it does not allow.

The policy (an ssh allowed-signers file: lines of `principal key`) lives outside the repository:
a pull request can edit `.mlv/config.yaml`, not the user's git config or environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlv.adapters import git
from mlv.errors import EXIT_UNTRUSTED, MlvError
from mlv.record import history
from mlv.record.history import Experiment
from mlv.registry import metadata, state
from mlv.registry.names import RegistryError

VALID, INVALID, UNTRUSTED = "valid", "invalid", "untrusted"
POLICY_ENV = "MLV_ALLOWED_SIGNERS"
POLICY_CONFIG = "mlv.allowedSignersFile"


class UntrustedVersionError(RegistryError):
    """A version whose tag disagrees with its record, or is not signed as the policy demands."""

    exit_code = EXIT_UNTRUSTED


@dataclass(frozen=True)
class Standing:
    status: str  # VALID, INVALID or UNTRUSTED
    problems: tuple[str, ...] = ()  # one line each, for a person
    fields: tuple[str, ...] = ()  # the tag's fields that disagree with the record (INVALID)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "fields": list(self.fields), "problems": list(self.problems)}


def allowed_signers(root: Path) -> Path | None:
    """The signing policy: env MLV_ALLOWED_SIGNERS, else git config mlv.allowedSignersFile; None
    when neither is set (signatures are then not required). A policy that names no readable file
    is an error, never "no policy": a typo must not switch the checks off."""
    value = os.environ.get(POLICY_ENV) or git.config_get(root, POLICY_CONFIG)
    if not value:
        return None
    path = Path(value).expanduser()
    path = path if path.is_absolute() else (root / path)
    if not path.is_file():
        raise MlvError(f"the signing policy {value!r} ({POLICY_ENV} or git config {POLICY_CONFIG}) is not a file",
                       hint="Point it at an ssh allowed-signers file (lines of `principal key`).")
    return path


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def record_artifact(root: Path, exp: Experiment, path: str) -> dict[str, Any] | None:
    """The record's own entry for PATH: an output of EXP, or a file inside an output folder (read
    from the folder's manifest in the DVC cache); None when the record has no such artifact."""
    for out in exp.record.outputs:
        if out.path == path:
            return out.to_json()
    for out in exp.record.outputs:
        if out.is_dir and path.startswith(out.path + "/"):
            from mlv.adapters import dvc  # imports yaml: only for a file inside an output folder

            listing = dvc.load_manifest_map(dvc.cache_dir(root), out.md5)
            if listing is None:  # the folder's manifest is not here: md5 unknown until it is fetched
                return {"path": path, "md5": None, "size": None, "nfiles": None, "folder_md5": out.md5}
            md5 = listing.get(path[len(out.path) + 1:])
            return {"path": path, "md5": md5, "size": None, "nfiles": None} if md5 else None
    return None


def claim_problems(root: Path, version: state.Version, exp: Experiment | None) -> list[tuple[str, str]]:
    """(field, line) for each claim of VERSION's tag that its commit's record contradicts."""
    meta = version.meta
    if meta is None:
        return []  # no claim made (a tag GTO or a person wrote): readers use the record alone
    if exp is None:
        return [("experiment", "the tagged commit has no readable mlv record")]
    record = exp.record
    found: list[tuple[str, str]] = []
    claimed_commit = metadata.dict_field(meta, "experiment").get("commit")
    if claimed_commit != exp.commit:
        found.append(("experiment", "the tag names another experiment commit than the one it is on"))
    if meta.get("version") not in (None, version.version):
        found.append(("version", "the tag's block names another version than its tag name"))
    artifact = metadata.dict_field(meta, "artifact")
    path, md5 = artifact.get("path"), artifact.get("md5")
    truth = record_artifact(root, exp, path) if isinstance(path, str) else None
    if truth is None:
        found.append(("artifact", f"the artifact {str(path)[:80]!r} is not an output of the record"))
    elif truth.get("md5") is not None and truth.get("md5") != md5:  # None: checked once fetched
        found.append(("artifact", f"the artifact's md5 is not the record's ({str(truth.get('md5'))[:12]})"))
    for field, actual in (("metrics", record.metrics), ("params", record.params),
                          ("data", [p.to_json() for p in record.data])):
        if _canonical(meta.get(field)) != _canonical(actual):
            found.append((field, f"the tag's {field} are not the record's"))
    lock = metadata.dict_field(meta, "lockfile")
    if lock.get("sha256") != record.environment.lockfile_sha256:
        found.append(("lockfile", "the tag's lockfile sha256 is not the record's"))
    return found


def experiment_of(root: Path, commit: str) -> Experiment | None:
    try:
        return history.show_experiment(root, commit)
    except MlvError:
        return None


def experiments_of(root: Path, commits: list[str]) -> dict[str, Experiment | None]:
    """The record of each of COMMITS (None when it has none, or an invalid one), read in ONE git
    process: listings check many versions and must stay fast with thousands of tags."""
    unique = sorted(set(commits))
    messages = git.commit_messages(root, unique) if unique else {}
    found: dict[str, Experiment | None] = {}
    for sha in unique:
        exp = history.read_commit(sha, messages.get(sha, ""))
        found[sha] = exp if isinstance(exp, Experiment) else None
    return found


def standing(root: Path, version: state.Version, exp: Experiment | None, events: tuple[state.Event, ...] = (),
             policy: Path | None = None) -> Standing:
    """VERSION's standing: its registration's claims against EXP (its commit's experiment, None
    when it has no record), then (with POLICY) the signature of its registration and of each of
    EVENTS (e.g. the stage tag that put it there)."""
    problems = claim_problems(root, version, exp)
    if problems:
        fields = tuple(dict.fromkeys(f for f, _ in problems))
        return Standing(INVALID, tuple(f"{f}: {line}" for f, line in problems), fields)
    if policy is not None:
        tags = [e for e in (version.event, *events) if e is not None]
        for event in tags:
            ok, why = git.verify_signature(root, "tag", event.tag, policy)
            if not ok:
                return Standing(UNTRUSTED, (f"tag {event.tag} is not signed by an allowed signer: {why}",))
    return Standing(VALID)


def trusted_stages(root: Path, version: state.Version) -> tuple[str, ...]:
    """The stages VERSION is in, counting under a signing policy only those whose stage tag is
    signed by an allowed signer: a hand-made staging tag must not open the `from: [staging]` gate."""
    policy = allowed_signers(root)
    return tuple(stage for stage in version.active_stages if policy is None
                 or git.verify_signature(root, "tag", version.stage_events[stage].tag, policy)[0])


def require(root: Path, model: state.Model, version: state.Version, what: str,
            events: tuple[state.Event, ...] = ()) -> Experiment | None:
    """VERSION's experiment when it stands VALID; else UntrustedVersionError naming the field.

    WHAT is what the caller is about to do ("package", "promote"), for the message.
    """
    exp = experiment_of(root, version.commit)
    found = standing(root, version, exp, events, allowed_signers(root))
    if found.status == VALID:
        return exp
    label = f"{model.name} {version.version}"
    if found.status == INVALID:
        raise UntrustedVersionError(
            f"refusing to {what} {label}: it is invalid, its tag disagrees with its record ({found.problems[0]})",
            hint="The tag was not made by `mlv model register` from that record; deregister it and register again.")
    raise UntrustedVersionError(f"refusing to {what} {label}: it is untrusted ({found.problems[0]})",
                                hint="Sign registry tags with a key in the allowed-signers policy "
                                     "(docs/how-to/register-and-promote.md).")


def stage_event(version: state.Version, stage: str | None) -> tuple[state.Event, ...]:
    """The tag that put VERSION in STAGE (empty without a stage): signed too, under a policy."""
    event = version.stage_events.get(stage) if stage else None
    return (event,) if event is not None else ()
