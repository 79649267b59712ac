"""The address of the client behind a request, for the log-in slow-down.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only from a trusted proxy
(``OPSML_IMAGE_TRUSTED_PROXIES``, :func:`opsml_image.config.trusted_proxies`). Each trusted proxy appends
the address of its own peer, so the client is the right-most address of the chain that is not a trusted
proxy; anything to its left was written by the client and is ignored.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence

__all__ = ["client_address"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The client's address: ``peer`` (the direct peer of the connection), unless ``peer`` is inside one of
    ``trusted_proxies`` (addresses or CIDR networks, IPv4 or IPv6): then the right-most address of
    ``forwarded_for`` (the ``X-Forwarded-For`` values, joined by commas) that is not a trusted proxy.

    If every address of the chain is a trusted proxy, the left-most one; an entry that is not an address
    ends the walk at the trusted hop to its right. Addresses come back in their normal form (IPv4-mapped
    IPv6 as IPv4); a peer that is not an address comes back as it is.
    """
    hop = _address(peer)
    if hop is None:
        return peer.strip() or "unknown"
    networks = _networks(tuple(trusted_proxies))
    if not forwarded_for or not _trusted(hop, networks):
        return str(hop)
    for entry in reversed(forwarded_for.split(",")):
        found = _address(entry)
        if found is None:
            break
        hop = found
        if not _trusted(hop, networks):
            break
    return str(hop)


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[_Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in trusted if item.strip())


def _trusted(address: _Address, networks: tuple[_Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def _address(text: str) -> _Address | None:
    """The address in ``text`` (``1.2.3.4``, ``1.2.3.4:80``, ``::1``, ``[::1]:80``), or None."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
