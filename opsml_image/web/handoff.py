"""One-time codes that hand a session token to the server's cookie route, so page scripts never hold it.

After a log-in the page gets a code (:func:`issue`), never the token; the browser posts the code to
``/_opsml/session`` and the answer sets the ``HttpOnly`` cookie (:func:`redeem` gives the token once). A
code lives :data:`TTL` seconds, in this server process: the WebSocket that issued it and the post that
redeems it reach the same server (several servers behind one address need sticky sessions for the
WebSocket anyway).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

__all__ = ["TTL", "Handoff", "issue", "redeem"]

#: Seconds a code may wait for its post.
TTL = 60.0
#: Codes kept at most (the oldest go first): a flood of log-ins cannot grow the table without bound.
LIMIT = 10_000


@dataclass(frozen=True)
class Handoff:
    """What a redeemed code carries: the token and how long the cookie keeps it."""

    token: str
    max_age: int


_codes: dict[str, tuple[float, Handoff]] = {}
_lock = threading.Lock()


def issue(token: str, max_age: int, now: float | None = None) -> str:
    """A fresh code for ``token`` (kept ``max_age`` seconds by the browser once redeemed)."""
    now = time.monotonic() if now is None else now
    code = secrets.token_urlsafe(32)
    with _lock:
        for old in [c for c, (at, _) in _codes.items() if now - at > TTL]:
            del _codes[old]
        while len(_codes) >= LIMIT:
            del _codes[next(iter(_codes))]
        _codes[code] = (now, Handoff(token, max_age))
    return code


def redeem(code: str, now: float | None = None) -> Handoff | None:
    """The handoff of ``code`` once, while it is fresh; None for an unknown, used or stale code."""
    now = time.monotonic() if now is None else now
    with _lock:
        found = _codes.pop(code, None) if isinstance(code, str) else None
    if found is None or now - found[0] > TTL:
        return None
    return found[1]
