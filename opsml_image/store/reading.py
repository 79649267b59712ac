"""Reading the store: counts, pages, single images, positions and neighbours in a filtered view.

Every function takes an open connection (inside a transaction the caller holds) and the dataset's
:class:`~opsml_image.store.schema.Scope`. Pages walk the offset on the filter's keys alone (an index for
category (+ split), split and annotated), then fetch only the page's rows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.store.errors import Key
from opsml_image.store.filters import Filter, where
from opsml_image.store.rows import ImageRow
from opsml_image.store.schema import Scope
from opsml_image.store.tables import DATASET, IMAGE, IMAGE_TOTAL, TOMBSTONE

#: ``SELECT`` of an image's row, its columns in :class:`ImageRow` order.
ROW_SELECT = sa.select(*(IMAGE.c[name] for name in ImageRow._fields))
_KEY = (
    IMAGE.c.dataset == sa.bindparam("d"),
    IMAGE.c.split_order == sa.bindparam("o"),
    IMAGE.c.file_name == sa.bindparam("n"),
)
_ROW_BY_KEY = ROW_SELECT.where(*_KEY)
_ROW_BY_KEY_LOCKED = _ROW_BY_KEY.with_for_update()
_ROWS_BY_ID = ROW_SELECT.where(IMAGE.c.id.in_(sa.bindparam("ids", expanding=True)))
_DATASETS = sa.select(sa.func.count()).select_from(DATASET)
_VERSION = sa.union_all(
    sa.select(IMAGE.c.version).where(*_KEY),
    sa.select(TOMBSTONE.c.version).where(
        TOMBSTONE.c.dataset == sa.bindparam("d"),
        TOMBSTONE.c.split_order == sa.bindparam("o"),
        TOMBSTONE.c.file_name == sa.bindparam("n"),
    ),
)


def sole_dataset(conn: Connection) -> bool:
    """True when the SQLite database holds one dataset only (within this transaction's snapshot)."""
    return conn.dialect.name == "sqlite" and conn.execute(_DATASETS).scalar_one() == 1


def row(conn: Connection, scope: Scope, key: Key, for_update: bool = False) -> ImageRow | None:
    """One image's row (locked for the transaction on PostgreSQL when ``for_update``); None when absent."""
    statement = _ROW_BY_KEY_LOCKED if for_update and conn.dialect.name == "postgresql" else _ROW_BY_KEY
    found = conn.execute(statement, {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1]}).first()
    return ImageRow(*found) if found is not None else None


def version(conn: Connection, scope: Scope, key: Key) -> int:
    """The image's version (of its row, or of its tombstone); 0 when the store has no such image."""
    found = conn.execute(_VERSION, {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1]}).first()
    return int(found[0]) if found else 0


def count(conn: Connection, scope: Scope, f: Filter) -> int:
    """How many images match (from the kept totals when the filter is on category, or split/annotated)."""
    w = where(f, scope)
    if f.category is not None and f == Filter(category=f.category):
        sql = (
            "SELECT coalesce(sum(images), 0) FROM store_category_total "
            "WHERE dataset = :dataset AND category = :category"
        )
    elif f == Filter(
        split=f.split, annotated=f.annotated
    ):  # conditions on i.split_order and i.annotated only
        sql = f"SELECT coalesce(sum(n), 0) FROM store_image_total i WHERE {w.condition}"
    else:
        sql = f"SELECT count(*) FROM {w.source} WHERE {w.condition}"
    return int(conn.execute(sa.text(sql), w.params).scalar_one())


def page_ids(
    conn: Connection, scope: Scope, f: Filter, offset: int, limit: int
) -> list[tuple[int, str, str]]:
    """``(id, split, file_name)`` of one page in key order."""
    w = where(f, scope, sole_dataset(conn))
    sql = (
        "SELECT i.id, i.split, i.file_name FROM "
        f"(SELECT {w.k}.split_order, {w.k}.file_name FROM {w.source} WHERE {w.condition} "
        f"ORDER BY {w.order()} LIMIT :limit OFFSET :offset) p "
        "JOIN store_image i ON i.dataset = :dataset AND i.split_order = p.split_order "
        "AND i.file_name = p.file_name ORDER BY p.split_order, p.file_name"
    )
    params = {**w.params, "limit": max(0, limit), "offset": max(0, offset)}
    return [(r[0], r[1], r[2]) for r in conn.execute(sa.text(sql), params)]


def rows_by_id(conn: Connection, ids: list[int]) -> list[ImageRow]:
    """The rows of these ids, in the order given."""
    if not ids:
        return []
    by_id = {r.id: r for r in (ImageRow(*found) for found in conn.execute(_ROWS_BY_ID, {"ids": ids}))}
    return [by_id[i] for i in ids if i in by_id]


def position(conn: Connection, scope: Scope, key: Key, f: Filter) -> int:
    """The 0-based index of ``key`` among the filtered images (where it would be if it does not match)."""
    w = where(f, scope, sole_dataset(conn))
    sql = f"SELECT count(*) FROM {w.source} WHERE {w.condition} AND {w.compared('<')}"
    return int(conn.execute(sa.text(sql), {**w.params, "o": scope.order(key[0]), "n": key[1]}).scalar_one())


def neighbor(conn: Connection, scope: Scope, key: Key, f: Filter, step: int) -> Key | None:
    """The next (``step > 0``) or previous filtered image from ``key``; None at the end."""
    w = where(f, scope, sole_dataset(conn))
    op, direction = (">", "ASC") if step > 0 else ("<", "DESC")
    sql = (
        f"SELECT {w.k}.split_order, {w.k}.file_name FROM {w.source} WHERE {w.condition} AND "
        f"{w.compared(op)} ORDER BY {w.order(direction)} LIMIT 1"
    )
    found = conn.execute(sa.text(sql), {**w.params, "o": scope.order(key[0]), "n": key[1]}).first()
    return (scope.split_of(found[0]), found[1]) if found else None


def next_unlabeled(conn: Connection, scope: Scope, after: Key | None) -> Key | None:
    """The first image without boxes after ``after`` in key order, wrapping around; None if none."""
    first = (
        sa.select(IMAGE.c.split, IMAGE.c.file_name)
        .where(IMAGE.c.dataset == scope.dataset, IMAGE.c.annotated == 0)
        .order_by(IMAGE.c.split_order, IMAGE.c.file_name)
        .limit(1)
    )
    if after is not None:
        later = sa.tuple_(IMAGE.c.split_order, IMAGE.c.file_name) > sa.tuple_(
            sa.literal(scope.order(after[0])), sa.literal(after[1])
        )
        found = conn.execute(first.where(later)).first()
        if found:
            return (found[0], found[1])
    found = conn.execute(first).first()
    return (found[0], found[1]) if found else None


def progress(conn: Connection, scope: Scope) -> tuple[int, int]:
    """``(images with at least one box, all images)`` from the kept totals."""
    annotated, total = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(IMAGE_TOTAL.c.n * IMAGE_TOTAL.c.annotated), 0),
            sa.func.coalesce(sa.func.sum(IMAGE_TOTAL.c.n), 0),
        ).where(IMAGE_TOTAL.c.dataset == scope.dataset)
    ).one()
    return int(annotated), int(total)


def dirty_count(conn: Connection, scope: Scope) -> int:
    """Images with edits not yet flushed (deleted records of missing files included)."""
    count = sa.func.count()
    rows = conn.execute(sa.select(count).where(IMAGE.c.dataset == scope.dataset, IMAGE.c.dirty == 1))
    tombs = conn.execute(
        sa.select(count).where(TOMBSTONE.c.dataset == scope.dataset, TOMBSTONE.c.lines != "[]")
    )
    return int(rows.scalar_one()) + int(tombs.scalar_one())


def keys_where(conn: Connection, scope: Scope, condition: sa.ColumnElement[bool]) -> list[Key]:
    """The keys of the images meeting ``condition`` on ``store_image``, in key order."""
    found = conn.execute(
        sa.select(IMAGE.c.split, IMAGE.c.file_name)
        .where(IMAGE.c.dataset == scope.dataset, condition)
        .order_by(IMAGE.c.split_order, IMAGE.c.file_name)
    )
    return [(r[0], r[1]) for r in found]


#: Images with a record but no file on disk (as of the last index).
MISSING = sa.and_(IMAGE.c.has_record == 1, IMAGE.c.on_disk == 0)
#: Records that say nothing: no caption, categories or objects (not even malformed ones).
EMPTY = sa.and_(
    IMAGE.c.has_record == 1,
    IMAGE.c.n_boxes == 0,
    IMAGE.c.dropped == 0,
    sa.func.coalesce(IMAGE.c.caption, "") == "",
    IMAGE.c.categories == "[]",
)


def info(r: ImageRow) -> dict[str, Any]:
    """Store facts about an image: has_record, on_disk, dirty, errors, warnings, dropped, version."""
    return {
        "has_record": bool(r.has_record),
        "on_disk": bool(r.on_disk),
        "dirty": bool(r.dirty),
        "errors": r.errors,
        "warnings": r.warnings,
        "dropped": r.dropped,
        "version": r.version,
    }
