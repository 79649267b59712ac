"""The client address behind a request: X-Forwarded-For only from a trusted proxy."""

from __future__ import annotations

import pytest

from opsml_image import config
from opsml_image.auth.clients import client_address

PROXIES = ["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"]


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.5", "198.51.100.1", [], "203.0.113.5"),  # no proxy trusted: the header is ignored
        ("203.0.113.5", "198.51.100.1", PROXIES, "203.0.113.5"),  # the peer is no trusted proxy
        ("127.0.0.1", "198.51.100.1", PROXIES, "198.51.100.1"),
        ("127.0.0.1", None, PROXIES, "127.0.0.1"),
        ("127.0.0.1", "", PROXIES, "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1", [], "127.0.0.1"),
        # the client wrote the left part: only the right-most untrusted address counts
        ("127.0.0.1", "6.6.6.6, 10.0.0.5, 203.0.113.9, 10.1.2.3", PROXIES, "203.0.113.9"),
        ("10.9.9.9", "1.1.1.1,  2.2.2.2", PROXIES, "2.2.2.2"),
        ("127.0.0.1", "10.0.0.7, 10.0.0.8", PROXIES, "10.0.0.7"),  # all trusted: the left-most
        ("127.0.0.1", "203.0.113.9, unknown", PROXIES, "127.0.0.1"),  # unreadable: the hop to its right
        ("127.0.0.1", "203.0.113.9, garbage, 10.0.0.4", PROXIES, "10.0.0.4"),
        ("127.0.0.1", "198.51.100.1:5555", PROXIES, "198.51.100.1"),  # a port is dropped
        ("127.0.0.1", "[2001:db8::7]:443", PROXIES, "2001:db8::7"),
        ("::1", "2001:DB8::7", PROXIES, "2001:db8::7"),  # IPv6, in normal form
        ("fd12::1", "2001:db8::7", PROXIES, "2001:db8::7"),
        ("2001:db8::1", "198.51.100.1", PROXIES, "2001:db8::1"),
        ("::ffff:127.0.0.1", "198.51.100.1", PROXIES, "198.51.100.1"),  # IPv4-mapped peer
        ("::ffff:203.0.113.5", None, [], "203.0.113.5"),
        ("127.0.0.1", "198.51.100.1", ["127.0.0.0/8"], "198.51.100.1"),
        ("127.0.0.2", "198.51.100.1", ["127.0.0.1"], "127.0.0.2"),  # one address is not its network
        ("", "198.51.100.1", PROXIES, "unknown"),
        ("not-an-ip", "198.51.100.1", PROXIES, "not-an-ip"),
    ],
)
def test_client_address(peer: str, forwarded: str | None, trusted: list[str], client: str) -> None:
    assert client_address(peer, forwarded, trusted) == client


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSML_IMAGE_TRUSTED_PROXIES", raising=False)
    assert config.trusted_proxies() == []
    monkeypatch.setenv("OPSML_IMAGE_TRUSTED_PROXIES", " 127.0.0.1, 10.0.0.0/8 ,,::1,fd00::1/8 ")
    trusted = config.trusted_proxies()
    assert trusted == ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]
    assert client_address("fd00::9", "198.51.100.1", trusted) == "198.51.100.1"
    monkeypatch.setenv("OPSML_IMAGE_TRUSTED_PROXIES", "127.0.0.1,proxy.local")
    with pytest.raises(ValueError, match="OPSML_IMAGE_TRUSTED_PROXIES: 'proxy.local' is not an IP address"):
        config.trusted_proxies()
