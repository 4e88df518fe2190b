"""`mlv reproduce --env fresh`: uv or pip, progress, and lockfile lines that install from a local path.

The lockfile of a project installed in development mode names paths of the machine that recorded
it (`-e file:///home/me/src/mylib`). Another machine cannot install them: mlv says so before
building anything, and the user skips them or substitutes a path of their own. An environment
altered that way never earns an unqualified "reproduced".
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import jsonschema
import pytest

from mlv.env import fresh
from mlv.errors import EXIT_CANNOT_RUN, MlvError
from mlv.verdict import verdict
from tests.conftest import REPO_ROOT, copy_template, git, mlv, pinned
from tests.reproduce_helpers import DETERMINISTIC_SCRIPT, craft_experiment, record_of, script_project
from tests.terminal_helpers import on_a_terminal

LOCAL_EDITABLE = "-e file:///nonexistent/src/mylib  # mylib==0.1.0"
LOCAL_DIRECT = "otherlib @ file:///nonexistent/otherlib-2.0.tar.gz  # otherlib==2.0"


def test_local_lines_are_named_and_never_installed() -> None:
    contents = fresh.read_lockfile(f"six==1.16.0\n{LOCAL_EDITABLE}\n{LOCAL_DIRECT}\n"
                                   "-e ./tools/evilpkg\n-e file:///x/y --index-url http://h\n"
                                   "web @ https://example.com/web-1.0.tar.gz\n".encode())
    assert [(line.name, line.editable) for line in contents.local] == [("mylib", True), ("otherlib", False)]
    assert contents.requirements == ["six==1.16.0", "web @ https://example.com/web-1.0.tar.gz"]
    # Repository content (a relative path) and a local line with an option stay ignored, as before.
    assert contents.ignored == ["-e ./tools/evilpkg", "-e file:///x/y --index-url http://h"]
    # A lockfile line without capture's `# name==version` is named by its egg or its folder.
    assert fresh.read_lockfile(b"-e /home/me/src/Tool#egg=tool\n").local[0].name == "tool"
    assert fresh.read_lockfile(b"--editable=file:///home/me/src/tool2\n").local[0].name == "tool2"


def _contents() -> fresh.LockfileContents:
    return fresh.read_lockfile(f"six==1.16.0\n{LOCAL_EDITABLE}\n{LOCAL_DIRECT}\n".encode())


def test_unsettled_local_lines_refuse_naming_them_and_the_options() -> None:
    with pytest.raises(MlvError) as caught:
        fresh.settle_local_lines(_contents(), skip_local=False, substitutes={})
    assert caught.value.exit_code == EXIT_CANNOT_RUN
    message = caught.value.one_line()
    assert "mylib, otherlib" in message and "--skip-local" in message and "--substitute NAME=PATH" in message
    # One substituted, the other still open: refused, naming only that one.
    with pytest.raises(MlvError, match=r"installs otherlib from a path"):
        fresh.settle_local_lines(_contents(), skip_local=False, substitutes={"mylib": "/"})


def test_bad_substitutes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MlvError, match=r"no local line for 'nope' \(local lines: mylib, otherlib\)"):
        fresh.settle_local_lines(_contents(), skip_local=True, substitutes={"nope": str(tmp_path)})
    with pytest.raises(MlvError, match="no such file or folder"):
        fresh.settle_local_lines(_contents(), skip_local=True, substitutes={"mylib": str(tmp_path / "gone")})


def test_skipped_and_substituted_lines(tmp_path: Path) -> None:
    settled = fresh.settle_local_lines(_contents(), skip_local=True, substitutes={"MyLib": str(tmp_path)})
    assert [(a.name, a.substitute) for a in settled] == [("mylib", str(tmp_path)), ("otherlib", None)]
    assert settled[0].requirement() == f"mylib @ {tmp_path.as_uri()}"
    assert settled[1].requirement() is None and "otherlib skipped" in settled[1].describe()
    one_by_one = fresh.settle_local_lines(_contents(), False, {}, skipped={"mylib", "otherlib"})
    assert all(a.substitute is None for a in one_by_one)


def test_a_reproduced_in_an_altered_environment_says_so() -> None:
    outputs: list[verdict.OutputCheck] = []
    metrics = verdict.compare_metrics({"m.json": {"score": 1}}, {"m.json": {"score": 1}}, 0, 0)
    exit_check = verdict.compare_exit(0, 0)
    plain = verdict.decide(outputs, metrics, exit_check, inputs=verdict.Inputs())
    assert plain.verdict == verdict.REPRODUCED and plain.cause is None
    altered = verdict.decide(outputs, metrics, exit_check, inputs=verdict.Inputs(altered=("mylib skipped",)))
    assert altered.verdict == verdict.REPRODUCED
    assert altered.cause == verdict.ENVIRONMENT_CHANGED and "mylib skipped" in (altered.cause_detail or "")


def test_installer_steps_become_progress() -> None:
    uv = fresh._StepReader("uv", 3)
    events = [uv.read(line) for line in ("Using Python 3.11.7 environment at: v", "Resolved 3 packages in 1ms",
                                         "Prepared 2 packages in 2ms", "Installed 3 packages in 1ms")]
    assert [(e.step, e.done) for e in events if e] == [("resolved", 3), ("downloaded", 2), ("installed", 3)]
    pip = fresh._StepReader("pip", 2)
    events = [pip.read(line) for line in ("Collecting six==1.16.0", "  Downloading six.whl (11 kB)",
                                          "Processing ./tinypkg-1.0-py3-none-any.whl",
                                          "Installing collected packages: six, tinypkg",
                                          "Successfully installed six-1.16.0 tinypkg-1.0")]
    assert [(e.step, e.done) for e in events if e] == [("downloading", 1), ("downloading", 2), ("installing", 2),
                                                       ("installed", 2)]


def test_the_installer_is_uv_unless_pip_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fresh.INSTALLER_ENV, raising=False)
    name, base = fresh.find_installer()
    assert name == "uv" and Path(base[0]).name == "uv"  # the dev extra installs it
    monkeypatch.setenv(fresh.INSTALLER_ENV, "pip")
    assert fresh.find_installer()[0] == "pip"
    monkeypatch.setenv(fresh.INSTALLER_ENV, "conda")
    with pytest.raises(MlvError, match="must be 'uv' or 'pip'"):
        fresh.find_installer()
    monkeypatch.setenv(fresh.INSTALLER_ENV, "uv")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(fresh, "_uv_binary", lambda: None)  # as on a machine without uv
    with pytest.raises(MlvError, match="uv is not installed"):
        fresh.find_installer()


def test_pip_settings_reach_uv_and_the_lockfile_never_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("UV_NO_INDEX", "0")  # uv's own setting wins
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://extra.example/simple")
    env = fresh.installer_env("uv")
    assert env["UV_INDEX_URL"] == "https://pypi.example/simple" and env["UV_NO_INDEX"] == "0"
    # pip takes the best version across its indexes; uv, told the same indexes, must too.
    assert env["UV_EXTRA_INDEX_URL"] == "https://extra.example/simple"
    assert env["UV_INDEX_STRATEGY"] == "unsafe-best-match"
    argv = fresh.install_command("uv", ["uv", "pip"], Path("/v/bin/python"), ["six==1.16.0"])
    assert argv == ["uv", "pip", "install", "--python", "/v/bin/python", "--no-deps", "--", "six==1.16.0"]


# -- end to end ----------------------------------------------------------------------------------


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A minimal real wheel, made by hand: installing it needs no network and no build backend."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = {f"{name}.py": b"VALUE = 1\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        record = []
        for member, data in files.items():
            archive.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


@pytest.fixture(scope="module")
def _local_line_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """An experiment whose lockfile pins tinypkg (in a local wheel folder) and names mylib by a
    path of the recording machine. Built once per module; each test gets a copy."""
    wheels = tmp_path_factory.mktemp("wheels")
    _wheel(wheels, "tinypkg", "1.0")
    repo = tmp_path_factory.mktemp("template") / "p"
    with pinned(tmp_path_factory.mktemp("template-home")):
        script_project(repo, DETERMINISTIC_SCRIPT)
        mlv(repo, "snapshot", "--run", "python train.py", "-m", "base")
        lock = str(record_of(repo)["environment"]["lockfile"])
        content = f"# mlv environment lockfile\ntinypkg==1.0\n{LOCAL_EDITABLE}\n".encode()
        (repo / lock).write_bytes(content)
        (repo / "uv.toml").write_text("this is [not toml\n")  # uv must never read the repository's config
        git(repo, "add", "-A")
        tree = git(repo, "write-tree")
        git(repo, "reset", "-q", "--hard")

        def same_lockfile(doc: dict[str, object]) -> None:
            environment = doc["environment"]
            assert isinstance(environment, dict)
            environment["lockfile_sha256"] = hashlib.sha256(content).hexdigest()

        sha = craft_experiment(repo, same_lockfile, tree=tree)
    return repo, sha, wheels


@pytest.fixture
def local_line_experiment(_local_line_template: tuple[Path, str, Path],
                          tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A copy of the template; the environment installs tinypkg offline, with pip or uv."""
    template, sha, wheels = _local_line_template
    repo = copy_template(template, tmp_path / "p")
    return repo, sha, {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "UV_OFFLINE": "1"}


def _built_envs() -> list[Path]:
    root = Path(os.environ["XDG_CACHE_HOME"]) / "mlv" / "envs"
    return [p for p in root.iterdir() if p.is_dir()] if root.exists() else []


def test_local_lines_without_a_choice_refuse_before_building(local_line_experiment: tuple) -> None:
    repo, sha, env = local_line_experiment
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", check=False, env=env)
    assert proc.returncode == EXIT_CANNOT_RUN, proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "mylib" in error[0] and "--skip-local" in error[0] and "--substitute" in error[0]
    shown = proc.stderr[:proc.stderr.index("error:")]
    assert LOCAL_EDITABLE in shown and "cannot be installed here" in shown
    assert _built_envs() == [] and "Building" not in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["--substitute", "nope=/"], ["--substitute", "mylib"],
                                  ["--substitute", "mylib=/nonexistent/path"]])
def test_bad_substitute_options_are_one_line(local_line_experiment: tuple, args: list[str]) -> None:
    repo, sha, env = local_line_experiment
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", *args, check=False, env=env)
    assert proc.returncode == EXIT_CANNOT_RUN
    assert proc.stderr.count("error:") == 1 and "--substitute" in proc.stderr and _built_envs() == []


def test_skip_local_only_with_env_fresh(local_line_experiment: tuple) -> None:
    repo, sha, env = local_line_experiment
    proc = mlv(repo, "reproduce", sha, "--skip-local", "--yes", check=False, env=env)
    assert proc.returncode == EXIT_CANNOT_RUN and "only apply with --env fresh" in proc.stderr


@pytest.mark.parametrize("installer", ["uv", pytest.param("pip", marks=pytest.mark.slow)])
def test_skip_local_builds_without_them_and_qualifies_the_verdict(local_line_experiment: tuple,
                                                                  installer: str) -> None:
    repo, sha, env = local_line_experiment
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--json", "--skip-local",
               env={**env, fresh.INSTALLER_ENV: installer})
    doc = json.loads(proc.stdout)
    assert f"with {installer}" in proc.stderr
    assert doc["verdict"] == "reproduced"  # the metrics match...
    assert doc["cause"] == "environment_changed"  # ...in an environment that is not the recorded one
    assert "mylib skipped" in doc["cause_detail"]
    assert doc["environment_altered"] == [{"name": "mylib", "line": LOCAL_EDITABLE, "substitute": None}]
    jsonschema.validate(doc, json.loads((REPO_ROOT / "mlv/schemas/verdict.schema.json").read_text()))
    assert any(m["name"] == "mylib" and m["current"] is None for m in doc["environment_mismatches"])
    (venv,) = _built_envs()
    site = next((venv / "lib").glob("python*/site-packages"))
    assert (site / "tinypkg.py").exists() and not list(site.glob("mylib*"))
    human = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--skip-local", env=env)
    assert "verdict: reproduced" in human.stdout and "cause: environment_changed" in human.stdout


def test_substitute_installs_your_path(local_line_experiment: tuple, tmp_path: Path) -> None:
    repo, sha, env = local_line_experiment
    mine = _wheel(tmp_path / "mine", "mylib", "0.1.0")
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--json", "--substitute", f"mylib={mine}",
               env=env)
    doc = json.loads(proc.stdout)
    assert doc["environment_altered"] == [{"name": "mylib", "line": LOCAL_EDITABLE, "substitute": str(mine)}]
    assert doc["verdict"] == "reproduced" and doc["cause"] == "environment_changed"
    assert doc["environment_mismatches"] == []  # the same versions, from another source
    human = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--substitute", f"mylib={mine}", env=env)
    assert "1 line skipped or substituted" in human.stdout and "cause: environment_changed" in human.stdout
    (venv,) = _built_envs()
    assert list(next((venv / "lib").glob("python*/site-packages")).glob("mylib.py"))


def test_on_a_terminal_each_local_line_is_asked_about(local_line_experiment: tuple) -> None:
    repo, sha, env = local_line_experiment
    code, screen = on_a_terminal(repo, ["reproduce", sha, "--env", "fresh"], [b"a\n"], env)
    assert code == EXIT_CANNOT_RUN and "[s]kip it" in screen and "aborted; nothing was built" in screen
    assert _built_envs() == []
    code, screen = on_a_terminal(repo, ["reproduce", sha, "--env", "fresh", "--yes"], [b"s\n"], env)
    assert code == 0, screen
    assert "mylib skipped" in screen
    # The build showed its installer's step, the package count and the time, then a summary line.
    assert "uv: " in screen and "/1" in screen and "packages" in screen
    assert "environment built with uv: 1 package in" in screen


def test_no_build_progress_under_json(local_line_experiment: tuple) -> None:
    repo, sha, env = local_line_experiment
    code, screen = on_a_terminal(repo, ["reproduce", sha, "--env", "fresh", "--yes", "--json", "--skip-local"],
                                  [], env)
    assert code == 0, screen
    assert "Building a fresh environment" in screen and "uv: " not in screen and "environment built" not in screen


def test_the_python_api_settles_local_lines_too(local_line_experiment: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlv import api

    repo, sha, env = local_line_experiment
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(MlvError, match="--skip-local"):
        api.reproduce(sha, env="fresh", path=repo)
    result = api.reproduce(sha, env="fresh", path=repo, skip_local=True)
    assert result.verdict.verdict == "reproduced" and result.verdict.cause == "environment_changed"
    assert [a.name for a in result.environment_altered] == ["mylib"]


def test_what_uv_cannot_install_is_built_with_pip(local_line_experiment: tuple, tmp_path: Path) -> None:
    repo, sha, env = local_line_experiment
    (tmp_path / "empty").mkdir()
    # uv looks in an empty folder (its own setting wins over pip's), pip where tinypkg is.
    env = {**env, "UV_FIND_LINKS": str(tmp_path / "empty"), "UV_NO_INDEX": "1"}
    proc = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--json", "--skip-local", env=env)
    assert "uv could not install the lockfile" in proc.stderr and "building with pip instead" in proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "reproduced"
    for built in _built_envs():  # else the environment pip built is reused
        shutil.rmtree(built)
    refused = mlv(repo, "reproduce", sha, "--env", "fresh", "--yes", "--skip-local", check=False,
                  env={**env, fresh.INSTALLER_ENV: "uv"})  # insisting on uv: no pip behind it
    assert refused.returncode == EXIT_CANNOT_RUN and refused.stderr.count("error:") == 1
    assert "cannot install the lockfile's packages for --env fresh (uv)" in refused.stderr


def test_a_local_line_whose_path_exists_here_is_installed_from_it(tmp_path: Path) -> None:
    (tmp_path / "mylib").mkdir()
    contents = fresh.read_lockfile(f"-e {(tmp_path / 'mylib').as_uri()}  # mylib==0.1.0\n{LOCAL_DIRECT}\n".encode())
    assert contents.local[0].path_here() == str(tmp_path / "mylib")
    assert contents.local[1].path_here() is None
    with pytest.raises(MlvError, match=r"installs otherlib from a path"):  # only the missing one is a choice
        fresh.settle_local_lines(contents, skip_local=False, substitutes={})
    settled = fresh.settle_local_lines(contents, skip_local=False, substitutes={}, skipped={"otherlib"})
    assert [(a.name, a.substitute) for a in settled] == [("mylib", str(tmp_path / "mylib")), ("otherlib", None)]
    assert all(a.substitute is None for a in fresh.settle_local_lines(contents, skip_local=True, substitutes={}))


def test_uv_is_given_the_package_index_pip_is_configured_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror" / "simple"
    mirror.mkdir(parents=True)
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {mirror.as_uri()}\n"
                    "extra-index-url = file:///nonexistent/simple https://mirror.example/simple\n"
                    "[install]\nfind-links = /nonexistent/wheels\n")
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "UV_INDEX_URL",
                 "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    env = fresh.installer_env("uv")
    assert env["UV_INDEX_URL"] == mirror.as_uri()
    assert env["UV_EXTRA_INDEX_URL"] == "https://mirror.example/simple"  # a missing local index is dropped
    assert "UV_FIND_LINKS" not in env
    monkeypatch.setenv("PIP_INDEX_URL", "https://other.example/simple")  # the environment wins, as for pip
    assert fresh.installer_env("uv")["UV_INDEX_URL"] == "https://other.example/simple"
    assert "UV_INDEX_URL" not in fresh.installer_env("pip")
