"""Data roots: the only folders (and their sub-folders) the app may open or create datasets in.

``OPSML_IMAGE_DATA_ROOTS`` lists them, separated by ``os.pathsep`` (``:`` on Linux). Without it the roots
are the dataset folder given at start (``OPSML_IMAGE_DIR``, or the ``start`` argument) and
``<home>/datasets``. A path is checked after every symbolic link is resolved, and a refusal reads the same
whether the path exists or not, so the check is no oracle for the server's files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from opsml_image.auth.errors import Forbidden, OutsideRootsError
from opsml_image.config import dataset_dir, home, settings
from opsml_image.confine import is_inside, kind_of

__all__ = ["data_roots", "resolve_in_roots"]


def data_roots(start: str | Path | None = None) -> list[Path]:
    """The data roots, resolved (symlinks followed), without duplicates, in the order given."""
    given: list[str | Path] = list(settings().data_roots)
    if not given:
        first = start if start is not None else dataset_dir()
        given = [p for p in (first, home() / "datasets") if p is not None]
    roots: list[Path] = []
    for item in given:
        real = Path(os.path.realpath(Path(item).expanduser()))
        if real not in roots:
            roots.append(real)
    return roots


def resolve_in_roots(path: str | Path, roots: list[Path] | None = None) -> Path:
    """The real path of ``path`` if it lies inside a data root, else :class:`OutsideRootsError`.

    A relative path is taken relative to the first root. A path that exists must be a folder or a regular
    file: FIFOs, sockets and devices are refused with :class:`Forbidden`.
    """
    roots = data_roots() if roots is None else roots
    allowed = ", ".join(str(root) for root in roots) or "none configured"
    refusal = f"{_shown(path)} is not inside a data root (allowed: {allowed})"
    try:
        given = Path(path).expanduser()
        if not given.is_absolute() and roots:
            given = roots[0] / given
        real = os.path.realpath(given)
    except (ValueError, OSError, RuntimeError):  # a NUL byte, a name too long, a link loop
        raise OutsideRootsError(refusal) from None
    if not any(is_inside(real, os.fspath(root)) for root in roots):
        raise OutsideRootsError(refusal)
    try:
        mode = os.stat(real).st_mode
    except OSError:
        return Path(real)  # not there yet: it may be created
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise Forbidden(f"{_shown(path)} is {kind_of(mode)}: only folders and files can be opened")
    return Path(real)


def _shown(path: str | Path) -> str:
    text = os.fspath(path)
    return text.replace("\x00", "\\u0000") if isinstance(text, str) else repr(text)
