"""Editing and history: one versioned edit of an image (save or record removal), the change it records,
and reading the history back.

Every edit states the version it edited (0: the image has no row yet); when the image's current
version differs, :class:`~opsml_image.store.errors.StaleEdit` is raised and nothing is stored. On
PostgreSQL the image row is locked (``FOR UPDATE``) for the transaction, so two servers saving one image
at once cannot both pass the check; a new image's row is protected by the unique key.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import issues
from opsml_image.store.errors import Key, StaleEdit
from opsml_image.store.reading import row as read_row
from opsml_image.store.rows import (
    ImageRow,
    category_rows,
    dumps,
    from_snapshot,
    normalised,
    row_category_rows,
    row_of,
    snapshot,
)
from opsml_image.store.schema import IMAGE, Scope
from opsml_image.store.stats import bump_image_totals, set_categories


@dataclass(frozen=True)
class Change:
    """One entry of the edit history: the image's state before and after (None = no record), the version
    the change made, and who made it."""

    id: int
    at: float
    key: Key
    action: str
    before: ImageAnnotation | None
    after: ImageAnnotation | None
    version: int
    user: str | None = None


_TOMB = sa.text(
    "SELECT lines, version FROM store_tombstone WHERE dataset = :d AND split_order = :o AND file_name = :n"
)
_TOMB_FOR_UPDATE = sa.text(
    "SELECT lines, version FROM store_tombstone WHERE dataset = :d AND split_order = :o AND file_name = :n "
    "FOR UPDATE"
)
_UPDATE_RECORD = sa.text(
    "UPDATE store_image SET caption = :caption, search = :search, categories = :categories, boxes = :boxes, "
    "extra = :extra, n_boxes = :n_boxes, annotated = :annotated, dropped = 0, has_record = :has_record, "
    "dirty = 1, version = :version WHERE id = :id"
)
_DELETE_TOMB = sa.text(
    "DELETE FROM store_tombstone WHERE dataset = :d AND split_order = :o AND file_name = :n"
)
_INSERT_TOMB = sa.text(
    "INSERT INTO store_tombstone (dataset, split_order, file_name, split, lines, version) "
    "VALUES (:d, :o, :n, :split, :lines, :version)"
)
_INSERT_CHANGE = sa.text(
    'INSERT INTO store_change (dataset, at, "user", split, file_name, action, before, after, version) '
    "VALUES (:d, :at, :user, :split, :n, :action, :before, :after, :version) RETURNING id"
)
_CHANGE_COLUMNS = 'id, at, "user", split, file_name, action, before, after, version'


def edit(
    conn: Connection,
    scope: Scope,
    dataset: ImageDataset,
    key: Key,
    after: ImageAnnotation | None,
    expected_version: int,
    action: str,
    user: str | None,
) -> Change:
    """Set the image's annotation (``None`` removes its records) inside the caller's write transaction."""
    if type(expected_version) is not int or expected_version < 0:
        raise TypeError(
            f"expected_version must be the version the edit started from (int >= 0), got {expected_version!r}"
        )
    split, file_name = key
    order = scope.order(split)
    params = {"d": scope.dataset, "o": order, "n": file_name}
    row = read_row(conn, scope, key, for_update=True)
    tomb = None
    if row is None or (after is None and not row.on_disk):  # a tombstone's version or lines matter
        tomb_sql = _TOMB_FOR_UPDATE if conn.dialect.name == "postgresql" else _TOMB
        tomb = conn.execute(tomb_sql, params).first()
    current = row.version if row else (int(tomb[1]) if tomb else 0)
    if expected_version != current:
        raise StaleEdit(key, expected_version, current)
    if row is None and after is None:
        raise KeyError(f"no image {split}/{file_name} in the store")
    before = row.annotation() if row is not None and row.has_record else None
    version = current + 1
    totals: dict[tuple[int, int], int] = {}
    if row is not None:
        totals[(order, row.annotated)] = -1
    tomb_lines: list[int] = orjson.loads(tomb[0]) if tomb else []
    if after is not None:
        after = normalised(after, key)
        new = row_of(after, order, has_record=1, version=version, dirty=1)
        if row is not None:
            conn.execute(_UPDATE_RECORD, {**_content(new), "id": row.id})
        else:
            if tomb:
                conn.execute(_DELETE_TOMB, params)
            lines = sorted(tomb_lines)
            on_disk = int(dataset.image_path(split, file_name).is_file())
            fields = new._replace(lines=dumps(lines), first_line=min(lines, default=None),
                                  last_line=max(lines, default=None), on_disk=on_disk)._asdict()  # fmt: skip
            fields.pop("id")
            conn.execute(IMAGE.insert(), {"dataset": scope.dataset, **fields})
        totals[(order, new.annotated)] = totals.get((order, new.annotated), 0) + 1
    else:
        assert row is not None
        if row.on_disk:  # the image stays, as an image without a record; flush removes its lines
            empty = ImageAnnotation(file_name=file_name, split=split)
            conn.execute(
                _UPDATE_RECORD,
                {**_content(row_of(empty, order, has_record=0, version=version)), "id": row.id},
            )
            totals[(order, 0)] = totals.get((order, 0), 0) + 1
        else:  # no file: the row goes, its lines wait in a tombstone for the flush
            lines = sorted(set(orjson.loads(row.lines)) | set(tomb_lines))
            if tomb:
                conn.execute(_DELETE_TOMB, params)
            conn.execute(_INSERT_TOMB, {**params, "split": split, "lines": dumps(lines), "version": version})
            conn.execute(sa.text("DELETE FROM store_image WHERE id = :id"), {"id": row.id})
    bump_image_totals(conn, scope, totals)
    old_categories = row_category_rows(row) if row is not None else {}
    set_categories(conn, scope, order, file_name, old_categories, category_rows(after))
    issues.recheck(conn, scope, dataset, key, after)
    at = time.time()
    change_id = conn.execute(
        _INSERT_CHANGE,
        {"d": scope.dataset, "at": at, "user": user, "split": split, "n": file_name, "action": action,
         "before": snapshot(before), "after": snapshot(after), "version": version},
    ).scalar_one()  # fmt: skip
    return Change(int(change_id), at, key, action, before, after, version, user)


def _content(r: ImageRow) -> dict[str, Any]:
    return {
        "caption": r.caption,
        "search": r.search,
        "categories": r.categories,
        "boxes": r.boxes,
        "extra": r.extra,
        "n_boxes": r.n_boxes,
        "annotated": r.annotated,
        "has_record": r.has_record,
        "version": r.version,
    }


def lock_rows(conn: Connection, scope: Scope, keys: Sequence[Key]) -> None:
    """On PostgreSQL, lock the rows of several images in key order (before editing them one by one), so two
    multi-image edits never wait for each other's rows crosswise."""
    if conn.dialect.name != "postgresql" or len(keys) < 2:
        return
    for split, file_name in sorted({(scope.order(s), n) for s, n in keys}):
        conn.execute(
            sa.text(
                "SELECT 1 FROM store_image WHERE dataset = :d AND split_order = :o AND file_name = :n "
                "FOR UPDATE"
            ),
            {"d": scope.dataset, "o": split, "n": file_name},
        )


def history(
    conn: Connection,
    scope: Scope,
    limit: int,
    key: Key | None = None,
    user: str | None = None,
    since: float | None = None,
) -> list[Change]:
    """The latest changes, newest first; of one image, one user, and/or at or after ``since`` (epoch s)."""
    conditions = ["dataset = :d"]
    params: dict[str, Any] = {"d": scope.dataset, "limit": max(0, limit)}
    if key is not None:
        conditions.append("split = :split AND file_name = :n")
        params.update(split=key[0], n=key[1])
    if user is not None:
        conditions.append('"user" = :user')
        params["user"] = user
    if since is not None:
        conditions.append("at >= :since")
        params["since"] = since
    sql = (
        f"SELECT {_CHANGE_COLUMNS} FROM store_change WHERE {' AND '.join(conditions)} "
        "ORDER BY id DESC LIMIT :limit"
    )
    return [_change(found) for found in conn.execute(sa.text(sql), params)]


def change(conn: Connection, scope: Scope, change_id: int) -> Change:
    """One history entry by id (``KeyError`` when the dataset has none of that id)."""
    found = conn.execute(
        sa.text(f"SELECT {_CHANGE_COLUMNS} FROM store_change WHERE dataset = :d AND id = :id"),
        {"d": scope.dataset, "id": change_id},
    ).first()
    if found is None:
        raise KeyError(f"no change {change_id}")
    return _change(found)


def _change(found: Sequence[Any]) -> Change:
    change_id, at, user, split, file_name, action, before, after, version = found
    key = (split, file_name)
    return Change(
        int(change_id), float(at), key, action, from_snapshot(before, key), from_snapshot(after, key),
        int(version), user,
    )  # fmt: skip
