"""Sharing over S3: `mlv push`/`mlv pull` against `dvc push`/`dvc pull`, and the raw transfer floor.

    python -m benchmarks.remotes [--files 10000] [--rounds 3]

Standalone (not part of `make bench` nor of the test suite). moto's S3 server runs as a process
of its own on 127.0.0.1; nothing leaves the machine. Each round pushes the same 10,000 small
files to a fresh key prefix, three ways: `mlv push` (data, then the git branch to a bare repo),
`dvc push` (the data only), and boto3 uploading the same cache files with a thread pool (no DVC,
no git: the floor for this server). Then a fresh clone pulls them back: `mlv pull` and `dvc pull`
(download and check out), and boto3 downloads the same keys. Medians of the rounds are printed,
with two figures the machine's load does not change: the S3 requests each command made (counted
in the server's log) and the CPU seconds the command's processes used (the server's excluded).
`--only push` skips the pulls.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.workspace import VENV_BIN, calling_environment
from tests.remote_servers import LOOPBACK, free_port, moto_subprocess

BUCKET = "bench"
THREADS = 16  # boto3's floor: enough parallel requests to keep the server busy


def _env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n[gc]\n\tauto = 0\n")
    env = {k: v for k, v in calling_environment().items() if not k.startswith("AWS_")}
    env.update({
        "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
        "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(home / ".dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".dvc-global"), "DVC_SYSTEM_CONFIG_DIR": str(home / ".dvc-system"),
        # moto (without IAM) takes any key; DVC and boto3 read these when .dvc/config has none.
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    return env


REQUEST = re.compile(rb'"(GET|HEAD|PUT|POST|DELETE) /')  # a request line in moto's log


class Bench:
    def __init__(self, root: Path, endpoint: str, server_log: Path | None = None) -> None:
        self.root = root
        self.endpoint = endpoint
        self.server_log = server_log
        self.env = _env(root / "home")
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
            os.environ[key] = self.env[key]  # for this process's own boto3 client
        self.round = 0
        self.requests: dict[str, Counter[str]] = {}  # operation -> requests by method, last round
        self.cpu: dict[str, float] = {}  # operation -> CPU seconds of its child processes, last round

    def requests_so_far(self) -> Counter[str]:
        if self.server_log is None:
            return Counter()
        return Counter(m.group(1).decode() for m in REQUEST.finditer(self.server_log.read_bytes()))

    def measured(self, name: str, cwd: Path, *argv: str) -> float:
        """`timed`, also recording the requests the server answered and the CPU the command used."""
        requests = self.requests_so_far()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds = self.timed(cwd, *argv)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu[name] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        time.sleep(0.5)  # moto logs a request after answering it
        self.requests[name] = self.requests_so_far() - requests
        return seconds

    def run(self, cwd: Path, *argv: str) -> str:
        proc = subprocess.run(list(argv), cwd=cwd, env=self.env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def timed(self, cwd: Path, *argv: str) -> float:
        start = time.perf_counter()
        self.run(cwd, *argv)
        return time.perf_counter() - start

    def s3(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            config=Config(max_pool_connections=THREADS))

    def set_remote(self, repo: Path, prefix: str) -> None:
        self.run(repo, "dvc", "remote", "add", "--local", "-f", "-d", "store", f"s3://{BUCKET}/{prefix}")
        self.run(repo, "dvc", "remote", "modify", "--local", "store", "endpointurl", self.endpoint)

    def make_repo(self, nfiles: int) -> Path:
        repo = self.root / "repo"
        repo.mkdir()
        self.run(repo, "git", "init", "-q")
        rng = random.Random(1)  # noqa: S311 - test data, the same every run
        data = repo / "data"
        data.mkdir()
        for i in range(nfiles):
            (data / f"{i:05d}.bin").write_bytes(rng.randbytes(rng.randint(200, 2000)))
        (repo / "params.yaml").write_text("seed: 1\n")
        self.run(repo, "mlv", "init")
        (repo / ".mlv" / "config.yaml").write_text("version: 1\ndata:\n- data\noutputs: []\nparams:\n"
                                                    "- params.yaml\nmetrics: []\n")
        self.run(repo, "mlv", "snapshot", "-m", "data")
        return repo

    def fresh_origin(self, repo: Path) -> None:
        bare = self.root / "origin.git"
        shutil.rmtree(bare, ignore_errors=True)
        self.run(self.root, "git", "init", "-q", "--bare", str(bare))
        if "origin" in self.run(repo, "git", "remote").split():
            self.run(repo, "git", "remote", "remove", "origin")  # drops branch.main.remote too
        self.run(repo, "git", "remote", "add", "origin", str(bare))

    def clone(self, name: str, prefix: str) -> Path:
        target = self.root / name
        shutil.rmtree(target, ignore_errors=True)
        self.run(self.root, "git", "clone", "-q", str(self.root / "origin.git"), str(target))
        self.set_remote(target, prefix)
        return target

    def one_round(self, repo: Path, pulls: bool = True) -> dict[str, float]:
        self.round += 1
        tag = f"r{self.round}-{time.time_ns()}"
        times: dict[str, float] = {}
        self.fresh_origin(repo)
        self.set_remote(repo, f"mlv-{tag}")
        times["mlv push"] = self.measured("mlv push", repo, "mlv", "push")
        self.set_remote(repo, f"dvc-{tag}")
        times["dvc push"] = self.measured("dvc push", repo, "dvc", "push", "-q")
        cache = repo / ".dvc" / "cache" / "files" / "md5"
        files = [p for p in cache.rglob("*") if p.is_file()]
        times["boto3 upload"] = self._parallel(lambda s3, p: s3.upload_file(
            str(p), BUCKET, f"raw-{tag}/files/md5/{p.parent.name}/{p.name}"), files)
        if not pulls:
            return times

        clone = self.clone("clone-mlv", f"mlv-{tag}")
        times["mlv pull"] = self.measured("mlv pull", clone, "mlv", "pull")
        clone = self.clone("clone-dvc", f"dvc-{tag}")
        times["dvc pull"] = self.measured("dvc pull", clone, "dvc", "pull", "-q")
        target = self.root / "raw-download"
        shutil.rmtree(target, ignore_errors=True)
        keys = [f"raw-{tag}/files/md5/{p.parent.name}/{p.name}" for p in files]
        for folder in {p.parent.name for p in files}:
            (target / folder).mkdir(parents=True, exist_ok=True)
        # get_object, not download_file: the latter sends a HEAD before each GET (two requests).
        times["boto3 download"] = self._parallel(
            lambda s3, key: (target / key.split("/")[-2] / key.split("/")[-1]).write_bytes(
                s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()),
            keys)
        return times

    def _parallel(self, work: Callable[[Any, Any], None], items: list[Any]) -> float:
        s3 = self.s3()  # one client: boto3 clients are thread-safe, sessions are not
        start = time.perf_counter()
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda item: work(s3, item), items))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["push"], help="skip the pulls")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlv-bench-remotes-"))
    port = free_port()
    server = moto_subprocess(port, log=root / "moto.log")
    try:
        bench = Bench(root, f"http://{LOOPBACK}:{port}", root / "moto.log")
        bench.s3().create_bucket(Bucket=BUCKET)
        repo = bench.make_repo(args.files)
        rounds = []
        cpu: dict[str, list[float]] = {}
        for i in range(args.rounds):
            rounds.append(bench.one_round(repo, pulls=args.only != "push"))
            for name, seconds in bench.cpu.items():
                cpu.setdefault(name, []).append(seconds)
            print(f"round {i + 1}: " + ", ".join(f"{k} {v:.2f} s" for k, v in rounds[-1].items()), flush=True)
            print("  requests: " + "; ".join(f"{k} {dict(sorted(v.items()))}" for k, v in bench.requests.items())
                  + "\n  client CPU: " + ", ".join(f"{k} {v:.1f} s" for k, v in bench.cpu.items()), flush=True)
        print(f"\n{args.files} files, medians of {args.rounds} rounds (moto S3 on {LOOPBACK}):")
        for key in rounds[0]:
            extra = f"   client CPU {statistics.median(cpu[key]):6.2f} s" if key in cpu else ""
            print(f"  {key:15s} {statistics.median(r[key] for r in rounds):7.2f} s{extra}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
