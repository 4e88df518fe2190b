"""The one way mlv keeps a speed-up on disk (under `.git/mlv/`): read tolerantly, write atomically.

Every persistent cache (the stat cache, trusted cache objects, the git hooks' cache, captured
environments) only saves work. So a missing, damaged, other-version or unwritable file costs the
work it saved and never fails a command. Builtins only (marshal), because the hook runtime loads
its cache on every commit; the JSON codec imports json when it is used.
"""

from __future__ import annotations

import marshal
import os

TYPE_CHECKING = False  # typing costs milliseconds to import in the hooks; mypy still reads this
if TYPE_CHECKING:
    from typing import Any, Literal

    Codec = Literal["json", "marshal"]


def read(path: str | os.PathLike[str], version: int, codec: Codec = "json") -> dict[str, Any] | None:
    """The document saved at PATH with VERSION, or None when there is none usable."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if codec == "marshal":
            doc = marshal.loads(raw)  # noqa: S302 - our own file in .git, which can run hooks anyway
        else:
            import json

            doc = json.loads(raw)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if isinstance(doc, dict) and doc.get("version") == version:
        return doc
    return None


def write(path: str | os.PathLike[str], doc: dict[str, Any], version: int, codec: Codec = "json") -> bool:
    """Save DOC (with VERSION) at PATH atomically; False when it could not be saved."""
    payload = {**doc, "version": version}
    if codec == "marshal":
        data = marshal.dumps(payload)
    else:
        import json

        data = json.dumps(payload).encode("utf-8")
    target = os.fspath(path)
    tmp = f"{target}.tmp-{os.getpid()}"  # per process: two writers never share a temp file
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except OSError:
        # A full disk or a read-only .git: only the speed-up is lost.
        try:  # noqa: SIM105 - contextlib is not a builtin; the hooks avoid importing it
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True
