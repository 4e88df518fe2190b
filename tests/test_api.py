"""The Python API with GitPython: a `git.Repo` wherever a path is taken, and each experiment's
GitPython `Commit`, without making `import mlv.api` pay for GitPython."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import git as gitpython  # GitPython; `git` is the helper that runs git (tests.conftest)
import pytest

from mlv import api
from mlv.errors import MlvError
from tests.conftest import REPO_ROOT, git


def test_a_gitpython_repo_is_accepted_wherever_a_path_is(experiment_repo: Path) -> None:
    with gitpython.Repo(experiment_repo) as repo:
        by_repo = api.log(path=repo)
        by_path = api.log(path=str(experiment_repo / "data"))  # any folder inside the work tree
        head = git(experiment_repo, "rev-parse", "HEAD")
        assert [e.commit for e in by_repo] == [e.commit for e in by_path] == [head]
        assert api.show(path=repo).record.command == "python train.py"
        assert api.diff("HEAD", path=repo).identical


def test_experiments_give_their_gitpython_commit(experiment_repo: Path) -> None:
    experiment = api.show(path=experiment_repo)
    commit = experiment.commit_object()
    assert commit.hexsha == experiment.commit
    assert commit.summary == "baseline"
    assert commit.author.email == "author@example.com"
    with gitpython.Repo(experiment_repo) as other:
        newest = api.log(path=other)[0]
        assert isinstance(newest, api.Experiment)
        assert newest.commit_object(other) == commit
    assert experiment.to_json()["commit"] == experiment.commit  # still the history record


def test_a_bare_repository_is_refused(experiment_repo: Path, tmp_path: Path) -> None:
    with gitpython.Repo.init(tmp_path / "bare.git", bare=True) as bare, \
            pytest.raises(MlvError, match="has no work tree"):
        api.log(path=bare)


def test_importing_the_api_does_not_import_gitpython() -> None:
    probe = "import sys, mlv.api; print('git' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "False"


def test_a_repository_given_as_the_limit_is_a_clear_type_error(experiment_repo: Path) -> None:
    for wrong in (str(experiment_repo), experiment_repo, ".", True):
        with pytest.raises(TypeError, match=r"limit must be a number of experiments or None.*path="):
            api.log(wrong)  # type: ignore[arg-type]
    assert len(api.log(1, path=experiment_repo)) == 1
