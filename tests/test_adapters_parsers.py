"""The parsers in mlv/adapters/: git's and DVC's output and file formats, on crafted inputs.

Fast, in-process tests. The pure parsers (`_parse_diff_tokens`, `parse_pointer`, the manifest
and config readers) get their input directly. The git functions that parse a git command's
output inline get it from a stand-in for `git.run`, the subprocess boundary, so odd and broken
output can be tried without a repository; a few cases then check the same parsers against the
real git, on file names that are hard to parse (spaces, tabs, newlines, non-UTF-8 bytes).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mlv.adapters import dvc as dvc_adapter  # `dvc` and `git` are the helpers that run them (tests.conftest)
from mlv.adapters import git as git_adapter
from mlv.adapters.git import FileChange, process
from mlv.adapters.git.worktree import _parse_diff_tokens
from mlv.errors import DvcError, GitError
from tests.conftest import dvc, git

SHA_A = "a" * 40
MD5_A = "a" * 32  # well-formed DVC hashes: a malformed one is refused at parse time
MD5_B = "b" * 32
SHA_B = "b" * 40


class FakeGit:
    """Replaces git.run: records the argv and answers with canned stdout."""

    def __init__(self, stdout: bytes, returncode: int = 0) -> None:
        self.stdout = stdout
        self.returncode = returncode
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str], cwd: Path | str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        self.calls.append(list(args))
        return subprocess.CompletedProcess(["git", *args], self.returncode, self.stdout, b"")


GIT_MODULES = [importlib.import_module(f"mlv.adapters.git.{info.name}")
               for info in pkgutil.iter_modules(git_adapter.__path__)]


@pytest.fixture
def fake_git(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(stdout: bytes, returncode: int = 0) -> FakeGit:
        fake = FakeGit(stdout, returncode)
        for module in GIT_MODULES:  # each imports `run` from the one that defines it
            if hasattr(module, "run"):
                monkeypatch.setattr(module, "run", fake)
        return fake

    return install


def _raw(status: str) -> bytes:
    return f":100644 100644 {'1' * 7} {'2' * 7} {status}".encode()


# -- git diff --raw --numstat -z -------------------------------------------------------------------


def test_diff_tokens_modified_added_deleted_with_counts() -> None:
    tokens = [_raw("M"), b"train.py", _raw("A"), b"new file.py", _raw("D"), b"old.py",
              b"3\t1\ttrain.py", b"2\t0\tnew file.py", b"0\t5\told.py", b""]
    assert _parse_diff_tokens(tokens) == [
        FileChange("M", "train.py", None, 3, 1),
        FileChange("A", "new file.py", None, 2, 0),
        FileChange("D", "old.py", None, 0, 5),
    ]


def test_diff_tokens_rename_takes_source_and_destination() -> None:
    # --raw gives "R100" then SOURCE then DEST; --numstat gives "A\tR\t" then SOURCE then DEST.
    tokens = [_raw("R087"), b"src/a.py", b"src/b.py", b"1\t1\t", b"src/a.py", b"src/b.py", b""]
    assert _parse_diff_tokens(tokens) == [FileChange("R", "src/b.py", "src/a.py", 1, 1)]


def test_diff_tokens_copy_and_type_change() -> None:
    tokens = [_raw("C100"), b"a.py", b"a_copy.py", _raw("T"), b"link", b"0\t0\t", b"a.py", b"a_copy.py",
              b"1\t0\tlink", b""]
    assert _parse_diff_tokens(tokens) == [
        FileChange("C", "a_copy.py", "a.py", 0, 0),
        FileChange("T", "link", None, 1, 0),
    ]


def test_diff_tokens_binary_files_have_no_line_counts() -> None:
    tokens = [_raw("M"), b"logo.png", b"-\t-\tlogo.png", b""]
    assert _parse_diff_tokens(tokens) == [FileChange("M", "logo.png", None, None, None)]


def test_diff_tokens_path_with_tab_and_newline_is_kept_whole() -> None:
    name = "odd\tname\nwith newline.txt"
    tokens = [_raw("A"), name.encode(), f"1\t0\t{name}".encode(), b""]
    assert _parse_diff_tokens(tokens) == [FileChange("A", name, None, 1, 0)]


def test_diff_tokens_non_utf8_path_round_trips_through_surrogates() -> None:
    raw_name = b"caf\xe9.csv"  # latin-1, not valid UTF-8
    tokens = [_raw("M"), raw_name, b"1\t1\t" + raw_name, b""]
    [change] = _parse_diff_tokens(tokens)
    assert change.path.encode("utf-8", errors="surrogateescape") == raw_name
    assert (change.added, change.removed) == (1, 1)


def test_diff_tokens_empty_output_and_missing_counts() -> None:
    assert _parse_diff_tokens([b""]) == []
    assert _parse_diff_tokens([]) == []
    # A raw record without its numstat line (never from git, but no crash): counts unknown.
    assert _parse_diff_tokens([_raw("M"), b"x.py", b""]) == [FileChange("M", "x.py", None, None, None)]


def test_diff_tokens_malformed_count_raises_value_error() -> None:
    with pytest.raises(ValueError):
        _parse_diff_tokens([_raw("M"), b"x.py", b"many\t1\tx.py", b""])


def test_diff_files_against_real_git_with_hard_names(repo: Path) -> None:
    (repo / "plain.txt").write_text("1\n2\n")
    (repo / "with space.txt").write_text("a\n")
    (repo / "bin.dat").write_bytes(b"\0\1\2")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    (repo / "plain.txt").write_text("1\n2\n3\n")
    git(repo, "mv", "with space.txt", "tab\there.txt")
    (repo / "bin.dat").write_bytes(b"\0\1\3")
    (repo / "new\nline.txt").write_text("x\ny\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    changes = {c.path: c for c in git_adapter.diff_files(repo, "HEAD~1", "HEAD")}
    assert changes == {
        "plain.txt": FileChange("M", "plain.txt", None, 1, 0),
        "tab\there.txt": FileChange("R", "tab\there.txt", "with space.txt", 0, 0),
        "bin.dat": FileChange("M", "bin.dat", None, None, None),
        "new\nline.txt": FileChange("A", "new\nline.txt", None, 2, 0),
    }


# -- git status --porcelain=v1 -z ------------------------------------------------------------------


def test_changed_paths_skips_the_source_of_renames_and_copies(fake_git: Any, tmp_path: Path) -> None:
    fake_git(b" M train.py\0R  new.py\0old.py\0?? data/x.csv\0C  copy.py\0orig.py\0A  a b.py\0")
    assert git_adapter.changed_paths(tmp_path) == ["train.py", "new.py", "data/x.csv", "copy.py", "a b.py"]


def test_changed_paths_ignores_empty_and_truncated_entries(fake_git: Any, tmp_path: Path) -> None:
    fake_git(b"\0M\0 M ok.py\0??\0")
    assert git_adapter.changed_paths(tmp_path) == ["ok.py"]
    fake_git(b"")
    assert git_adapter.changed_paths(tmp_path) == []


def test_changed_paths_against_real_git(repo: Path) -> None:
    (repo / "kept.txt").write_text("k\n")
    (repo / "moved.txt").write_text("m\n" * 20)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    git(repo, "mv", "moved.txt", "now here.txt")
    (repo / "kept.txt").write_text("changed\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "new\tfile").write_text("n\n")
    assert sorted(git_adapter.changed_paths(repo)) == ["kept.txt", "now here.txt", "sub/new\tfile"]


# -- git ls-tree, ls-files, check-ignore (NUL-separated lists) --------------------------------------


def test_ls_tree_paths_filters_by_suffix_and_drops_empty_names(fake_git: Any, tmp_path: Path) -> None:
    fake = fake_git(b"data.dvc\0models.dvc\0train.py\0sub/x.dvc\0")
    assert git_adapter.ls_tree_paths(tmp_path, "HEAD", ".dvc") == ["data.dvc", "models.dvc", "sub/x.dvc"]
    assert git_adapter.ls_tree_paths(tmp_path, "HEAD") == ["data.dvc", "models.dvc", "train.py", "sub/x.dvc"]
    assert fake.calls[0] == ["ls-tree", "-r", "-z", "--name-only", "HEAD"]
    fake_git(b"")
    assert git_adapter.ls_tree_paths(tmp_path, "HEAD") == []


def test_untracked_files_and_check_ignore_split_on_nul(fake_git: Any, tmp_path: Path) -> None:
    fake_git(b"a.txt\0dir/with\nnewline\0")
    assert git_adapter.untracked_files(tmp_path) == ["a.txt", "dir/with\nnewline"]
    fake_git(b"data\0models\0", returncode=0)
    assert git_adapter.check_ignore(tmp_path, ["data", "models", "train.py"]) == {"data", "models"}
    fake_git(b"", returncode=1)  # check-ignore exits 1 when nothing is ignored
    assert git_adapter.check_ignore(tmp_path, ["train.py"]) == set()
    assert git_adapter.check_ignore(tmp_path, []) == set()


# -- git log (shas only) and commit messages by exact length ---------------------------------------


def test_log_shas_asks_git_to_filter_and_stop(fake_git: Any, tmp_path: Path) -> None:
    fake = fake_git(f"{SHA_A}\n{SHA_B}\n".encode())
    assert git_adapter.log_shas(tmp_path, "HEAD", "^x", 5) == [SHA_A, SHA_B]
    args = fake.calls[0]
    assert "-E" in args and "--grep=^x" in args and "--max-count=5" in args
    assert args[-2:] == ["HEAD", "--"]  # a revision is never read as a path


def test_log_shas_of_an_empty_history(fake_git: Any, tmp_path: Path) -> None:
    fake_git(b"")
    assert git_adapter.log_shas(tmp_path, "HEAD", "^x", None) == []


def test_message_of_keeps_separators_and_bad_bytes() -> None:
    raw = b"tree 0\nauthor a\n\nsubject\n\nbody with \x1e\x1f inside \xff\n"
    assert git_adapter.message_of(raw) == "subject\n\nbody with \x1e\x1f inside \ufffd\n"
    assert git_adapter.message_of(b"tree 0\n") == ""  # no message at all


def test_commit_messages_against_real_git(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    git(repo, "commit", "-q", "--allow-empty", "-m", "second\n\nwith \x1e a body")
    shas = git_adapter.log_shas(repo, "HEAD", ".", None)
    assert shas == git(repo, "rev-list", "HEAD").splitlines()
    messages = git_adapter.commit_messages(repo, shas)
    assert [messages[s] for s in shas] == ["second\n\nwith \x1e a body\n", "first\n"]


# -- git cat-file --batch --------------------------------------------------------------------------


def test_read_blobs_parses_sizes_and_missing_objects(fake_git: Any, tmp_path: Path) -> None:
    body = b"line one\nline two\n"  # contains newlines: only the size header says where it ends
    out = (f"{SHA_A} blob {len(body)}\n".encode() + body + b"\n" + b"HEAD:nope missing\n"
           + f"{SHA_B} blob 0\n".encode() + b"\n")
    fake_git(out)
    assert git_adapter.read_blobs(tmp_path, ["HEAD:a", "HEAD:nope", "HEAD:empty"]) == {
        "HEAD:a": body, "HEAD:nope": None, "HEAD:empty": b"",
    }
    assert git_adapter.read_blobs(tmp_path, []) == {}


def test_read_blobs_against_real_git(repo: Path) -> None:
    (repo / "a.bin").write_bytes(b"\n\0binary\nwith newlines\n\n")
    git(repo, "add", "a.bin")
    git(repo, "commit", "-qm", "one")
    got = git_adapter.read_blobs(repo, ["HEAD:a.bin", "HEAD:absent", "HEAD:a.bin"])
    assert got == {"HEAD:a.bin": b"\n\0binary\nwith newlines\n\n", "HEAD:absent": None}


# -- git rev-parse (repo_paths) ------------------------------------------------------------------


def test_repo_paths_resolves_relative_git_dirs(fake_git: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_PATHS_CACHE", {})
    start = tmp_path / "w"
    start.mkdir()
    fake_git(f"{start}\n{start}/.git\n.git\n.git/hooks\n".encode())
    paths = git_adapter.repo_paths(start)
    assert (paths.root, paths.git_dir) == (start, start / ".git")
    assert (paths.common_dir, paths.hooks_dir) == ((start / ".git").resolve(), (start / ".git/hooks").resolve())


def test_repo_paths_outside_a_repository_is_a_git_error(fake_git: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process, "_PATHS_CACHE", {})
    fake_git(b"", returncode=128)
    with pytest.raises(GitError, match="is not inside a git repository"):
        git_adapter.repo_paths(tmp_path)


# -- .dvc pointer files ----------------------------------------------------------------------------


def test_parse_pointer_file_and_folder() -> None:
    folder = b"outs:\n- md5: 0123456789abcdef0123456789abcdef.dir\n  size: 42\n  nfiles: 3\n  hash: md5\n  path: data\n"
    assert dvc_adapter.parse_pointer(folder, "data.dvc") == dvc_adapter.Pointer(
        "data", "0123456789abcdef0123456789abcdef.dir", 42, 3)
    assert dvc_adapter.parse_pointer(folder, "data.dvc").is_dir
    single = b"outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: model.bin\n"
    pointer = dvc_adapter.parse_pointer(single, "models/model.bin.dvc")
    assert pointer == dvc_adapter.Pointer("models/model.bin", "0123456789abcdef0123456789abcdef", 0, None)
    assert not pointer.is_dir


def test_parse_pointer_keeps_unknown_keys_out_and_reads_only_the_first_output() -> None:
    doc = (f"md5: top-level-ignored\nouts:\n- md5: {MD5_A}\n  size: 1\n  path: a\n  desc: kept by DVC\n"
           f"  remote: other\n- md5: {MD5_B}\n  size: 2\n  path: b\n").encode()
    assert dvc_adapter.parse_pointer(doc, "a.dvc") == dvc_adapter.Pointer("a", MD5_A, 1, None)


@pytest.mark.parametrize("data", [
    b"",  # empty file: yaml gives None
    b"outs: []\n",  # no output
    b"outs:\n- size: 1\n",  # no md5 nor path (a path and no md5: test_dvc_settings_formats)
    b"outs:\n- md5: aa\n",  # no path
    b"outs:\n- md5: aa\n  size: lots\n  path: a\n",  # size not a number
    b"outs: {md5: aa}\n",  # a mapping where a list belongs
    b"outs:\n- [md5, aa]\n",  # a list where a mapping belongs
    b"just text\n",
    b"outs:\n- md5: aa\n\tpath: a\n",  # a tab in indentation: invalid YAML
    b"<<<<<<< HEAD\nouts:\n- md5: aa\n=======\n",  # a merge conflict
], ids=["empty", "no-outs", "no-md5", "no-path", "bad-size", "outs-mapping", "out-list", "text", "tab",
        "conflict"])
def test_parse_pointer_malformed_is_one_dvc_error_naming_the_file(data: bytes) -> None:
    with pytest.raises(DvcError) as caught:
        dvc_adapter.parse_pointer(data, "sub/data.dvc")
    assert str(caught.value).startswith("sub/data.dvc is not a valid DVC pointer file (")
    assert "\n" not in str(caught.value)


def test_render_then_parse_round_trips() -> None:
    for pointer in (dvc_adapter.Pointer("sub/data", "ab" * 16 + ".dir", 10, 2),
                    dvc_adapter.Pointer("big.bin", "cd" * 16, 1_500_000)):
        rendered = dvc_adapter.render_pointer(pointer)
        assert dvc_adapter.parse_pointer(rendered, dvc_adapter.pointer_path(pointer.path)) == pointer


def test_render_pointer_keeps_an_existing_file_and_its_extra_keys() -> None:
    existing = f"outs:\n- md5: {MD5_A}\n  size: 1\n  hash: md5\n  path: a\n  desc: my data\n".encode()
    same = dvc_adapter.Pointer("a", MD5_A, 1)
    assert dvc_adapter.render_pointer(same, existing) == existing  # byte for byte
    changed = dvc_adapter.render_pointer(dvc_adapter.Pointer("a", MD5_B, 2), existing)
    assert b"desc: my data" in changed
    assert dvc_adapter.parse_pointer(changed, "a.dvc") == dvc_adapter.Pointer("a", MD5_B, 2)
    # Unreadable or non-md5 pointer files are replaced by a fresh one.
    for bad in (b"::: not yaml :::\n\t", f"outs:\n- md5: {MD5_A}\n  hash: sha256\n  path: a\n".encode()):
        fresh = dvc_adapter.render_pointer(dvc_adapter.Pointer("a", MD5_B, 2), bad)
        assert dvc_adapter.parse_pointer(fresh, "a.dvc") == dvc_adapter.Pointer("a", MD5_B, 2)
        assert b"sha256" not in fresh


# -- .dir manifests ----------------------------------------------------------------------------------


def _store(cache: Path, data: bytes) -> str:
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest() + ".dir"
    dvc_adapter.store_manifest(cache, md5, data)
    return md5


def test_manifest_round_trip_matches_dvc_serialisation(tmp_path: Path) -> None:
    entries = [dvc_adapter.ManifestEntry("b/2.csv", "22" * 16), dvc_adapter.ManifestEntry("a.csv", "11" * 16)]
    md5, data = dvc_adapter.dir_hash(entries)
    # DVC's own format: sorted by relpath, keys sorted, json.dumps default separators.
    assert data == b'[{"md5": "' + b"11" * 16 + b'", "relpath": "a.csv"}, {"md5": "' + b"22" * 16 + \
        b'", "relpath": "b/2.csv"}]'
    assert md5 == hashlib.md5(data, usedforsecurity=False).hexdigest() + ".dir"
    cache = tmp_path / "cache"
    dvc_adapter.store_manifest(cache, md5, data)
    assert dvc_adapter.load_manifest_map(cache, md5) == {"a.csv": "11" * 16, "b/2.csv": "22" * 16}
    assert sorted(dvc_adapter.load_manifest(cache, md5) or [], key=lambda e: e.relpath) == sorted(
        entries, key=lambda e: e.relpath)
    assert dvc_adapter.verify_object(cache, md5)


def test_manifest_absent_is_none(tmp_path: Path) -> None:
    assert dvc_adapter.load_manifest(tmp_path, "00" * 16 + ".dir") is None
    assert dvc_adapter.load_manifest_map(tmp_path, "00" * 16 + ".dir") is None


def test_manifest_with_extra_keys_is_read(tmp_path: Path) -> None:
    data = json.dumps([{"md5": "11" * 16, "relpath": "a", "size": 3, "isexec": False}]).encode()
    assert dvc_adapter.load_manifest_map(tmp_path, _store(tmp_path, data)) == {"a": "11" * 16}


@pytest.mark.parametrize("data", [
    b"",
    b"not json",
    b'{"md5": "11", "relpath": "a"}',  # an object where a list belongs
    b'[{"relpath": "a"}]',  # no md5
    b'[{"md5": "11"}]',  # no relpath
    b"[1, 2]",
    b'[{"md5": "11", "relpath": "a"}',  # truncated
], ids=["empty", "text", "object", "no-md5", "no-relpath", "numbers", "truncated"])
def test_manifest_malformed_is_a_corrupt_object_error(tmp_path: Path, data: bytes) -> None:
    md5 = _store(tmp_path, data)
    with pytest.raises(DvcError, match=r"^cache object .* is not a valid DVC folder manifest; refusing to use it$"):
        dvc_adapter.load_manifest_map(tmp_path, md5)
    with pytest.raises(DvcError):
        dvc_adapter.load_manifest(tmp_path, md5)


def test_verify_object_detects_a_changed_manifest(tmp_path: Path) -> None:
    md5 = _store(tmp_path, b"[]")
    path = dvc_adapter.object_path(tmp_path, md5)
    path.chmod(0o644)
    path.write_bytes(b"[ ]")
    assert not dvc_adapter.verify_object(tmp_path, md5)


# -- .dvc/config -------------------------------------------------------------------------------------


def _config(root: Path, config: str, local: str | None = None) -> Path:
    (root / ".dvc").mkdir(parents=True, exist_ok=True)
    (root / ".dvc" / "config").write_text(config)
    if local is not None:
        (root / ".dvc" / "config.local").write_text(local)
    return root


def test_config_default_remote_and_its_url_as_dvc_writes_them(tmp_path: Path) -> None:
    root = _config(tmp_path, "[core]\n    remote = store\n['remote \"store\"']\n    url = /srv/dvc-store\n")
    assert dvc_adapter.default_remote(root) == "store"
    assert dvc_adapter.remote_url(root, "store") == "/srv/dvc-store"
    assert dvc_adapter.remote_url(root, "other") is None


def test_config_unquoted_section_and_local_override(tmp_path: Path) -> None:
    root = _config(tmp_path, '[core]\nremote = a\n[remote "a"]\nurl = s3://bucket/a\n',
                   local="[core]\nremote = b\n['remote \"b\"']\nurl = ../b-store\n")
    assert dvc_adapter.default_remote(root) == "b"  # config.local wins, as in DVC
    assert dvc_adapter.remote_url(root, "a") == "s3://bucket/a"
    assert dvc_adapter.remote_url(root, "b") == str(tmp_path / "b-store")  # relative to .dvc/, as in DVC


def test_config_without_remote_or_file(tmp_path: Path) -> None:
    assert dvc_adapter.default_remote(tmp_path) is None
    assert dvc_adapter.cache_dir(tmp_path) == tmp_path / ".dvc" / "cache"
    root = _config(tmp_path / "r", "[core]\n    autostage = true\n")
    assert dvc_adapter.default_remote(root) is None


def test_config_cache_dir_relative_to_dvc_folder_or_absolute(tmp_path: Path) -> None:
    root = _config(tmp_path / "r", "[cache]\n    dir = ../../shared-cache\n")
    assert dvc_adapter.cache_dir(root) == (tmp_path / "shared-cache").resolve()
    elsewhere = tmp_path / "abs-cache"
    _config(root, f"[cache]\ndir = {elsewhere}\n")
    assert dvc_adapter.cache_dir(root) == elsewhere


@pytest.mark.parametrize("text", ["[core\nremote = x\n", "remote = x\n", "[core]\nremote = x\n[core]\n"],
                         ids=["unclosed-section", "no-section", "duplicate-section"])
def test_config_unparsable_is_one_dvc_error(tmp_path: Path, text: str) -> None:
    root = _config(tmp_path, text)
    with pytest.raises(DvcError, match=r"^\.dvc/config cannot be parsed: "):
        dvc_adapter.default_remote(root)


def test_dvc_config_values_are_unquoted_as_configobj_reads_them(repo: Path) -> None:
    """`dvc config` quotes a value with a comma; DVC's reader drops the quotes, so mlv must too."""
    dvc(repo, "init", "-q")
    dvc(repo, "remote", "add", "-d", "store", str(repo.parent / "store,one"))
    dvc(repo, "config", "cache.type", "hardlink,copy")
    config = dvc_adapter.read_dvc_config(repo)
    assert config["cache"]["type"] == "hardlink,copy"
    assert dvc_adapter.remote_url(repo, "store") == str(repo.parent / "store,one")
