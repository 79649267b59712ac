"""The address a request really comes from, before or after uvicorn's own proxy-header rewrite.

uvicorn believes ``X-Forwarded-For`` from the hosts in ``FORWARDED_ALLOW_IPS`` (by default 127.0.0.1 and
::1) and replaces the ASGI ``client`` with the address the header names. Unless ``FORWARDED_ALLOW_IPS`` was
set on purpose, that lets any local process claim to be any client. :func:`client_of` undoes such a rewrite
(the peer was then one of uvicorn's trusted hosts: the loopback) and applies this app's own rule instead:
the header counts only from the proxies in ``OPSML_IMAGE_TRUSTED_PROXIES``
(:func:`opsml_image.auth.clients.client_address`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from opsml_image.auth.clients import client_address

__all__ = ["LOOPBACK", "client_of", "forwarded_for"]

LOOPBACK = "127.0.0.1"
#: The hosts uvicorn believes ``X-Forwarded-For`` from unless ``FORWARDED_ALLOW_IPS`` says otherwise.
_UVICORN_TRUSTED = frozenset({"127.0.0.1", "::1"})


def forwarded_for(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """Every ``X-Forwarded-For`` value of the request, joined as one chain; None without any."""
    values = [value.decode("latin-1") for name, value in headers if name.lower() == b"x-forwarded-for"]
    return ", ".join(values) if values else None


def client_of(scope: Mapping[str, Any], trusted_proxies: Sequence[str]) -> str:
    """The client address of an ASGI ``scope`` by this app's rule."""
    client = scope.get("client")
    seen = str(client[0]) if client else ""
    chain = forwarded_for(scope.get("headers") or ())
    if chain is None:
        return _plain(seen)
    peer = _peer_before_uvicorn(seen, chain)
    return client_address(peer, chain, trusted_proxies)


def _peer_before_uvicorn(seen: str, chain: str) -> str:
    """The direct peer: ``seen`` unless uvicorn rewrote it from ``chain`` (then a loopback address)."""
    # uvicorn's own variable (not a setting of this app): set on purpose, uvicorn's answer is the deployment's
    if "FORWARDED_ALLOW_IPS" in os.environ:
        return _plain(seen)
    host = _uvicorn_pick(chain)
    return LOOPBACK if host and host == seen else _plain(seen)


def _uvicorn_pick(chain: str) -> str:
    """The address uvicorn takes from ``chain`` with its default trusted hosts: the right-most entry that
    is not a loopback address, else the first (its port, if any, dropped)."""
    hosts = [_without_port(item.strip()) for item in chain.split(",")]
    for host in reversed(hosts):
        if host not in _UVICORN_TRUSTED:
            return host
    return hosts[0] if hosts else ""


def _without_port(value: str) -> str:
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    host, colon, port = value.rpartition(":")
    return host if colon and port.isdigit() and "." in host else value


def _plain(address: str) -> str:
    """An IPv4 address mapped into IPv6 (``::ffff:127.0.0.1``, as a dual-stack socket reports it) as IPv4."""
    return address[7:] if address.lower().startswith("::ffff:") and "." in address else address
