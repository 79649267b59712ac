"""Configuration from environment variables, with embedded defaults under one working folder.

* ``OPSML_IMAGE_HOME``: the working folder (default: the user's data directory,
  ``platformdirs.user_data_dir("opsml-image")``, e.g. ``~/.local/share/opsml-image`` on Linux): the demo
  copy, the working stores, thumbnails, and the default registry and storage live here. Every process of
  the user meets the same folder whatever its current directory, so one dataset folder has one store.
* ``OPSML_IMAGE_STORE_URI``: the working store database (a SQLAlchemy URL, e.g. ``postgresql+psycopg://...``,
  shared by several app servers); default: one SQLite file per dataset folder under ``<home>/stores``.
* ``OPSML_TRACKING_URI``: the registry database (default ``sqlite:///<home>/registry.db``).
* ``OPSML_STORAGE_URI``: where registered data is stored, any fsspec URI (default ``<home>/storage``).
* ``OPSML_IMAGE_DIR``: the dataset the app opens (default: a working copy of the shipped demo).
* ``OPSML_IMAGE_TRUSTED_PROXIES``: the reverse proxies (addresses or CIDR networks, comma separated; default
  none) whose ``X-Forwarded-For`` names the client (:func:`opsml_image.auth.clients.client_address`).

The home is created private (0700): it holds the app database (password hashes, the session secret).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import platformdirs

__all__ = ["home", "store_uri", "tracking_uri", "storage_uri", "dataset_dir", "trusted_proxies"]


def home() -> Path:
    """The working folder, created on first use with mode 0700 (an existing folder keeps its mode)."""
    value = os.environ.get("OPSML_IMAGE_HOME") or platformdirs.user_data_dir("opsml-image")
    path = Path(value).expanduser().resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def store_uri() -> str | None:
    """The SQLAlchemy URL of a shared working-store database, if ``OPSML_IMAGE_STORE_URI`` names one."""
    return os.environ.get("OPSML_IMAGE_STORE_URI") or None


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


def trusted_proxies() -> list[str]:
    """The networks of ``OPSML_IMAGE_TRUSTED_PROXIES`` (comma separated addresses or CIDR networks; default
    none), in normal form; ValueError names an entry that is neither."""
    found = []
    for item in (os.environ.get("OPSML_IMAGE_TRUSTED_PROXIES") or "").split(","):
        if item.strip():
            try:
                found.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ValueError(
                    f"OPSML_IMAGE_TRUSTED_PROXIES: {item.strip()!r} is not an IP address or network"
                ) from None
    return found
