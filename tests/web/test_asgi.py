"""The guard middleware and the cookie routes, on a small Starlette app standing in for Streamlit."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from opsml_image.web import asgi, handoff


async def whoami(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.client.host if request.client else "")


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.client.host if websocket.client else "")
    await websocket.close()


def client(trusted: list[str] | None = None, base_url: str = "http://127.0.0.1:8501") -> TestClient:
    app = Starlette(
        routes=[*asgi.routes(), Route("/whoami", whoami, methods=["GET", "POST"]),
                WebSocketRoute("/_stcore/stream", stream)],  # fmt: skip
    )
    guarded = asgi.Guard(app, trusted=trusted or [], origins=frozenset())
    return TestClient(guarded, base_url=base_url, client=("127.0.0.1", 40000))


OWN = {"Origin": "http://127.0.0.1:8501"}
FOREIGN = {"Origin": "http://127.0.0.1:9999"}


def test_the_websocket_refuses_another_origin_and_takes_its_own() -> None:
    url = "ws://127.0.0.1:8501/_stcore/stream"
    with client().websocket_connect(url, headers=OWN) as ws:
        assert ws.receive_text() == "127.0.0.1"
    with pytest.raises(WebSocketDisconnect) as refused, client().websocket_connect(url, headers=FOREIGN):
        pass
    assert refused.value.code == 1008


def test_posts_from_another_origin_are_refused_reads_are_not() -> None:
    assert client().post("/whoami", headers=FOREIGN).status_code == 403
    assert client().post("/whoami", headers=OWN).status_code == 200
    assert client().get("/whoami", headers=FOREIGN).status_code == 200


def test_a_code_sets_an_http_only_cookie_once() -> None:
    code = handoff.issue("the-token", 3600)
    first = client().post(asgi.SESSION_URL, content=code, headers=OWN)
    assert first.status_code == 204
    cookie = first.headers["set-cookie"].lower()
    assert "opsml_session=the-token" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "path=/" in cookie and "max-age=3600" in cookie and "secure" not in cookie
    assert client().post(asgi.SESSION_URL, content=code, headers=OWN).status_code == 403  # used


def test_over_https_the_cookie_is_secure() -> None:
    code = handoff.issue("the-token", 60)
    answer = client(base_url="https://labels.example.com").post(
        asgi.SESSION_URL, content=code, headers={"Origin": "https://labels.example.com"}
    )
    assert answer.status_code == 204 and "secure" in answer.headers["set-cookie"].lower()


def test_a_foreign_page_cannot_redeem_a_code() -> None:
    code = handoff.issue("the-token", 60)
    assert client().post(asgi.SESSION_URL, content=code, headers=FOREIGN).status_code == 403
    assert handoff.redeem(code) is not None  # refused before it was looked at


def test_the_end_route_clears_the_cookie() -> None:
    answer = client().post(asgi.END_URL, headers=OWN)
    assert answer.status_code == 204
    assert 'opsml_session=""' in answer.headers["set-cookie"] or "max-age=0" in answer.headers["set-cookie"].lower()


def test_a_forged_forwarded_for_does_not_change_the_client() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert client().get("/whoami", headers=forged).text == "127.0.0.1"
    assert client(trusted=["127.0.0.1/32"]).get("/whoami", headers=forged).text == "203.0.113.9"
