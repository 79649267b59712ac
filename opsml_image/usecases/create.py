"""Create a dataset folder from images uploaded in the browser (each checked; refused ones say why)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from opsml_image import config
from opsml_image.auth import LOCAL_ADMIN, Action, User
from opsml_image.confine import is_inside
from opsml_image.dataset import ImageDataset
from opsml_image.uploads import max_upload_bytes, save_upload
from opsml_image.usecases.access import check, creation_parent
from opsml_image.usecases.errors import Invalid, describe, edge

__all__ = ["Upload", "Created", "creation_folder", "default_parent", "create_dataset", "max_upload_bytes"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class Upload(Protocol):
    """An uploaded file: the name the browser sent and its bytes (Streamlit's ``UploadedFile`` is one)."""

    name: str

    def getvalue(self) -> bytes: ...


@dataclass(frozen=True)
class Created:
    """The new dataset folder, the image files saved into it and one reason per refused upload."""

    path: Path
    saved: list[str]
    refused: list[str]


def default_parent() -> Path:
    """Where new datasets go unless told otherwise: ``<home>/datasets``."""
    return config.home() / "datasets"


def creation_folder(roots: Sequence[Path]) -> Path:
    """Where New dataset and Import offer to create: ``<home>/datasets`` when it lies in one of the data
    ``roots``, else the first root."""
    default = os.path.realpath(default_parent())
    inside = any(is_inside(default, os.fspath(root)) for root in roots)
    return Path(default) if inside or not roots else roots[0]


def create_dataset(
    parent: Path,
    name: str,
    uploads: Sequence[Upload],
    classes: str = "",
    progress: Callable[[int, int], None] | None = None,
    *,
    user: User | None = LOCAL_ADMIN,
    roots: Sequence[Path] | None = None,
) -> Created:
    """Make ``parent/name`` with ``categories.json`` from ``classes`` (comma-separated) and the uploads.

    Refused with :class:`Invalid` before anything is written: a name that is not a plain folder name, a
    folder that exists and is not empty, a class listed twice, no upload. An upload that is not an
    acceptable image is left out, its reason (naming the file) in :attr:`Created.refused`.
    ``progress(done, total)`` counts the uploads. Admins only; with ``roots`` (the app's data roots)
    ``parent`` must lie inside one.
    """
    parent = creation_parent(user, parent, Action.CREATE_DATASET, roots) if roots is not None else parent
    check(user, Action.CREATE_DATASET)
    name = name.strip()
    if not _NAME.match(name):
        raise Invalid("Give the dataset a name of letters, digits, '.', '_' or '-' (at most 80, no spaces).")
    dest = Path(parent).expanduser().resolve() / name
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise Invalid(f"{dest} already exists and is not empty: choose another name.")
    names = [c.strip() for c in classes.split(",") if c.strip()]
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:
        raise Invalid(f"A class is listed twice: {', '.join(twice)}.")
    if not uploads:
        raise Invalid("Choose at least one image to upload.")
    with edge(f"The folder {dest} cannot be created: "):
        dataset = ImageDataset.create(dest)
        if names:
            dataset.set_category_names(names)
    saved: list[str] = []
    refused: list[str] = []
    for done, upload in enumerate(uploads, 1):
        try:
            saved.append(save_upload(dest, upload.name, upload.getvalue()).name)
        except ValueError as error:
            refused.append(describe(error))  # the reason names the file
        if progress:
            progress(done, len(uploads))
    return Created(dest, saved, refused)
