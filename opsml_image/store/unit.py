"""The unit of work of an edit: one transaction for the image row, its history, its issues and whatever a
*companion* writes beside them (the review board's status, with its edit rule).

An edit is prepared before the transaction opens (:func:`~opsml_image.store.editing.prepare`: no file is read
inside it). In the transaction: the image's row is read (locked on PostgreSQL), the companion's
:meth:`Companion.check` runs (it may lock or write its own rows, and raises to refuse the edit), the edit is
written (:func:`~opsml_image.store.editing.write`: :class:`~opsml_image.store.errors.StaleEdit` when the
image changed), then :meth:`Companion.write` with the change made. Whatever is raised on the way rolls all
of it back, so an image is never saved with a stale status, nor a status moved for an edit that was not
saved. Lock order on PostgreSQL: the dataset's row (shared), the image's row, the companion's rows.

The store knows nothing of review: a companion is any object with these two methods
(:class:`opsml_image.review.editing.StatusWriter` is the review board's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlalchemy.engine import Connection

from opsml_image.store import editing
from opsml_image.store.editing import Change, Prepared
from opsml_image.store.schema import Scope, lock_dataset

__all__ = ["Companion", "apply", "apply_with"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Companion(Protocol[T_co]):
    """Another concern's writes that commit or roll back with an edit."""

    def check(self, conn: Connection, edit: Prepared) -> None:
        """In the edit's transaction, before the image is read: raise to refuse the edit (rows read here may
        be locked, or written, for the transaction)."""

    def write(self, conn: Connection, change: Change) -> T_co:
        """In the edit's transaction, after the image's row, issues and history entry are written."""


def apply(
    conn: Connection, scope: Scope, edits: Sequence[tuple[Prepared, int]], action: str, user: str | None
) -> list[Change]:
    """Write prepared edits ``(prepared, expected_version)`` in the caller's write transaction (their rows
    locked in key order first, on PostgreSQL)."""
    lock_dataset(conn, scope, exclusive=False)
    editing.lock_rows(conn, scope, [prepared.key for prepared, _ in edits])
    return [editing.edit(conn, scope, prepared, expected, action, user) for prepared, expected in edits]


def apply_with(
    conn: Connection,
    scope: Scope,
    companion: Companion[T],
    prepared: Prepared,
    expected_version: int,
    action: str,
    user: str | None,
) -> tuple[Change, T]:
    """Write one prepared edit with its companion in the caller's write transaction: the image read (its row
    locked on PostgreSQL, after the dataset's row, shared), the companion's check (its rows locked next), the
    edit written, the companion's write. Returns the change and what the companion's write returned."""
    lock_dataset(conn, scope, exclusive=False)
    found = editing.read(conn, scope, prepared.key)
    companion.check(conn, prepared)
    change = editing.write(conn, scope, prepared, found, expected_version, action, user)
    return change, companion.write(conn, change)
