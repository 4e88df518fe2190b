"""The environment probe reads each installed distribution as importlib.metadata does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlv.env import environment

# Headers end at the first blank line; a description that looks like headers changes nothing,
# nor does a folded header whose continuation line looks like one.
TRICKY_METADATA = """Metadata-Version: 2.1
name: Odd.Case_Name
VERSION:  2.0rc1
Summary: a summary folded
 Version: 9.9
Description-Content-Type: text/markdown

Name: impostor
Version: 0.0.1
"""


def _venv_with_distributions(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-I", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    wheel_style = site / "odd.case_name-2.0rc1.dist-info"
    wheel_style.mkdir()
    (wheel_style / "METADATA").write_text(TRICKY_METADATA)
    (wheel_style / "direct_url.json").write_text(json.dumps({"url": "file:///src/odd", "dir_info": {"editable": True}}))
    egg_style = site / "plain-1.0.egg-info"
    egg_style.mkdir()
    (egg_style / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: plain\nVersion: 1.0\n")
    (site / "nameless-1.0.dist-info").mkdir()  # no metadata at all: left out, as before
    return python


def test_the_probe_reads_names_and_versions_as_importlib_metadata_does(tmp_path: Path) -> None:
    python = _venv_with_distributions(tmp_path / "venv")
    packages = environment.capture(str(python), None).packages or []
    found = {p.name: p for p in packages}
    assert set(found) == {"Odd.Case_Name", "plain"}
    assert found["Odd.Case_Name"].version == "2.0rc1" and found["Odd.Case_Name"].editable
    assert found["Odd.Case_Name"].source == "file:///src/odd"
    assert found["plain"].version == "1.0" and found["plain"].source is None
    listing = ("import importlib.metadata as md, json; print(json.dumps(sorted("
               "[d.metadata['Name'], d.version] for d in md.distributions() if d.metadata['Name'])))")
    expected = subprocess.run([str(python), "-I", "-c", listing], capture_output=True, text=True,
                              check=True).stdout
    assert sorted([p.name, p.version] for p in packages) == json.loads(expected)


PLANTED = "ghp_S3CRETt0ken"


def test_credentials_in_a_direct_url_never_reach_the_lockfile(tmp_path: Path) -> None:
    """A package installed from a private index or repository with a token in its URL: pip keeps
    that URL in direct_url.json, and the committed lockfile must not."""
    python = _venv_with_distributions(tmp_path / "venv")
    site = next((tmp_path / "venv" / "lib").glob("python*/site-packages"))
    installed = {
        "private_vcs": {"url": f"https://user:{PLANTED}@git.example.com/team/private.git",
                        "vcs_info": {"vcs": "git", "commit_id": "a" * 40}},
        "private_archive": {"url": f"https://{PLANTED}@files.example.com/pkg-1.0.tar.gz?token={PLANTED}&v=2",
                            "archive_info": {}},
        "signed_wheel": {"url": f"https://bucket.s3.amazonaws.com/w.whl?X-Amz-Signature={PLANTED}"
                                f"&X-Amz-Credential={PLANTED}&X-Amz-Expires=60", "archive_info": {}},
        "over_ssh": {"url": "ssh://git@git.example.com/team/tool.git",
                     "vcs_info": {"vcs": "git", "commit_id": "b" * 40}},
    }
    for name, direct in installed.items():
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "direct_url.json").write_text(json.dumps(direct))
    lockfile = environment.render_lockfile(environment.capture(str(python), None)).decode()
    assert PLANTED not in lockfile
    assert f"private_vcs @ git+https://git.example.com/team/private.git@{'a' * 40}" in lockfile
    assert "private_archive @ https://files.example.com/pkg-1.0.tar.gz?v=2" in lockfile
    assert "signed_wheel @ https://bucket.s3.amazonaws.com/w.whl  #" in lockfile
    assert f"over_ssh @ git+ssh://git@git.example.com/team/tool.git@{'b' * 40}" in lockfile


def test_without_credentials_keeps_what_is_not_a_secret() -> None:
    assert environment.without_credentials("file:///src/odd") == "file:///src/odd"
    assert environment.without_credentials("https://h/p.whl#sha256=ab") == "https://h/p.whl#sha256=ab"
    assert environment.without_credentials("https://u:p@h/x?a=1&private_token=z") == "https://h/x?a=1"
    assert environment.without_credentials("ssh://git:pw@h/x") == "ssh://h/x"
