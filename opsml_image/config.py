"""Configuration: one frozen :class:`Settings` built from the environment, with defaults under one folder.

Every ``OPSML_IMAGE_*`` / ``OPSML_*`` variable the project reads is a field of :class:`Settings` (its variable
in the field's ``metadata["env"]``; README's "Configuration" table lists the same ones, a test checks it).
:func:`settings` returns the process's settings; modules read them when used, never at import time, and no
module outside this one reads ``os.environ`` for a project setting. :meth:`Settings.from_env` checks every
value: a bad one is one ``ValueError`` naming the variable and the value.

The working folder (``OPSML_IMAGE_HOME``, default the user's data directory,
``platformdirs.user_data_dir("opsml-image")``, e.g. ``~/.local/share/opsml-image`` on Linux) holds the demo
copy, the working stores, thumbnails, and the default registry and storage. Every process of the user meets
the same folder whatever its current directory, so one dataset folder has one store. :func:`home` creates it
private (0700): it holds the app database (password hashes, the session secret).
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

__all__ = [
    "Settings",
    "settings",
    "ENV_NAMES",
    "home",
    "store_uri",
    "tracking_uri",
    "storage_uri",
    "dataset_dir",
    "trusted_proxies",
]

_ORIGIN_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


# ---------------------------------------------------------------- parsers: (variable, raw value) -> value


def _path(name: str, raw: str) -> Path:
    try:
        return Path(raw).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as error:
        raise ValueError(f"{name}: {raw!r} is not a usable path ({error})") from None


def _text(name: str, raw: str) -> str:
    return raw


def _sql_url(name: str, raw: str) -> str:
    from sqlalchemy.engine import make_url  # imported when a URL is set: config stays light
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(raw)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", raw)  # never print a password
        raise ValueError(f"{name}: {shown!r} is not a SQLAlchemy URL (dialect+driver://...)") from None
    return raw


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number above 0, got {raw!r}")
    return value


def _session_hours(name: str, raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of hours, got {raw!r}") from None
    if not 0 < hours <= 24 * 366:
        raise ValueError(f"{name} must be between 0 and 8784, got {raw!r}")
    return hours


def _lease_minutes(name: str, raw: str) -> float:
    try:
        minutes = float(raw)
    except ValueError:
        minutes = math.nan
    if not math.isfinite(minutes):
        raise ValueError(f"{name} must be a number of minutes, not {raw!r}")
    if not minutes > 0:
        raise ValueError(f"{name} must be more than 0 minutes, not {raw!r}")
    return minutes


def _boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise ValueError(f"{name} must be 1 or 0 (true/false, yes/no, on/off), got {raw!r}")
    return value in _TRUE


def _paths(name: str, raw: str) -> tuple[Path, ...]:
    return tuple(Path(part).expanduser() for part in raw.split(os.pathsep) if part.strip())


def _networks(name: str, raw: str) -> tuple[str, ...]:
    found = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not an IP address or network") from None
    return tuple(found)


def _origins(name: str, raw: str) -> tuple[str, ...]:
    found = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        parts = urlsplit(item.lower())
        try:
            port = parts.port
        except ValueError:
            port = -1
        if (
            parts.scheme not in _ORIGIN_PORTS
            or not parts.hostname
            or port == -1
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(f"{name}: {item!r} is not an origin (scheme://host[:port])")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        found.append(f"{parts.scheme}://{host}" + (f":{port}" if port else ""))
    return tuple(found)


def _setting(env: str, parse: Callable[[str, str], Any], default: Any = None, **kw: Any) -> Any:
    """A :class:`Settings` field read from the variable ``env`` with ``parse`` (``default`` when unset)."""
    if callable(default):
        return dataclasses.field(default_factory=default, metadata={"env": env, "parse": parse}, **kw)
    return dataclasses.field(default=default, metadata={"env": env, "parse": parse}, **kw)


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("opsml-image")).resolve()


@dataclass(frozen=True)
class Settings:
    """The project's settings, one field per environment variable (``metadata["env"]``); an unset or blank
    variable keeps the default. ``None`` for a URI or folder means "the default under :func:`home`"."""

    #: Working folder: demo copy, stores, thumbnails, default registry and storage (resolved).
    home: Path = _setting("OPSML_IMAGE_HOME", _path, _default_home)
    #: Shared working-store and app database (SQLAlchemy URL); None: SQLite files under ``home``.
    store_uri: str | None = _setting("OPSML_IMAGE_STORE_URI", _sql_url, repr=False)
    #: The dataset folder the app opens (resolved); None: a working copy of the demo.
    dataset_dir: Path | None = _setting("OPSML_IMAGE_DIR", _path)
    #: Registry database (SQLAlchemy URL); None: ``sqlite:///<home>/registry.db``.
    tracking_uri: str | None = _setting("OPSML_TRACKING_URI", _sql_url, repr=False)
    #: Where registered data goes (fsspec URI or local path); None: ``<home>/storage``.
    storage_uri: str | None = _setting("OPSML_STORAGE_URI", _text)
    #: Pixels an image may declare; more is a decompression bomb.
    max_pixels: int = _setting("OPSML_IMAGE_MAX_PIXELS", _positive_int, 100_000_000)
    #: The longest metadata line accepted, in bytes.
    max_line_bytes: int = _setting("OPSML_IMAGE_MAX_LINE_BYTES", _positive_int, 8 << 20)
    #: The largest image the New dataset page accepts, in bytes.
    max_upload_bytes: int = _setting("OPSML_IMAGE_MAX_UPLOAD_BYTES", _positive_int, 20 << 20)
    #: The largest export offered as a browser download, in bytes.
    max_download_bytes: int = _setting("OPSML_IMAGE_MAX_DOWNLOAD_BYTES", _positive_int, 2 << 30)
    #: The most bytes a zip on the Import page may inflate to.
    max_archive_bytes: int = _setting("OPSML_IMAGE_MAX_ARCHIVE_BYTES", _positive_int, 4 << 30)
    #: The most entries a zip on the Import page may hold.
    max_archive_entries: int = _setting("OPSML_IMAGE_MAX_ARCHIVE_ENTRIES", _positive_int, 100_000)
    #: Folders (``os.pathsep`` separated) datasets may be opened or created in; (): the start folder and
    #: ``<home>/datasets``.
    data_roots: tuple[Path, ...] = _setting("OPSML_IMAGE_DATA_ROOTS", _paths, ())
    #: Signs session tokens; None: a secret made once and kept in the app database.
    secret: str | None = _setting("OPSML_IMAGE_SECRET", _text, repr=False)
    #: Reverse proxies (networks, normal form) whose ``X-Forwarded-For`` names the client.
    trusted_proxies: tuple[str, ...] = _setting("OPSML_IMAGE_TRUSTED_PROXIES", _networks, ())
    #: Further origins (``scheme://host[:port]``, lower case) whose pages may open the WebSocket.
    allowed_origins: tuple[str, ...] = _setting("OPSML_IMAGE_ALLOWED_ORIGINS", _origins, ())
    #: The session cookie is ``Secure`` even over plain HTTP (a TLS proxy that does not say so).
    cookie_secure: bool = _setting("OPSML_IMAGE_COOKIE_SECURE", _boolean, False)
    #: How long a log-in lasts, in hours (0 to 8784).
    session_hours: float = _setting("OPSML_IMAGE_SESSION_HOURS", _session_hours, 12.0)
    #: How long an image handed to an idle annotator stays theirs, in minutes.
    lease_minutes: float = _setting("OPSML_IMAGE_LEASE_MINUTES", _lease_minutes, 15.0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings ``environ`` sets (other keys ignored); one ValueError naming each bad variable and
        value."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for item in dataclasses.fields(cls):
            name = item.metadata["env"]
            raw = environ.get(name)
            if raw is None or not raw.strip():
                continue
            try:
                values[item.name] = item.metadata["parse"](name, raw)
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**values)


#: The variables :class:`Settings` reads, in field order.
ENV_NAMES: tuple[str, ...] = tuple(item.metadata["env"] for item in dataclasses.fields(Settings))
#: Besides :data:`ENV_NAMES`, what the defaults depend on (platformdirs and ``~`` read these).
_KEYED = (*ENV_NAMES, "HOME", "XDG_DATA_HOME")
_KEYED_BYTES = tuple(os.fsencode(name) for name in _KEYED)


def settings() -> Settings:
    """The process's settings, from ``os.environ``.

    Built once per distinct value of the variables read (a snapshot of them is the cache key): a steady
    process builds them once, and a test that changes the environment gets fresh settings on the next call.
    Relative paths are resolved against the current directory of the first call with that environment.
    A call costs about a microsecond: hot paths (:func:`opsml_image.images.probe`, per image) may call it.
    """
    return _settings_for(_snapshot())


def _snapshot() -> tuple[str | bytes | None, ...]:
    """The values of the variables read. On POSIX from the dict behind ``os.environ`` (bytes), where
    ``os.environ.get`` raises and catches a KeyError per unset variable (some 20 times slower)."""
    data = getattr(os.environ, "_data", None) if os.name == "posix" else None
    if isinstance(data, dict):
        return tuple(map(data.get, _KEYED_BYTES))
    return tuple(map(os.environ.get, _KEYED))


@functools.lru_cache(maxsize=16)
def _settings_for(snapshot: tuple[str | bytes | None, ...]) -> Settings:
    environ = {
        name: os.fsdecode(value)  # as os.environ decodes it
        for name, value in zip(_KEYED, snapshot, strict=True)
        if value is not None
    }
    return Settings.from_env(environ)


def home() -> Path:
    """The working folder, created on first use with mode 0700 (an existing folder keeps its mode)."""
    path = settings().home
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def store_uri() -> str | None:
    """The SQLAlchemy URL of a shared working-store database, if ``OPSML_IMAGE_STORE_URI`` names one."""
    return settings().store_uri


def tracking_uri() -> str:
    """The SQLAlchemy URL of the registry database."""
    return settings().tracking_uri or f"sqlite:///{home() / 'registry.db'}"


def storage_uri() -> str:
    """The fsspec URI (or local path) of the artifact storage."""
    return settings().storage_uri or str(home() / "storage")


def dataset_dir() -> Path | None:
    """The dataset folder named by ``OPSML_IMAGE_DIR``, if any."""
    return settings().dataset_dir


def trusted_proxies() -> list[str]:
    """The networks of ``OPSML_IMAGE_TRUSTED_PROXIES`` (comma separated addresses or CIDR networks; default
    none), in normal form; ValueError names an entry that is neither."""
    return list(settings().trusted_proxies)
