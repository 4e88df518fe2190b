"""Sharing through real network remotes: DVC over SSH (Debian's sshd) and S3 (moto's server).

Both servers run on 127.0.0.1 only, once per session (per xdist worker); each test gets a store of
its own (a folder for SSH, a key prefix in one bucket for S3). Credentials go where the docs say:
`dvc remote modify --local`, so they are in `.dvc/config.local` and nowhere else.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest
import yaml

from tests.conftest import dvc, git, mlv
from tests.hooks_helpers import add_git_remote, new_experiment, pointer_md5s, run_git
from tests.remote_servers import (
    S3Server,
    ServerUnavailableError,
    SshServer,
    local_store_objects,
    md5_of,
    stopped,
)

BUCKET = "mlv-test"
OBJECT_NAME = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


REQUIRED_ENV = "MLV_REQUIRE_REMOTE_SERVERS"  # set by .ci/run: CI must run these tests, never skip them


def _unavailable(reason: str) -> NoReturn:
    """Skip, with the reason, the tests of a server that cannot start; fail them where it is required."""
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRED_ENV}=1: these tests must run here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    server = SshServer(tmp_path_factory.mktemp("sshd"))
    try:
        server.start()
    except ServerUnavailableError as exc:
        _unavailable(f"sshd could not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    try:
        server.start()
        server.new_bucket(BUCKET)
    except ServerUnavailableError as exc:
        _unavailable(f"the S3 server (moto) could not start: {exc}")
    yield server
    server.stop()


@dataclass
class Remote:
    """One test's DVC remote: where it is, how to reach it, and how to look inside it directly."""

    kind: str
    server: SshServer | S3Server
    url: str
    committed: dict[str, str]  # options fit for .dvc/config (no secret)
    credentials: dict[str, str]  # options for .dvc/config.local only
    objects: Callable[[], dict[str, bytes]]  # name -> content, read behind DVC's back
    overwrite: Callable[[str, bytes], None]  # replace an object's content on the remote
    secrets: list[str] = field(default_factory=list)  # what must never be printed or committed

    def configure(self, root: Path) -> None:
        """The remote as a team would set it up: URL committed, credentials local."""
        dvc(root, "remote", "add", "-d", "store", self.url)
        _modify(root, "repo", self.committed)
        git(root, "add", ".dvc/config")
        git(root, "commit", "-q", "--no-verify", "-m", f"DVC remote over {self.kind}")
        self.login(root)

    def login(self, root: Path, **override: str) -> None:
        """This machine's credentials for the remote (every clone sets its own)."""
        _modify(root, "local", {**self.credentials, **override})


def _modify(root: Path, level: str, options: dict[str, str]) -> None:
    """`dvc remote modify [--local] store KEY VALUE` for each option, through DVC's own config code
    (validated the same way) in this process: the CLI costs half a second a call."""
    from dvc.config import Config

    if options:
        with Config(str(root / ".dvc"), validate=True).edit(level) as conf:
            conf["remote"].setdefault("store", {}).update(options)


@pytest.fixture(params=["ssh", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Remote]:
    # Each server is asked for only by the tests that use it, so an unavailable one skips only those.
    if request.param == "ssh":
        sshd: SshServer = request.getfixturevalue("ssh_server")
        store = tmp_path / "ssh-store"
        store.mkdir()

        def overwrite_file(name: str, data: bytes) -> None:
            target = store / "files" / "md5" / name[:2] / name[2:]
            target.chmod(0o644)
            target.write_bytes(data)

        yield Remote("ssh", sshd, sshd.url(store), {}, {"keyfile": str(sshd.key)},
                     lambda: local_store_objects(store), overwrite_file,
                     secrets=[_key_body(sshd.key)])
        if not sshd.running:  # a failed test must not leave the next one without a server
            sshd.start()
    else:
        s3: S3Server = request.getfixturevalue("s3_server")
        # botocore retries a refused connection with backoff (5 s and more per failing push); one
        # attempt keeps the fault tests quick and changes nothing else on loopback.
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        prefix = f"t-{uuid.uuid4().hex[:12]}"
        yield Remote("s3", s3, f"s3://{BUCKET}/{prefix}", {"endpointurl": s3.endpoint},
                     {"access_key_id": s3.access_key, "secret_access_key": s3.secret_key},
                     lambda: s3.objects(BUCKET, prefix),
                     lambda name, data: s3.put(BUCKET, f"{prefix}/files/md5/{name[:2]}/{name[2:]}", data),
                     secrets=[s3.secret_key])
        if not s3.running:
            s3.start()


def _key_body(path: Path) -> str:
    """The base64 body of a private key file: what would be leaked if it were ever printed."""
    lines = path.read_text().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))[:40]


def sound_objects(remote: Remote) -> dict[str, bytes]:
    """The remote's objects, each checked: its content hashes to its name (none half-written).

    A temporary upload file (DVC writes `NAME.UUID.tmp`, then renames it) is not an object and is
    not listed; anything else with an object-like name must be whole.
    """
    found = {}
    for name, data in remote.objects().items():
        if not OBJECT_NAME.match(name):
            continue
        digest = md5_of(data) + (".dir" if name.endswith(".dir") else "")
        assert digest == name, f"{remote.kind} object {name} is not what its name says (it hashes to {digest})"
        found[name] = data
    return found


def needed_objects(root: Path) -> set[str]:
    """Every object HEAD's pointers need: each pointer's md5, and the files of each folder."""
    cache = root / ".dvc" / "cache" / "files" / "md5"
    wanted = set()
    for md5 in pointer_md5s(root).values():
        wanted.add(md5)
        if md5.endswith(".dir"):
            wanted.update(e["md5"] for e in json.loads((cache / md5[:2] / md5[2:]).read_text()))
    return wanted


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert line.startswith("error: "), line
    return line


@pytest.fixture
def shared(experiment_repo: Path, tmp_path: Path, remote: Remote) -> tuple[Path, Path, Remote]:
    """The experiment repo with the remote configured and an `origin` bare git repo."""
    remote.configure(experiment_repo)
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    return experiment_repo, bare, remote


def _clone(bare: Path, target: Path, remote: Remote) -> Path:
    git(bare.parent, "clone", "-q", str(bare), str(target))
    remote.login(target)
    mlv(target, "remote", "trust")  # a fresh clone trusts no URL it came with until its user says so
    return target


# -- sharing -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_push_then_fresh_clone_pulls_and_reproduces(shared: tuple[Path, Path, Remote], tmp_path: Path) -> None:
    root, bare, remote = shared
    new_experiment(root, "second")  # HEAD is an experiment made with the remote in place
    result = json.loads(mlv(root, "push", "--json").stdout)
    assert result["uploaded"] > 0 and result["commits"] > 0
    assert needed_objects(root) <= set(sound_objects(remote))
    clone = _clone(bare, tmp_path / "clone", remote)
    pulled = json.loads(mlv(clone, "pull", "--json").stdout)
    assert sorted(pulled["restored"]) == ["data", "models"]
    for rel in ("data/dataset.csv", "data/extra.csv", "models/model.joblib"):
        assert (clone / rel).read_bytes() == (root / rel).read_bytes()
    verdict = json.loads(mlv(clone, "reproduce", "HEAD", "--yes", "--json").stdout)
    assert verdict["verdict"] == "reproduced"


@pytest.mark.slow
def test_pre_push_hook_uploads_the_data_of_a_plain_git_push(shared: tuple[Path, Path, Remote]) -> None:
    root, bare, remote = shared
    mlv(root, "hooks", "install")
    assert sound_objects(remote) == {}
    proc = run_git(root, "push", "-q", "origin", "main")
    assert proc.returncode == 0, proc.stderr
    assert "uploaded" in proc.stderr
    assert needed_objects(root) <= set(sound_objects(remote))
    assert git(bare, "rev-parse", "main") == git(root, "rev-parse", "HEAD")


@pytest.mark.slow
def test_model_get_in_a_fresh_clone_fetches_the_artifact_from_the_remote(shared: tuple[Path, Path, Remote],
                                                                         tmp_path: Path) -> None:
    root, bare, remote = shared
    mlv(root, "model", "register", "churn")
    assert json.loads(mlv(root, "push", "--json").stdout)["registry_tags"] == 1
    clone = _clone(bare, tmp_path / "clone", remote)
    assert not (clone / ".dvc" / "cache").exists()  # nothing local: the artifact must come over the network
    out = tmp_path / "deploy"
    got = json.loads(mlv(clone, "model", "get", "churn@v0.0.1", "-o", str(out), "--json").stdout)
    assert got["files"] == 1 and got["fetched"] == 2  # the folder's manifest, then its file
    assert (out / "models" / "model.joblib").read_bytes() == (root / "models" / "model.joblib").read_bytes()
    assert not (clone / "models").exists()  # fetched into the cache, nothing checked out


def test_strict_hook_refuses_a_push_while_the_server_is_down(shared: tuple[Path, Path, Remote]) -> None:
    root, bare, remote = shared
    mlv(root, "hooks", "install")
    config = root / ".mlv" / "config.yaml"
    doc = yaml.safe_load(config.read_text()) or {}
    doc["hooks"] = {"strict": True}
    config.write_text(yaml.safe_dump(doc))
    with stopped(remote.server):
        proc = run_git(root, "push", "-q", "origin", "main")
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("mlv")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("mlv pre-push hook: error:") and "the push was refused" in lines[0]
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0


# -- faults --------------------------------------------------------------------------------------


def test_push_to_a_stopped_server_fails_in_one_line_then_completes(shared: tuple[Path, Path, Remote]) -> None:
    root, bare, remote = shared
    with stopped(remote.server):
        line = one_line_error(mlv(root, "push", check=False))
    assert "dvc push failed" in line or "cannot query the DVC remote" in line, line
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0  # no commit without its data
    mlv(root, "push")
    assert needed_objects(root) <= set(sound_objects(remote))
    assert git(bare, "rev-parse", "main") == git(root, "rev-parse", "HEAD")


@pytest.mark.slow
def test_s3_dying_mid_push_leaves_only_whole_objects_and_the_next_push_completes(
        experiment_repo: Path, tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # see `remote`
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    remote = Remote("s3", s3_server, f"s3://{BUCKET}/{prefix}", {"endpointurl": s3_server.endpoint},
                    {"access_key_id": s3_server.access_key, "secret_access_key": s3_server.secret_key},
                    lambda: s3_server.objects(BUCKET, prefix), lambda name, data: None)
    remote.configure(experiment_repo)
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    (experiment_repo / "data" / "many").mkdir()
    for i in range(20):
        (experiment_repo / "data" / "many" / f"{i}.txt").write_text(f"row {i}\n" * (i + 1))
    mlv(experiment_repo, "snapshot", "-m", "more files")
    wanted = needed_objects(experiment_repo)
    try:
        s3_server.die_after_puts(3)
        proc = mlv(experiment_repo, "push", check=False)
    finally:
        s3_server.stop()
        s3_server.start()
    line = one_line_error(proc)
    assert "could not be uploaded to the DVC remote; the commits were not pushed" in line, line
    partial = sound_objects(remote)
    assert 0 < len(partial) < len(wanted)
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0
    result = json.loads(mlv(experiment_repo, "push", "--json").stdout)
    # What the dead server had stored whole is not sent again (DVC may re-send a folder manifest).
    assert len(wanted) - len(partial) <= result["uploaded"] <= len(wanted) - len(partial) + 1
    assert wanted <= set(sound_objects(remote))


def test_wrong_credentials_fail_in_one_line_without_the_secret(shared: tuple[Path, Path, Remote],
                                                               tmp_path: Path) -> None:
    root, bare, remote = shared
    if remote.kind == "s3":
        wrong = "mlv-WRONG-secret-" + uuid.uuid4().hex
        remote.login(root, secret_access_key=wrong)
    else:
        other = SshServer(tmp_path / "other-keys")
        other.prepare()  # only for a key pair that the real server does not accept
        wrong = _key_body(other.key)
        remote.login(root, keyfile=str(other.key))
    proc = mlv(root, "push", check=False)
    line = one_line_error(proc)
    for secret in [wrong, *remote.secrets]:
        assert secret not in proc.stdout + proc.stderr
    assert "Traceback" not in line
    assert run_git(bare, "rev-parse", "-q", "--verify", "main").returncode != 0


@pytest.mark.slow
def test_an_object_corrupted_on_the_remote_is_refused_at_pull(shared: tuple[Path, Path, Remote],
                                                                tmp_path: Path) -> None:
    root, bare, remote = shared
    mlv(root, "push")
    dataset = md5_of((root / "data" / "dataset.csv").read_bytes())  # a file inside the `data` folder
    remote.overwrite(dataset, b"tampered,rows\n1,2\n")
    clone = _clone(bare, tmp_path / "clone", remote)
    line = one_line_error(mlv(clone, "pull", check=False))
    assert dataset in line and "do not match their hash" in line, line
    assert not (clone / "data" / "dataset.csv").exists()
    # The bad copy was not kept: once the remote is repaired, the same pull downloads it again.
    assert not (clone / ".dvc" / "cache" / "files" / "md5" / dataset[:2] / dataset[2:]).exists()
    remote.overwrite(dataset, (root / "data" / "dataset.csv").read_bytes())
    mlv(clone, "pull")
    assert (clone / "data" / "dataset.csv").read_bytes() == (root / "data" / "dataset.csv").read_bytes()


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_credentials_appear_only_in_the_local_dvc_config(shared: tuple[Path, Path, Remote], tmp_path: Path) -> None:
    root, bare, remote = shared
    outputs: list[str] = []

    def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> None:
        proc = mlv(cwd, *args, env=env)
        outputs.extend([proc.stdout, proc.stderr])

    # Credentials in the environment too (the other place DVC reads them from): a snapshot must
    # not record them.
    env = ({"AWS_ACCESS_KEY_ID": remote.credentials["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": remote.credentials["secret_access_key"]} if remote.kind == "s3" else {})
    (root / "data" / "extra.csv").write_text("secret,test\n")
    run(root, "snapshot", "-m", "with credentials around", env=env)
    run(root, "hooks", "install")
    proc = run_git(root, "push", "-q", "origin", "main")
    outputs.extend([proc.stdout, proc.stderr])
    run(root, "push", "--json")
    clone = _clone(bare, tmp_path / "clone", remote)
    run(clone, "pull", "--json")
    run(clone, "log")
    run(clone, "show", "HEAD")
    for repo in (root, clone, bare):
        history = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                                 capture_output=True, check=True).stdout.decode(errors="replace")
        outputs.append(history)
        outputs.append(git(repo, "log", "-p", "--all"))
    for repo in (root, clone):
        for path in repo.rglob("*"):
            rel = path.relative_to(repo).as_posix()
            if path.is_file() and rel != ".dvc/config.local" and not rel.startswith((".git/objects/", ".dvc/cache/")):
                outputs.append(path.read_bytes().decode(errors="replace"))
    for secret in remote.secrets:
        assert all(secret not in text for text in outputs), f"the {remote.kind} secret leaked"
        assert secret in (root / ".dvc" / "config.local").read_text() or remote.kind == "ssh"
