"""The one family of errors the use-case layer raises: :class:`UserError` and its kinds.

Every message is written for the person using the app and shown as it is, as text. A use case converts
the errors of the layers below at its edge (:func:`edge`, :func:`converted`), so a page catches nothing
else, and the app's one guard (``pages/_widgets.guard``) shows them all.

* :class:`Refused`: not allowed (a role, a data root, a log-in, another store's folder). It is also a
  :class:`~opsml_image.auth.Forbidden` (a ``PermissionError``), so callers that catch that keep working.
* :class:`Stale`: what was read has changed since (someone saved or decided first); read it again.
* :class:`Invalid`: bad input; ``item`` and ``reason`` say what is at fault and why where there is one
  (a format's item, a line); also a ``ValueError``.
* :class:`NotFound`: no such image, split, format, card, user or file; also a ``LookupError``.
* :class:`UserError` itself: anything else the person should read (the store or the registry cannot be
  used, a disk is full).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opsml_image.auth import AccountError, AuthError, Forbidden
from opsml_image.dataset import FolderMoved
from opsml_image.jsonl import MetadataError
from opsml_image.lines import LineChanged
from opsml_image.registry.errors import DatasetChangedError, RegistryError
from opsml_image.review import AlreadyDecided, ReviewError, StaleReview
from opsml_image.store import FolderClaimed, StaleEdit, StoreError
from opsml_image.validation import ValidationError

__all__ = [
    "UserError",
    "Refused",
    "Stale",
    "Invalid",
    "NotFound",
    "converted",
    "describe",
    "edge",
    "user_error",
]


class UserError(Exception):
    """An error whose message is meant for the person using the app (shown as it is, as text)."""


class Refused(UserError, Forbidden):
    """Not allowed: the user's role, a path outside the data roots, a failed log-in, a folder another
    store holds."""


class Stale(UserError):
    """What the action was based on changed since it was read (another save, decision or file change)."""


class Invalid(UserError, ValueError):
    """Bad input; ``item`` (the format's item, a field, a line) and ``reason`` where one is at fault."""

    def __init__(self, message: str, item: str | None = None, reason: str | None = None) -> None:
        Exception.__init__(self, message)  # not super(): a subclass may also be a FormatError
        self.item = item
        self.reason = reason if reason is not None else message


class NotFound(UserError, LookupError):
    """No such image, split, format, card, user or file."""


def describe(error: BaseException) -> str:
    """A one-line readable description of an exception."""
    if isinstance(error, FileNotFoundError):
        return f"file not found: {error.filename or error}"
    if isinstance(error, PermissionError) and not isinstance(error, Forbidden):
        return f"permission denied: {error.filename or error}"
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text.splitlines()[0] if len(text) > 400 else text


def user_error(error: BaseException, prefix: str = "") -> UserError | None:
    """The family member for an error of the library's own (a role refused, a stale edit, a store or
    registry that cannot be used, bad metadata, ...), its message after ``prefix``; a family error as it
    is; None for any other error, which may be a bug (the guard logs those)."""
    if isinstance(error, UserError):
        return error
    text = prefix + describe(error)
    if isinstance(error, Forbidden | AuthError | FolderClaimed):
        return Refused(text)
    if isinstance(error, StaleEdit | StaleReview | AlreadyDecided | LineChanged | DatasetChangedError):
        return Stale(text)
    if isinstance(error, RegistryError | StoreError | FolderMoved):  # a registry's name or card, too
        if isinstance(error, LookupError):
            return NotFound(text)
        return Invalid(text) if isinstance(error, ValueError) else UserError(text)
    if isinstance(error, AccountError | ReviewError | MetadataError | ValidationError):
        return Invalid(text, getattr(error, "item", None), getattr(error, "reason", None))
    return None


def converted(error: BaseException, prefix: str = "") -> UserError | None:
    """:func:`user_error`, and at a use case's edge also a plain error that there means the input or the
    disk: ``FileNotFoundError`` and ``LookupError`` (KeyError: no such split) as :class:`NotFound`,
    ``PermissionError`` as :class:`Refused`, ``ValueError`` as :class:`Invalid` (with a format's ``item``
    and ``reason``), another ``OSError`` as :class:`UserError`; None for anything else."""
    found = user_error(error, prefix)
    if found is not None:
        return found
    text = prefix + describe(error)
    if isinstance(error, FileNotFoundError | LookupError):
        return NotFound(text)
    if isinstance(error, PermissionError):
        return Refused(text)
    if isinstance(error, ValueError):
        return Invalid(text, getattr(error, "item", None), getattr(error, "reason", None))
    if isinstance(error, OSError):
        return UserError(text)
    return None


@contextmanager
def edge(prefix: str = "") -> Iterator[None]:
    """A use case's edge: errors from below leave it as the family (:func:`converted`), their message
    after ``prefix``; a family error passes as it is; anything else (a bug) passes unchanged."""
    try:
        yield
    except UserError:
        raise
    except Exception as error:
        found = converted(error, prefix)
        if found is None:
            raise
        raise found from error
