"""A package's signature, made and checked by the OpenSSF `model-signing` library (the optional
extra `mlv-vcs[sign]`) with its offline key method: an elliptic-curve key pair in PEM files.

The signature (`model.sig`, a Sigstore bundle holding an in-toto statement of every file's sha256)
covers every file of the bundle, whatever module wrote it; only the signature file itself is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlv.errors import EXIT_CANNOT_RUN, MlvError

SIGNATURE = "model.sig"
_INSTALL = "Install the signing extra: pip install 'mlv-vcs[sign]'."


def _require_library() -> None:
    try:
        import model_signing  # noqa: F401 - only: is it installed?
    except ImportError:
        raise MlvError("signing or checking a package's signature needs the model-signing library, which is "
                       "not installed", hint=_INSTALL, exit_code=EXIT_CANNOT_RUN) from None


def _hashing_config() -> Any:
    from model_signing import hashing

    # Git's own paths are not special in a package: a smuggled .gitignore must be signed too.
    config = hashing.Config()  # type: ignore[no-untyped-call]
    return config.set_ignored_paths(paths=[SIGNATURE], ignore_git_paths=False)


def check_key(private_key: Path) -> None:
    """MlvError unless the library is installed and PRIVATE_KEY is a file."""
    _require_library()
    if not private_key.is_file():
        raise MlvError(f"the signing key {private_key} is not a file", hint="Pass a PEM private key: --key KEY.pem.")


def sign(folder: Path, private_key: Path) -> None:
    """Write FOLDER/model.sig over every other file of FOLDER, signed with PRIVATE_KEY (PEM)."""
    check_key(private_key)
    from model_signing import signing

    try:
        config = signing.Config()  # type: ignore[no-untyped-call]
        config.set_hashing_config(_hashing_config()).use_elliptic_key_signer(
            private_key=private_key).sign(folder, folder / SIGNATURE)
    except (ValueError, TypeError, OSError) as exc:
        raise MlvError(f"cannot sign with {private_key}: {str(exc)[:200]}",
                       hint="Pass an elliptic-curve private key in PEM (openssl ecparam -genkey -name prime256v1).")\
            from None


def problems(folder: Path, public_key: Path) -> list[str]:
    """[] when FOLDER/model.sig is a valid signature by PUBLIC_KEY's pair over exactly FOLDER's files."""
    _require_library()
    from model_signing import verifying

    if not (folder / SIGNATURE).is_file() or (folder / SIGNATURE).is_symlink():
        return [f"the package is not signed ({SIGNATURE} is missing)"]
    if not public_key.is_file():
        raise MlvError(f"the public key {public_key} is not a file", hint="Pass the signer's PEM public key: --key.")
    try:
        checker = verifying.Config()  # type: ignore[no-untyped-call]
        checker.use_elliptic_key_verifier(public_key=public_key).verify(folder, folder / SIGNATURE)
    except Exception as exc:  # noqa: BLE001 - the library raises many kinds; each means "does not verify"
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [f"the signature does not verify with {public_key.name}: {first[:200]}"]
    return []
