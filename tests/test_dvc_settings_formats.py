"""DVC's formats and config layers at the adapter level (fast; the end-to-end checks against real
`dvc` are in test_dvc_settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlv.adapters import dvc
from mlv.data.track import gitignore_escape
from mlv.errors import DvcError

MD5 = "0cdaadfe16c11f4f755677bbfa32f1b0"


@pytest.mark.parametrize(("name", "written"), [
    ("1e3", "'1e3'"), ("on", "on"), ("null", "'null'"), ("012", "'012'"), ("0x10", "'0x10'"),
    ("#hash.txt", "'#hash.txt'"), ("a b", "a b"), ("tr\\ail ", "'tr\\ail '"),
])
def test_pointer_path_is_quoted_exactly_where_dvc_quotes_it(name: str, written: str) -> None:
    # The spellings are those `dvc add` (DVC 3.67) wrote for files of these names.
    rendered = dvc.render_pointer(dvc.Pointer(name, MD5, 3)).decode()
    assert rendered == f"outs:\n- md5: {MD5}\n  size: 3\n  hash: md5\n  path: {written}\n"
    if "\\" not in name:  # a backslash is refused on reading (a Windows path separator)
        assert dvc.parse_pointer(rendered.encode(), f"{name}.dvc").path == name


@pytest.mark.parametrize("name", ["on", "yes", "off", "no", "1:20", "1_000", "true"])
def test_plain_scalars_dvc_writes_unquoted_are_read_as_strings(name: str) -> None:
    data = f"outs:\n- md5: {MD5}\n  size: 3\n  hash: md5\n  path: {name}\n".encode()
    assert dvc.parse_pointer(data, f"{name}.dvc").path == name


@pytest.mark.parametrize(("name", "entry"), [
    ("#hash.txt", "\\#hash.txt"), ("!bang", "\\!bang"), ("x*y", "x\\*y"), ("a[b]?", "a\\[b\\]\\?"),
    ("tr\\ail ", "tr\\\\ail "), ("plain.csv", "plain.csv"),
])
def test_gitignore_entries_are_escaped_as_dvc_escapes_them(name: str, entry: str) -> None:
    assert gitignore_escape(name) == entry


def test_a_pointer_without_md5_is_its_own_error() -> None:
    with pytest.raises(dvc.UnhashedPointerError, match=r"^sub/remote.csv.dvc pins no md5"):
        dvc.parse_pointer(b"outs:\n- hash: md5\n  path: remote.csv\n", "sub/remote.csv.dvc")


def test_a_dvc2_pointer_gets_hash_md5_appended_when_it_changes() -> None:
    old = f"outs:\n- md5: {MD5}\n  size: 3\n  path: f.txt\n".encode()
    assert dvc.render_pointer(dvc.Pointer("f.txt", MD5, 3), old) == old  # unchanged: kept byte for byte
    new = dvc.render_pointer(dvc.Pointer("f.txt", "ec1bebaea2c042beb68f7679ddd106a4", 8), old)
    assert new == b"outs:\n- md5: ec1bebaea2c042beb68f7679ddd106a4\n  size: 8\n  path: f.txt\n  hash: md5\n"


def test_an_import_is_never_rewritten() -> None:
    imported = (f"md5: 5ccc58db8bce62a9f0e6d5e6296f644f\nfrozen: true\ndeps:\n- md5: {MD5}\n  size: 3\n"
                f"  hash: md5\n  path: /data/src.txt\nouts:\n- md5: {MD5}\n  size: 3\n  hash: md5\n"
                "  path: imp.txt\n").encode()
    assert dvc.render_pointer(dvc.Pointer("imp.txt", MD5, 3), imported) == imported
    with pytest.raises(DvcError, match="imported data"):
        dvc.render_pointer(dvc.Pointer("imp.txt", "ec1bebaea2c042beb68f7679ddd106a4", 8), imported)


def test_objects_in_the_dvc2_layout_are_found_but_never_written_there(tmp_path: Path) -> None:
    legacy = tmp_path / MD5[:2] / MD5[2:]
    legacy.parent.mkdir()
    legacy.write_bytes(b"on\n")
    assert dvc.has_object(tmp_path, MD5)
    assert not dvc.has_object(tmp_path, MD5, legacy=False)
    assert dvc.object_path(tmp_path, MD5) == legacy
    dvc.store_manifest(tmp_path, "d751713988987e9331980363e24189ce.dir", b"[]")
    assert (tmp_path / "files" / "md5" / "d7" / "51713988987e9331980363e24189ce.dir").is_file()


def test_config_layers_override_in_dvcs_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system, user, root = tmp_path / "system", tmp_path / "global", tmp_path / "repo"
    for folder, text in ((system, "[core]\nremote = sys\n[cache]\ndir = sys-cache\n"),
                         (user, "[core]\nremote = mine\n['remote \"mine\"']\nurl = ../store\n"),
                         (root / ".dvc", "")):
        folder.mkdir(parents=True)
        (folder / "config").write_text(text)
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(system))
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(user))
    assert dvc.cache_dir(root) == (system / "sys-cache").resolve()  # relative to its own file's folder
    assert dvc.default_remote(root) == "mine"
    assert dvc.remote_url(root, "mine") == str(tmp_path / "store")
    (root / ".dvc" / "config.local").write_text("[cache]\ndir = ~/cache\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dvc.cache_dir(root) == (tmp_path / "home" / "cache").resolve()


def test_an_unreadable_global_config_is_one_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "global"
    user.mkdir()
    (user / "config").write_text("remote = x\n")
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(user))
    with pytest.raises(DvcError, match=r"global/config cannot be parsed: File contains no section headers\.$"):
        dvc.cache_dir(tmp_path / "repo")
