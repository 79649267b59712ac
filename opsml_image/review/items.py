"""One image's review state as read from ``review_item``, the errors review raises, and the lease length."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image import config
from opsml_image.review.tables import EVENT, ITEM, Status
from opsml_image.store.errors import Key
from opsml_image.store.schema import Scope

__all__ = [
    "ReviewItem",
    "ReviewError",
    "AlreadyDecided",
    "StaleReview",
    "EditRefused",
    "lease_minutes",
    "read_item",
    "event",
]


class ReviewError(ValueError):
    """A review action that cannot be done as asked (the message says why)."""


class AlreadyDecided(ReviewError):
    """Another reviewer decided on the image first (or it is no longer waiting for review)."""


class StaleReview(ReviewError):
    """The image changed after it was submitted: the decision would judge something else."""


class EditRefused(ReviewError):
    """The edit rule (:mod:`opsml_image.review.editing`) refuses the edit: nothing was saved."""


def lease_minutes() -> float:
    """``OPSML_IMAGE_LEASE_MINUTES`` (default 15): how long a handed-out image waits for an idle annotator."""
    try:
        return config.settings().lease_minutes
    except ValueError as error:  # a bad setting, named with its value
        raise ReviewError(str(error)) from None


@dataclass(frozen=True)
class ReviewItem:
    """One image's review state; ``rev`` is what a decision must state (it changes with every status)."""

    key: Key
    status: Status
    annotator: str | None = None
    reviewer: str | None = None
    assigned_to: str | None = None
    lease_user: str | None = None
    lease_until: float = 0.0
    taken_from: str | None = None
    started_at: float | None = None
    submitted_at: float | None = None
    submitted_version: int | None = None
    decided_at: float | None = None
    comment: str | None = None
    tags: tuple[str, ...] = ()
    n_boxes: int = 0
    rev: int = 0

    def leased_to(self, now: float) -> str | None:
        """Who holds a live lease on the image at ``now`` (None when nobody)."""
        return self.lease_user if self.lease_user and self.lease_until > now else None

    @property
    def feedback(self) -> str | None:
        """The last rejection's comment while the image goes back to its annotator (None otherwise)."""
        if self.status in (Status.REJECTED, Status.IN_PROGRESS) and self.comment and self.reviewer:
            return self.comment
        return None


_FIELDS = ("split", "file_name", "status", "annotator", "reviewer", "assigned_to", "lease_user",
           "lease_until", "taken_from", "started_at", "submitted_at", "submitted_version", "decided_at",
           "comment", "tags", "n_boxes", "rev")  # fmt: skip
_COLUMNS = ", ".join(_FIELDS)
_READ = sa.select(*(ITEM.c[name] for name in _FIELDS)).where(
    ITEM.c.dataset == sa.bindparam("d"),
    ITEM.c.split_order == sa.bindparam("o"),
    ITEM.c.file_name == sa.bindparam("n"),
)
_READ_LOCKED = _READ.with_for_update()


def item_of(row: Any) -> ReviewItem:
    return ReviewItem(
        (row.split, row.file_name),
        Status(row.status),
        row.annotator,
        row.reviewer,
        row.assigned_to,
        row.lease_user,
        float(row.lease_until or 0),
        row.taken_from,
        row.started_at,
        row.submitted_at,
        row.submitted_version,
        row.decided_at,
        row.comment,
        tuple(json.loads(row.tags or "[]")),
        int(row.n_boxes or 0),
        int(row.rev),
    )


def read_item(conn: Connection, scope: Scope, key: Key, *, lock: bool = False) -> ReviewItem | None:
    """The image's row (``FOR UPDATE`` on PostgreSQL when ``lock``); None if review never touched it."""
    statement = _READ_LOCKED if lock and conn.dialect.name == "postgresql" else _READ
    row = conn.execute(statement, {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1]}).first()
    return item_of(row) if row is not None else None


def select_items(where: str, order: str | None = "split_order, file_name") -> str:
    """``SELECT`` of item columns with a condition (``:d`` is the dataset), in ``order`` (None: any)."""
    ordered = f" ORDER BY {order}" if order else ""
    return f"SELECT {_COLUMNS} FROM review_item WHERE dataset = :d AND {where}{ordered}"




def event(
    conn: Connection,
    scope: Scope,
    key: Key,
    at: float,
    user: str,
    action: str,
    *,
    annotator: str | None = None,
    comment: str | None = None,
    tags: tuple[str, ...] = (),
    seconds: float | None = None,
    n_boxes: int | None = None,
) -> None:
    """Record one review event."""
    conn.execute(
        EVENT.insert(),
        {
            "dataset": scope.dataset,
            "at": at,
            "user": user,
            "split": key[0],
            "file_name": key[1],
            "action": action,
            "annotator": annotator,
            "comment": comment,
            "tags": json.dumps(list(tags)),
            "seconds": seconds,
            "n_boxes": n_boxes,
        },
    )
