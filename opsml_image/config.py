"""Configuration from environment variables, with embedded defaults under one working folder.

* ``OPSML_IMAGE_HOME``: the working folder (default ``./.work``): the demo copy, the working store,
  thumbnails, and the default registry and storage live here.
* ``OPSML_TRACKING_URI``: the registry database (default ``sqlite:///<home>/registry.db``).
* ``OPSML_STORAGE_URI``: where registered data is stored, any fsspec URI (default ``<home>/storage``).
* ``OPSML_IMAGE_DIR``: the dataset the app opens (default: a working copy of the shipped demo).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["home", "tracking_uri", "storage_uri", "dataset_dir"]


def home() -> Path:
    """The working folder, created on first use."""
    path = Path(os.environ.get("OPSML_IMAGE_HOME") or ".work").expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def tracking_uri() -> str:
    """The SQLAlchemy URL of the registry database."""
    return os.environ.get("OPSML_TRACKING_URI") or f"sqlite:///{home() / 'registry.db'}"


def storage_uri() -> str:
    """The fsspec URI (or local path) of the artifact storage."""
    return os.environ.get("OPSML_STORAGE_URI") or str(home() / "storage")


def dataset_dir() -> Path | None:
    """The dataset folder named by ``OPSML_IMAGE_DIR``, if any."""
    value = os.environ.get("OPSML_IMAGE_DIR")
    return Path(value).expanduser().resolve() if value else None
