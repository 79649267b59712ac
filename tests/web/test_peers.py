"""The client address of a request: X-Forwarded-For only from trusted proxies, uvicorn's rewrite undone."""

from __future__ import annotations

from typing import Any

import pytest

from opsml_image.web.peers import client_of


def scope(client: str, *forwarded: str) -> dict[str, Any]:
    return {"client": (client, 5555), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


@pytest.fixture(autouse=True)
def _uvicorn_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)


def test_without_a_header_the_peer_is_the_client() -> None:
    assert client_of(scope("10.1.2.3"), []) == "10.1.2.3"
    assert client_of(scope("::ffff:127.0.0.1"), []) == "127.0.0.1"


def test_a_forged_header_from_loopback_is_not_believed() -> None:
    # uvicorn believed the header from 127.0.0.1 and put 9.9.9.9 in the scope: undone
    assert client_of(scope("9.9.9.9", "9.9.9.9"), []) == "127.0.0.1"
    # a dual-stack socket: uvicorn did not believe it, nor do we
    assert client_of(scope("::ffff:127.0.0.1", "8.8.8.8"), []) == "127.0.0.1"
    # a remote peer's header is never believed
    assert client_of(scope("203.0.113.7", "1.2.3.4"), []) == "203.0.113.7"


def test_a_trusted_proxys_header_names_the_client() -> None:
    assert client_of(scope("9.9.9.9", "9.9.9.9"), ["127.0.0.1"]) == "9.9.9.9"
    assert client_of(scope("10.0.0.2", "198.51.100.4, 10.0.0.9"), ["10.0.0.0/8"]) == "198.51.100.4"


def test_an_explicit_uvicorn_setting_is_the_deployments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")
    assert client_of(scope("127.0.0.1", "9.9.9.9"), []) == "127.0.0.1"
