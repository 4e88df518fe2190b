"""Writing the report: all of it or nothing (a new file renamed over the old), never into `.git`."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from mlv.errors import MlvError

_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_target(target: Path, git_dirs: list[Path]) -> Path:
    """TARGET made absolute (its folder created when missing), or an MlvError when it is a folder
    or inside a git directory."""
    path = Path(os.path.abspath(target))
    folder = path.parent.resolve()
    for git_dir in git_dirs:
        if folder == git_dir or git_dir in folder.parents:
            raise MlvError(f"{target} is inside the repository's git directory; mlv report never writes there",
                           hint="Pick another path, e.g. -o report.html.")
    if path.is_dir() and not path.is_symlink():
        raise MlvError(f"{target} is a folder", hint="Give a file name, e.g. -o report.html.")
    if not folder.is_dir():  # `-o public/report.html` in a fresh CI job: make the folder, as a user would
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise MlvError(f"cannot create the folder of {target}: {exc.strerror or exc.__class__.__name__}",
                           hint="Pick another path, or create the folder first.") from None
    return folder / path.name


def write_atomically(path: Path, content: str) -> None:
    """CONTENT to PATH through a temporary file in the same folder: a reader sees the old page or
    the new one, never half of one, and a symlink at PATH is replaced, not followed."""
    tmp = path.with_name(f".{path.name}.mlv-tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, _NEW_FILE, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise MlvError(f"cannot write {path}: {exc.strerror or exc.__class__.__name__}",
                       hint="Check that the folder is writable and the disk not full, or pick another path.") from None
