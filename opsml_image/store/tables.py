"""Every table of the working store's database, the store's (``store_`` prefix) and review's (``review_``),
in one :data:`metadata` that :func:`~opsml_image.store.schema.create_schema` creates when a store opens.

The review tables are declared here so that they exist from the store's first opening (no table is made
lazily by a first save); their meaning and every statement on them belong to :mod:`opsml_image.review`.
Statements name columns through these objects (``IMAGE.c.version``), so a column is named once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

__all__ = [
    "metadata",
    "DATASET",
    "META",
    "IMAGE",
    "IMAGE_CATEGORY",
    "IMAGE_TOTAL",
    "CATEGORY_TOTAL",
    "TOMBSTONE",
    "CHANGE",
    "ISSUE",
    "ITEM",
    "EVENT",
    "FRONTIER",
]

metadata = sa.MetaData()


def _key_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("dataset", sa.Integer, primary_key=True),
        sa.Column("split_order", sa.Integer, primary_key=True),
        sa.Column("file_name", sa.Text, primary_key=True),
    ]


DATASET = sa.Table(
    "store_dataset",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.Text, nullable=False, unique=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
)

META = sa.Table(
    "store_meta",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

IMAGE = sa.Table(
    "store_image",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("split_order", sa.Integer, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("caption", sa.Text),
    sa.Column("search", sa.Text),  # casefolded caption, for the text filter
    sa.Column("categories", sa.Text, nullable=False, server_default="[]"),  # image-level ids (JSON)
    sa.Column("boxes", sa.Text, nullable=False, server_default="[]"),  # [[x, y, w, h, category(, extra)]]
    sa.Column("extra", sa.Text, nullable=False, server_default="{}"),  # other record keys (JSON object)
    sa.Column("n_boxes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("annotated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines", sa.Text, nullable=False, server_default="[]"),  # source lines in the metadata file
    sa.Column("first_line", sa.Integer),
    sa.Column("last_line", sa.Integer),
    sa.Column("dropped", sa.Integer, nullable=False, server_default="0"),  # malformed boxes merge() left out
    sa.Column("has_record", sa.Integer, nullable=False, server_default="1"),
    sa.Column("on_disk", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("dirty", sa.Integer, nullable=False, server_default="0"),
    sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("warnings", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ux_store_image_key", "dataset", "split_order", "file_name", unique=True),
    sa.Index("ix_store_image_annotated", "dataset", "annotated", "split_order", "file_name"),
    sa.Index(
        "ix_store_image_errors",
        "dataset",
        "split_order",
        "file_name",
        sqlite_where=sa.text("errors > 0"),
        postgresql_where=sa.text("errors > 0"),
    ),
    sa.Index(  # "dirty" is a column too, so the planner prefers it to the other indexes led by dataset
        "ix_store_image_dirty",
        "dataset",
        "dirty",
        "split_order",
        sqlite_where=sa.text("dirty = 1"),
        postgresql_where=sa.text("dirty = 1"),
    ),
    sa.Index("ix_store_image_last_line", "dataset", "split_order", "last_line"),
)

IMAGE_CATEGORY = sa.Table(
    "store_image_category",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("split_order", sa.Integer, primary_key=True),
    sa.Column("file_name", sa.Text, primary_key=True),
    sa.Column("category", sa.Integer, primary_key=True),
    sa.Column("n_boxes", sa.Integer, nullable=False),
    sa.Column("tagged", sa.Integer, nullable=False),
    # the category filter walks this index in key order (the primary key serves one image's rows)
    sa.Index("ix_store_image_category", "dataset", "category", "split_order", "file_name"),
    sqlite_with_rowid=False,
)

IMAGE_TOTAL = sa.Table(  # images per split and annotated, kept by the editing code in each transaction
    "store_image_total",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("split_order", sa.Integer, primary_key=True),
    sa.Column("annotated", sa.Integer, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

CATEGORY_TOTAL = sa.Table(
    "store_category_total",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("category", sa.Integer, primary_key=True),
    sa.Column("n_boxes", sa.Integer, nullable=False),
    sa.Column("images", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

TOMBSTONE = sa.Table(  # source lines of deleted records whose image file is missing (flush removes them)
    "store_tombstone",
    metadata,
    *_key_columns(),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("lines", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

CHANGE = sa.Table(
    "store_change",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("user", sa.Text),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_store_change_key", "dataset", "split", "file_name", "id"),
    sa.Index("ix_store_change_user", "dataset", "user", "id"),
    sqlite_autoincrement=True,  # ids are never reused: undo names them
)

ISSUE = sa.Table(
    "store_issue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("field", sa.Text),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text),
    sa.Column("split", sa.Text),
    sa.Index("ix_store_issue_code", "dataset", "code", "id"),
    sa.Index("ix_store_issue_key", "dataset", "split", "file_name"),
)


# ------------------------------------------------------------------------ review (see opsml_image.review)

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
