"""Permission denied, as an ordinary user meets it, in a suite that runs as root.

Root writes through permission bits, so `chmod 0o500` proves nothing in CI. Instead, mlv runs in a
process of its own with an audit hook (PEP 578) that refuses, with EACCES, every write under one
folder: creating or writing a file, making a folder, renaming into or out of it, deleting. Reads
stay allowed. The hook sees every such call of that process, whoever runs it, so the test fails
as root too when mlv's handling of a denied write breaks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import run_program

# Runs as `python -c CODE DENIED ARG...` (through the fork server when it is on): installs the hook,
# then mlv's own entry point with ARG... as its command line.
_DENY_WRITES = """
import errno, os, sys
denied = os.path.realpath(sys.argv[1])
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

def _inside(path):
    if not isinstance(path, (str, bytes, os.PathLike)):
        return False
    folder = os.path.realpath(os.path.dirname(os.path.abspath(os.fsdecode(path))))
    return folder == denied or folder.startswith(denied + os.sep)

def _refuse(event, args):
    if event == "open":
        hit = args[2] is not None and args[2] & WRITES and _inside(args[0])
    elif event == "os.rename":
        hit = _inside(args[0]) or _inside(args[1])
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.chmod", "os.utime", "os.symlink", "os.link"):
        hit = _inside(args[0]) or (event in ("os.symlink", "os.link") and _inside(args[1]))
    else:
        return
    if hit:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(args[0]))

sys.addaudithook(_refuse)
from mlv.cli.app import main
sys.argv = ["mlv", *sys.argv[2:]]
main()
"""


def mlv_denied_writes(cwd: Path, denied: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mlv ARGS` in CWD, where every write under DENIED fails with EACCES (even for root)."""
    return run_program("python", ["-c", _DENY_WRITES, str(denied), *args], cwd)
