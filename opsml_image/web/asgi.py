"""The guard middleware and the session-cookie routes that ``app.py`` gives ``st.App``.

* :class:`Guard` refuses a WebSocket (``/_stcore/stream``) or a post whose ``Origin`` is not the app's own
  (:mod:`.origins`), and puts the real client address (:mod:`.peers`) into the request, where
  ``st.context.ip_address`` reads it.
* ``POST /_opsml/session`` (:func:`set_session`) takes a one-time code (:mod:`.handoff`) and answers with the
  session cookie: ``HttpOnly``, ``SameSite=Strict``, ``Path=/``, ``Secure`` over HTTPS (or with
  ``OPSML_IMAGE_COOKIE_SECURE=1`` behind a TLS proxy that does not say so).
* ``POST /_opsml/session/end`` (:func:`end_session`) clears that cookie (a log-out, or a token the server no
  longer knows).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from opsml_image import config
from opsml_image.web import handoff
from opsml_image.web.origins import allowed_origins, origin_allowed
from opsml_image.web.peers import client_of

__all__ = ["COOKIE", "SESSION_URL", "END_URL", "Guard", "middleware", "routes"]

log = logging.getLogger("opsml_image.web")

#: The cookie that keeps a session token over a reload.
COOKIE = "opsml_session"
SESSION_URL = "/_opsml/session"
END_URL = "/_opsml/session/end"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Guard:
    """ASGI middleware: foreign origins refused, the client address made true."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str] | None = None,
                 origins: frozenset[str] | None = None) -> None:  # fmt: skip
        self.app = app
        self.trusted = list(config.trusted_proxies() if trusted is None else trusted)
        self.origins = allowed_origins() if origins is None else origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope["client"] = (client_of(scope, self.trusted), 0)
        headers = _headers(scope)
        foreign = not origin_allowed(headers.get("origin"), headers.get("host"), self.origins)
        if foreign and (kind == "websocket" or scope.get("method", "GET") not in _SAFE_METHODS):
            log.warning("refused a %s to %s from origin %r", kind, scope.get("path"), headers.get("origin"))
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await Response("Forbidden: another origin", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers") or ():
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


async def set_session(request: Request) -> Response:
    """Redeem a code posted by the page for the ``HttpOnly`` session cookie."""
    code = (await request.body())[:256].decode("ascii", errors="replace").strip()
    found = handoff.redeem(code)
    if found is None:
        return Response("Unknown or used code", status_code=403)
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    _cookie(response, request, found.token, found.max_age)
    return response


async def end_session(request: Request) -> Response:
    """Clear the session cookie (the token itself is revoked by the log-out)."""
    response = Response(status_code=204, headers={"Cache-Control": "no-store"})
    _cookie(response, request, "", 0)
    return response


def _cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    secure = request.url.scheme == "https" or config.settings().cookie_secure
    response.set_cookie(COOKIE, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=secure)  # fmt: skip


def routes() -> list[Route]:
    """The session-cookie routes."""
    return [Route(SESSION_URL, set_session, methods=["POST"]), Route(END_URL, end_session, methods=["POST"])]


def middleware() -> list[Middleware]:
    """The guard, outermost of the app's own middleware."""
    return [Middleware(Guard)]
