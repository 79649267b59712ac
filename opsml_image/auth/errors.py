"""The errors of accounts, log-in and permissions; each message is written for the person who sees it."""

from __future__ import annotations

__all__ = ["AccountError", "AuthError", "Forbidden", "OutsideRootsError"]


class AccountError(ValueError):
    """An account cannot be added or changed as asked (bad name, role, e-mail or password; unknown user)."""


class AuthError(Exception):
    """A log-in failed. The message never tells whether the user exists.

    ``retry_after`` is the number of seconds to wait before the next attempt is checked (0 if none).
    """

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Forbidden(PermissionError):
    """The user's role does not allow the action (or the path is outside every data root)."""


class OutsideRootsError(Forbidden):
    """A folder is outside every data root; the message is the same whether the folder exists or not."""
