"""Session tokens: a random id signed with the server secret (HMAC-SHA256); the database keeps its hash.

A token is ``<id>.<signature>``: 32 random bytes and their HMAC, both URL-safe base64. A forged or altered
token fails the signature check before any database look-up; a stolen database holds only SHA-256 hashes
of the ids, which open no session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["new_token", "token_id_hash", "new_secret"]


def new_secret() -> str:
    """A fresh server secret (64 random bytes, URL-safe base64)."""
    return secrets.token_urlsafe(64)


def new_token(secret: str) -> tuple[str, str]:
    """``(token, id hash)`` of a new session."""
    session_id = secrets.token_urlsafe(32)
    return f"{session_id}.{_sign(secret, session_id)}", _hash(session_id)


def token_id_hash(secret: str, token: str) -> str | None:
    """The id hash of a well-signed token, or None for anything else (never raises)."""
    session_id, dot, signature = token.partition(".") if isinstance(token, str) else ("", "", "")
    if not dot or not session_id or len(token) > 512:
        return None
    if not hmac.compare_digest(_sign(secret, session_id).encode(), signature.encode(errors="replace")):
        return None
    return _hash(session_id)


def _sign(secret: str, session_id: str) -> str:
    digest = hmac.new(secret.encode(), session_id.encode(errors="replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode(errors="replace")).hexdigest()
