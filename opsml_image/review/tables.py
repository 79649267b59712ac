"""The review tables, kept beside the working store's tables in its database (``review_`` prefix).

``review_item`` holds one row per image that review has touched (an image without a row is *unlabeled*):
its status, annotator, reviewer, lease, assignment and last decision. ``review_event`` is the history
(leases, saves, submissions, decisions, reopenings, corrections, assignments) the Team page and the export
read. Both are keyed by the store's dataset id, so several folders share one PostgreSQL database.
"""

from __future__ import annotations

import weakref
from enum import StrEnum

import sqlalchemy as sa
import xxhash
from sqlalchemy.engine import Engine

from opsml_image.store.errors import StoreError
from opsml_image.store.schema import reason, write_transaction

__all__ = ["Status", "ISSUE_TAGS", "ITEM", "EVENT", "FRONTIER", "ensure_tables"]


class Status(StrEnum):
    """Where an image is in review: ``unlabeled → in_progress → submitted → approved | rejected``."""

    UNLABELED = "unlabeled"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


#: The issue tags a rejection names (at least one).
ISSUE_TAGS: tuple[str, ...] = ("wrong class", "missing box", "loose box", "extra box")

metadata = sa.MetaData()

ITEM = sa.Table(
    "review_item",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("split_order", sa.Integer, primary_key=True),
    sa.Column("file_name", sa.Text, primary_key=True),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("annotator", sa.Text),
    sa.Column("reviewer", sa.Text),
    sa.Column("assigned_to", sa.Text),
    sa.Column("lease_user", sa.Text),
    sa.Column("lease_until", sa.Float, nullable=False, server_default="0"),  # epoch s; 0: no lease
    sa.Column("taken_from", sa.Text),  # whose expired lease the current holder took over
    sa.Column("started_at", sa.Float),  # this round's first lease or save (time per image)
    sa.Column("submitted_at", sa.Float),
    sa.Column("submitted_version", sa.Integer),  # the store version the reviewer must decide on
    sa.Column("decided_at", sa.Float),
    sa.Column("comment", sa.Text),
    sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
    sa.Column("n_boxes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rev", sa.Integer, nullable=False, server_default="1"),  # bumped by every status change
    sa.Index("ix_review_item_status", "dataset", "status", "lease_until"),
    sa.Index("ix_review_item_queue", "dataset", "status", "submitted_at", "split_order", "file_name"),
    sa.Index("ix_review_item_annotator", "dataset", "annotator", "status"),
    sa.Index("ix_review_item_assigned", "dataset", "assigned_to", "status"),
    sa.Index("ix_review_item_lease", "dataset", "lease_user"),
)

EVENT = sa.Table(
    "review_event",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("user", sa.Text, nullable=False),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),  # lease, start, submit, approve, reject, reopen, ...
    sa.Column("annotator", sa.Text),  # whose work a decision judged
    sa.Column("comment", sa.Text),
    sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
    sa.Column("seconds", sa.Float),  # time spent, on submit
    sa.Column("n_boxes", sa.Integer),
    sa.Index("ix_review_event_time", "dataset", "at"),
    sa.Index("ix_review_event_key", "dataset", "split", "file_name", "id"),
    sqlite_autoincrement=True,
)

FRONTIER = sa.Table(  # per user: where their hand-out of never-touched images goes on (keeps "next" O(1))
    "review_frontier",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("user", sa.Text, primary_key=True),  # one row per annotator: no lock shared between them
    sa.Column("annotated", sa.Integer, nullable=False),
    sa.Column("split_order", sa.Integer, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
)


def ensure_tables(engine: Engine) -> None:
    """Create the review tables in the store's database if missing (checked once per engine)."""
    if engine in _done:
        return
    try:  # a write transaction from its start: a SQLite reader turned writer would fail at once if another
        # connection wrote meanwhile ("database is locked", seen when two sessions open a folder together)
        with engine.connect() as conn, write_transaction(conn):
            if conn.dialect.name == "postgresql":
                key = xxhash.xxh3_64_intdigest(b"opsml-image-review/schema") - (1 << 63)
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            metadata.create_all(conn, checkfirst=True)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise StoreError(f"cannot create the review tables in {engine.url}: {reason(error)}") from None
    _done.add(engine)


_done: weakref.WeakSet[Engine] = weakref.WeakSet()
