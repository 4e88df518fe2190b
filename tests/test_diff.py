"""`mlv diff` between two experiment commits: each section, each argument form, JSON and Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest

from mlv.diff import compare
from mlv.diff.data import NOT_IN_CACHE
from tests.conftest import git, mlv, tree_fingerprint
from tests.diff_helpers import SCHEMA, build_two_runs, copy_repo, diff_json, shared_repo


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_repo(tmp_path_factory, "diff-two-runs", build_two_runs)


@pytest.fixture
def scratch(two_runs: Path, tmp_path: Path) -> Path:
    """A private copy of the two-run repository, for tests that change it."""
    return copy_repo(two_runs, tmp_path / "copy")


def _by_path(items: Sequence[object], key: str = "path") -> dict[str, object]:
    return {getattr(i, key): i for i in items}


# -- sections --------------------------------------------------------------------------------------


def test_code_section_counts_lines_and_leaves_out_pointers_and_mlv_files(two_runs: Path) -> None:
    result = compare.diff(two_runs)
    files = _by_path(result.code.files)
    assert set(files) == {"train.py", "utils.py", "logo.bin"}  # no .dvc, .mlv/, params or metrics files
    train, utils, logo = files["train.py"], files["utils.py"], files["logo.bin"]
    assert (train.status, train.added_lines, train.removed_lines) == ("modified", 1, 0)  # type: ignore[attr-defined]
    assert (utils.status, utils.added_lines) == ("added", 2)  # type: ignore[attr-defined]
    assert logo.binary and logo.added_lines is None  # type: ignore[attr-defined]


def test_data_section_names_files_inside_a_changed_folder(two_runs: Path) -> None:
    result = compare.diff(two_runs)
    entries = _by_path(result.data.entries)
    data, models = entries["data"], entries["models"]
    assert data.kind == "data" and data.status == "modified"  # type: ignore[attr-defined]
    assert data.folder.added == ["extra.csv"]  # type: ignore[attr-defined]
    assert data.folder.modified == ["dataset.csv"]  # type: ignore[attr-defined]
    assert data.folder.removed == [] and data.folder.unchanged == 0  # type: ignore[attr-defined]
    assert data.size_change == len("0.1,0.2,0.3,0.4,1.0\n") + len("x1,x2,x3,x4,y\n")  # type: ignore[attr-defined]
    assert models.kind == "output" and models.folder.modified == ["model.joblib"]  # type: ignore[attr-defined]


def test_params_and_metrics_sections(two_runs: Path) -> None:
    result = compare.diff(two_runs)
    params = {c.key: c for c in result.params.entries}
    assert list(params) == ["train.test_size"]
    assert (params["train.test_size"].old, params["train.test_size"].new) == (0.25, 0.3)
    metrics = {c.key: c for c in result.metrics.entries}
    n_train = metrics["n_train"]
    assert (n_train.old, n_train.new, n_train.abs_change, n_train.direction) == (1500, 1400, -100, "down")
    assert n_train.rel_change == pytest.approx(-100 / 1500)
    assert {"mse", "r2"} <= set(metrics)


def test_unchanged_sections_are_left_out(two_runs: Path) -> None:
    result = compare.diff(two_runs)
    assert result.environment.available and not result.environment.changed
    assert not result.command.changed
    out = mlv(two_runs, "diff").stdout
    for title in ("Code", "Data", "Params", "Metrics"):
        assert f"\n{title}" in out
    assert "Environment" not in out and "Command" not in out
    assert "unchanged" not in out.split("Data")[1].split("Params")[0].replace("0 unchanged", "")


def test_terminal_output_shows_values_and_changes(two_runs: Path) -> None:
    out = mlv(two_runs, "diff").stdout
    assert "train.test_size" in out and "0.25" in out and "0.3" in out
    assert "\u25bc -100 (-6.67%)" in out  # n_train: direction arrow, absolute and relative change
    words = " ".join(out.split())
    assert "data/ added: extra.csv" in words and "data/ modified: dataset.csv" in words
    assert "binary" in out  # logo.bin


# -- argument forms ----------------------------------------------------------------------------------


def test_no_arguments_compares_the_previous_experiment_with_the_latest(two_runs: Path) -> None:
    doc = diff_json(two_runs)
    head, previous = git(two_runs, "rev-parse", "HEAD"), git(two_runs, "rev-parse", "HEAD~1")
    assert (doc["old"]["commit"], doc["new"]["commit"]) == (previous, head)  # type: ignore[index]


def test_one_argument_compares_it_with_the_latest_experiment(two_runs: Path) -> None:
    doc = diff_json(two_runs, "HEAD~1")
    assert doc["old"]["label"] == "HEAD~1"  # type: ignore[index]
    assert doc["new"]["commit"] == git(two_runs, "rev-parse", "HEAD")  # type: ignore[index]
    assert doc == {**diff_json(two_runs), "old": doc["old"], "new": doc["new"]}


def test_two_arguments_in_reverse_order_reverse_every_change(two_runs: Path) -> None:
    doc = diff_json(two_runs, "HEAD", "HEAD~1")
    params = doc["params"]["entries"]  # type: ignore[index]
    assert (params[0]["old"], params[0]["new"]) == (0.3, 0.25)
    data = {e["path"]: e for e in doc["data"]["entries"]}  # type: ignore[index]
    assert data["data"]["folder"]["removed"] == ["extra.csv"]
    code = {f["path"]: f["status"] for f in doc["code"]["files"]}  # type: ignore[index]
    assert code == {"train.py": "modified", "utils.py": "removed", "logo.bin": "removed"}


def test_identical_revisions_say_no_differences(two_runs: Path) -> None:
    proc = mlv(two_runs, "diff", "HEAD", "main")
    assert proc.returncode == 0
    assert proc.stdout.strip().endswith("no differences")
    assert diff_json(two_runs, "HEAD")["identical"] is True
    assert "_no differences_" in mlv(two_runs, "diff", "HEAD", "--md").stdout


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["nope"], ["HEAD", "nope"], ["nope", "--workspace"]])
def test_unknown_revision_is_one_line_and_exit_1(two_runs: Path, args: list[str]) -> None:
    before = tree_fingerprint(two_runs)
    proc = mlv(two_runs, "diff", *args, check=False)
    assert proc.returncode == 1
    assert proc.stderr == "error: unknown revision 'nope'. Give a commit sha, branch, tag or HEAD~N; " \
                          "`mlv log` lists experiments.\n"
    assert proc.stdout == ""
    assert tree_fingerprint(two_runs) == before


@pytest.mark.parametrize(("args", "message"), [
    (["--json", "--md"], "error: --json and --md cannot be combined. Pick one output format.\n"),
    (["HEAD", "HEAD~1", "--workspace"],
     "error: --workspace compares one revision with the work tree; got two. "
     "Give one revision, or none for the latest experiment.\n"),
    (["HEAD", "HEAD~1", "HEAD", "--workspace"],  # three or more revisions are a table (test_diff_many.py)
     "error: --workspace compares two sides; got 3 revisions. Drop it, or give at most two revisions.\n"),
])
def test_bad_argument_combinations(two_runs: Path, args: list[str], message: str) -> None:
    proc = mlv(two_runs, "diff", *args, check=False)
    assert (proc.returncode, proc.stderr, proc.stdout) == (1, message, "")


def test_a_single_experiment_has_nothing_to_compare(scratch: Path) -> None:
    git(scratch, "checkout", "-q", "--detach", "HEAD~1")  # only the baseline is reachable now
    proc = mlv(scratch, "diff", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: this branch has only one experiment commit, so there is nothing")
    assert len(proc.stderr.splitlines()) == 1


def test_a_folder_manifest_missing_from_the_cache_is_reported_not_fatal(scratch: Path) -> None:
    old_md5 = diff_json(scratch)["data"]["entries"][0]["old"]["md5"]  # type: ignore[index]
    cache_object = scratch / ".dvc" / "cache" / "files" / "md5" / old_md5[:2] / old_md5[2:]
    cache_object.unlink()
    doc = diff_json(scratch)
    data = {e["path"]: e for e in doc["data"]["entries"]}  # type: ignore[index]
    assert data["data"]["status"] == "modified"
    assert data["data"]["note"] == NOT_IN_CACHE and data["data"]["folder"] is None
    out = mlv(scratch, "diff").stdout
    assert "data: changed, contents not in the local cache; run `dvc fetch`" in " ".join(out.split())


def test_huge_and_binary_code_files(scratch: Path) -> None:
    big = scratch / "big.txt"
    with big.open("w") as handle:
        for i in range(600_000):  # ~ 30 MB of text: counted by git, not loaded by mlv
            handle.write(f"line {i:040d}\n")
    (scratch / "weights.bin").write_bytes(bytes(range(256)) * 4096)
    git(scratch, "add", "big.txt", "weights.bin")
    git(scratch, "commit", "-q", "-m", "plain commit with a huge and a binary file")
    files = {f["path"]: f for f in diff_json(scratch, "HEAD~1", "HEAD")["code"]["files"]}  # type: ignore[index]
    assert files["big.txt"]["added_lines"] == 600_000 and not files["big.txt"]["binary"]
    assert files["weights.bin"]["binary"] and files["weights.bin"]["added_lines"] is None


def test_renamed_file_shows_its_old_name(scratch: Path) -> None:
    git(scratch, "mv", "utils.py", "helpers.py")
    git(scratch, "commit", "-q", "-m", "rename")
    (change,) = diff_json(scratch, "HEAD~1", "HEAD")["code"]["files"]  # type: ignore[index]
    assert (change["status"], change["old_path"], change["path"]) == ("renamed", "utils.py", "helpers.py")


# -- output formats ------------------------------------------------------------------------------------


def test_json_output_matches_its_schema(two_runs: Path) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    for args in ([], ["HEAD"], ["HEAD", "HEAD~1"]):
        doc = diff_json(two_runs, *args)
        jsonschema.validate(doc, schema)
        assert set(compare.SECTIONS) <= set(doc)


def test_markdown_is_a_set_of_tables(two_runs: Path) -> None:
    out = mlv(two_runs, "diff", "--md").stdout
    assert out.startswith("### mlv diff: ")
    assert "| `train.test_size` | 0.25 | 0.3 |" in out
    assert "| `train.py` | modified | +1 | -0 |" in out
    assert "- `data` added: `extra.csv`" in out


def test_diff_never_writes_the_work_tree_or_the_index(two_runs: Path) -> None:
    before = tree_fingerprint(two_runs)
    index = (two_runs / ".git" / "index").read_bytes()
    for args in ([], ["--json"], ["--md"], ["HEAD~1", "HEAD"]):
        mlv(two_runs, "diff", *args)
    assert tree_fingerprint(two_runs) == before
    assert (two_runs / ".git" / "index").read_bytes() == index


def test_many_changed_files_stay_readable(scratch: Path) -> None:
    for i in range(50):
        (scratch / f"mod{i:02d}.py").write_text(f"x = {i}\n")
    git(scratch, "add", ".")
    git(scratch, "commit", "-q", "-m", "fifty modules")
    out = mlv(scratch, "diff", "HEAD~1", "HEAD").stdout
    assert "mod39.py" in out and "mod40.py" not in out
    assert "\u2026 10 more files (--json lists all)" in out
    md = mlv(scratch, "diff", "HEAD~1", "HEAD", "--md").stdout
    assert "<details><summary>changed files</summary>" in md and "| `mod49.py` | added | +1 | -0 |" in md
    assert len(diff_json(scratch, "HEAD~1", "HEAD")["code"]["files"]) == 50  # type: ignore[index]
