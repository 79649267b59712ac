"""Which browser origins may talk to the app: its own, and those named in ``OPSML_IMAGE_ALLOWED_ORIGINS``."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from opsml_image import config

__all__ = ["allowed_origins", "origin_allowed"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def allowed_origins() -> frozenset[str]:
    """``OPSML_IMAGE_ALLOWED_ORIGINS``: comma-separated origins (``https://labels.example.com``) a reverse
    proxy presents besides the Host the app sees; empty by default."""
    return frozenset(filter(None, (_normal(item) for item in config.settings().allowed_origins)))


def origin_allowed(origin: str | None, host: str | None, extra: Iterable[str] = ()) -> bool:
    """True for a request without ``Origin`` (not sent by a browser page), one from the app's own origin
    (the same host and port as the ``Host`` header), or one of ``extra``; False for every other page."""
    if origin is None:
        return True
    own = _normal(origin)
    if not own:
        return False  # "null" (a sandboxed frame, a file: page) or garbage
    if own in {_normal(item) for item in extra}:
        return True
    if not host:
        return False
    parts = urlsplit(own)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return _host_port(parts.hostname or "", port) == _host_header(host, parts.scheme)


def _normal(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, or "" when ``origin`` is not one."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return ""
    try:
        port = parts.port
    except ValueError:
        return ""
    netloc = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


def _host_header(host: str, scheme: str) -> str:
    parts = urlsplit(f"//{host.strip().lower()}")
    try:
        port = parts.port
    except ValueError:
        return "?"
    return _host_port(parts.hostname or "", port or _DEFAULT_PORTS.get(scheme, 0))


def _host_port(hostname: str, port: int) -> str:
    return f"{hostname}:{port}"
