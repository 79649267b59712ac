"""Editing and history: one versioned edit of an image (save or record removal), the change it records,
and reading the history back.

An edit is made ready outside any transaction (:func:`prepare`: the annotation as it will be stored, the
image file looked at, the problems its re-check records), then, inside the caller's write transaction, its
image is read (:func:`read`: the row, locked on PostgreSQL, and the dataset's marks) and written
(:func:`write`: the row, its category rows and the kept totals, its issues, the history entry).

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

from opsml_image import rules
from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import issues
from opsml_image.store.errors import Key, StaleEdit, StillIndexing
from opsml_image.store.index import INDEXING
from opsml_image.store.reading import ROW_SELECT
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
from opsml_image.store.schema import IMAGE, META, Scope
from opsml_image.store.stats import bump_image_totals, set_categories
from opsml_image.store.tables import CHANGE, TOMBSTONE

__all__ = ["Change", "Prepared", "Found", "prepare", "read", "write", "edit", "lock_rows", "history",
           "change"]  # fmt: skip


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


@dataclass(frozen=True)
class Prepared:
    """An edit made ready outside the transaction: what will be stored and what the files said."""

    key: Key
    after: ImageAnnotation | None  # as stored (:func:`~opsml_image.store.rows.normalised`); None: no record
    on_disk: bool  # the image file is there (a new row's ``on_disk``)
    problems: tuple[rules.Problem, ...]  # what the image's re-check records (after a validation)
    label: str  # the split's metadata file, as issues name it


def prepare(dataset: ImageDataset, scope: Scope, key: Key, after: ImageAnnotation | None) -> Prepared:
    """Make an edit ready: the annotation normalised (``ValueError`` for a bad id or coordinate; ``KeyError``
    for an unknown split), the image file probed and ``categories.json`` read. No database access."""
    split, file_name = key
    scope.order(split)
    if after is not None:
        after = normalised(after, key)
    problems = issues.problems_of(dataset, key, after) if after is not None else []
    on_disk = dataset.image_path(split, file_name).is_file()
    return Prepared(key, after, on_disk, tuple(problems), dataset.split(split).metadata_label)


_KEY = (
    IMAGE.c.dataset == sa.bindparam("d"),
    IMAGE.c.split_order == sa.bindparam("o"),
    IMAGE.c.file_name == sa.bindparam("n"),
)


_META_KEY = (META.c.dataset == sa.bindparam("d"),)
#: The dataset's marks: is a first index under way (its progress), was a validation stored (re-check edits)?
_FLAGS = (
    sa.select(META.c.value).where(*_META_KEY, META.c.key == INDEXING).scalar_subquery().label("indexing_"),
    sa.exists().where(*_META_KEY, META.c.key == issues.VALIDATED).label("validated_"),
)
#: The image's row with the marks: one statement for what an edit reads (locked on PostgreSQL).
_ROW_AND_FLAGS = ROW_SELECT.add_columns(*_FLAGS).where(*_KEY)
_ROW_AND_FLAGS_LOCKED = _ROW_AND_FLAGS.with_for_update()
_FLAGS_ONLY = sa.select(*_FLAGS)
_TOMB_KEY = (
    TOMBSTONE.c.dataset == sa.bindparam("d"),
    TOMBSTONE.c.split_order == sa.bindparam("o"),
    TOMBSTONE.c.file_name == sa.bindparam("n"),
)
_TOMB = sa.select(TOMBSTONE.c.lines, TOMBSTONE.c.version).where(*_TOMB_KEY)
_TOMB_LOCKED = _TOMB.with_for_update()
_UPDATE_ROW = IMAGE.update().where(IMAGE.c.id == sa.bindparam("row_id"))  # SET: the parameters given
_DELETE_ROW = IMAGE.delete().where(IMAGE.c.id == sa.bindparam("row_id"))
_DELETE_TOMB = TOMBSTONE.delete().where(*_TOMB_KEY)
_INSERT_CHANGE = CHANGE.insert().returning(CHANGE.c.id)


@dataclass(frozen=True)
class Found:
    """What an edit reads of its image first (:func:`read`): its row, and the dataset's marks."""

    key: Key
    row: ImageRow | None
    indexing: tuple[int, int] | None  # a first index under way: (done, total)
    validated: bool  # a validation is stored: the edit re-checks the image


def read(conn: Connection, scope: Scope, key: Key) -> Found:
    """The image's row, locked for the transaction on PostgreSQL (so a hand-out passes it by), with the
    dataset's marks: one statement when the row exists."""
    params = {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1]}
    postgres = conn.dialect.name == "postgresql"
    found = conn.execute(_ROW_AND_FLAGS_LOCKED if postgres else _ROW_AND_FLAGS, params).first()
    if found is not None:
        row, (indexing, validated) = ImageRow(*found[:-2]), found[-2:]
    else:
        row, (indexing, validated) = None, conn.execute(_FLAGS_ONLY, {"d": scope.dataset}).one()
    under_way = None
    if indexing is not None:
        done, total = orjson.loads(indexing)
        under_way = (int(done), int(total))
    return Found(key, row, under_way, bool(validated))


def edit(
    conn: Connection, scope: Scope, prepared: Prepared, expected_version: int, action: str, user: str | None
) -> Change:
    """Read (:func:`read`) and write (:func:`write`) a prepared edit inside the caller's write transaction."""
    return write(conn, scope, prepared, read(conn, scope, prepared.key), expected_version, action, user)


def write(
    conn: Connection,
    scope: Scope,
    prepared: Prepared,
    found: Found,
    expected_version: int,
    action: str,
    user: str | None,
) -> Change:
    """Write a prepared edit of the image as ``found`` in this transaction: its row, category rows and totals,
    its issues (after a validation) and the history entry. :class:`StaleEdit` when the image is not at
    ``expected_version``; :class:`StillIndexing` while a first index is under way."""
    if type(expected_version) is not int or expected_version < 0:
        raise TypeError(
            f"expected_version must be the version the edit started from (int >= 0), got {expected_version!r}"
        )
    key, after = prepared.key, prepared.after
    assert found.key == key
    split, file_name = key
    order = scope.order(split)
    params = {"d": scope.dataset, "o": order, "n": file_name}
    if found.indexing is not None:  # its chunks would not see the edit
        raise StillIndexing(*found.indexing)
    row = found.row
    tomb = None
    if row is None or (after is None and not row.on_disk):  # a tombstone's version or lines matter
        tomb_sql = _TOMB_LOCKED if conn.dialect.name == "postgresql" else _TOMB
        tomb = conn.execute(tomb_sql, params).first()
    current = row.version if row else (int(tomb[1]) if tomb else 0)
    if expected_version != current:
        raise StaleEdit(key, expected_version, current)
    if row is None and after is None:
        raise KeyError(f"no image {split}/{file_name} in the store")
    before = row.annotation() if row is not None and row.has_record else None
    version = current + 1
    problems = prepared.problems if after is not None else ()
    counts: dict[str, int] = {}
    if found.validated:  # the image is re-checked: its counts go with its row
        counts["errors"], counts["warnings"] = issues.tally(problems)
    totals: dict[tuple[int, int], int] = {}
    if row is not None:
        totals[(order, row.annotated)] = -1
    tomb_lines: list[int] = orjson.loads(tomb[0]) if tomb else []
    if after is not None:
        new = row_of(after, order, has_record=1, version=version, dirty=1)
        if row is not None:
            conn.execute(_UPDATE_ROW, {**_content(new), **counts, "row_id": row.id})
        else:
            if tomb:
                conn.execute(_DELETE_TOMB, params)
            lines = sorted(tomb_lines)
            fields = new._replace(lines=dumps(lines), first_line=min(lines, default=None),
                                  last_line=max(lines, default=None),
                                  on_disk=int(prepared.on_disk))._asdict()  # fmt: skip
            fields.pop("id")
            conn.execute(IMAGE.insert(), {"dataset": scope.dataset, **fields, **counts})
        totals[(order, new.annotated)] = totals.get((order, new.annotated), 0) + 1
    else:
        assert row is not None
        if row.on_disk:  # the image stays, as an image without a record; flush removes its lines
            empty = ImageAnnotation(file_name=file_name, split=split)
            empty_row = row_of(empty, order, has_record=0, version=version)
            conn.execute(_UPDATE_ROW, {**_content(empty_row), **counts, "row_id": row.id})
            totals[(order, 0)] = totals.get((order, 0), 0) + 1
        else:  # no file: the row goes, its lines wait in a tombstone for the flush
            lines = sorted(set(orjson.loads(row.lines)) | set(tomb_lines))
            if tomb:
                conn.execute(_DELETE_TOMB, params)
            conn.execute(
                TOMBSTONE.insert(),
                {"dataset": scope.dataset, "split_order": order, "file_name": file_name, "split": split,
                 "lines": dumps(lines), "version": version},
            )  # fmt: skip
            conn.execute(_DELETE_ROW, {"row_id": row.id})
    bump_image_totals(conn, scope, totals)
    old_categories = row_category_rows(row) if row is not None else {}
    set_categories(conn, scope, order, file_name, old_categories, category_rows(after))
    if found.validated:  # rows are deleted only where there may be some (a new row: always)
        had = row is None or bool(row.errors or row.warnings)
        issues.replace(conn, scope, key, prepared.label, problems, had)
    at = time.time()
    change_id = conn.execute(
        _INSERT_CHANGE,
        {"dataset": scope.dataset, "at": at, "user": user, "split": split, "file_name": file_name,
         "action": action, "before": snapshot(before), "after": snapshot(after), "version": version},
    ).scalar_one()  # fmt: skip
    return Change(int(change_id), at, key, action, before, after, version, user)


def _content(r: ImageRow) -> dict[str, Any]:
    """What an edit sets on an existing row (the rest of its columns stay)."""
    return {
        "caption": r.caption,
        "search": r.search,
        "categories": r.categories,
        "boxes": r.boxes,
        "extra": r.extra,
        "n_boxes": r.n_boxes,
        "annotated": r.annotated,
        "dropped": 0,
        "has_record": r.has_record,
        "dirty": 1,
        "version": r.version,
    }


_LOCK_ROW = sa.select(IMAGE.c.id).where(*_KEY).with_for_update()


def lock_rows(conn: Connection, scope: Scope, keys: Sequence[Key]) -> None:
    """On PostgreSQL, lock the rows of several images in key order (before editing them one by one), so two
    multi-image edits never wait for each other's rows crosswise."""
    if conn.dialect.name != "postgresql" or len(keys) < 2:
        return
    for order, file_name in sorted({(scope.order(s), n) for s, n in keys}):
        conn.execute(_LOCK_ROW, {"d": scope.dataset, "o": order, "n": file_name})


_CHANGE_FIELDS = ("id", "at", "user", "split", "file_name", "action", "before", "after", "version")
_CHANGE_COLUMNS = [CHANGE.c[name] for name in _CHANGE_FIELDS]


def history(
    conn: Connection,
    scope: Scope,
    limit: int,
    key: Key | None = None,
    user: str | None = None,
    since: float | None = None,
) -> list[Change]:
    """The latest changes, newest first; of one image, one user, and/or at or after ``since`` (epoch s)."""
    query = sa.select(*_CHANGE_COLUMNS).where(CHANGE.c.dataset == scope.dataset)
    if key is not None:
        query = query.where(CHANGE.c.split == key[0], CHANGE.c.file_name == key[1])
    if user is not None:
        query = query.where(CHANGE.c.user == user)
    if since is not None:
        query = query.where(CHANGE.c.at >= since)
    found = conn.execute(query.order_by(CHANGE.c.id.desc()).limit(max(0, limit)))
    return [_change(r) for r in found]


def change(conn: Connection, scope: Scope, change_id: int) -> Change:
    """One history entry by id (``KeyError`` when the dataset has none of that id)."""
    found = conn.execute(
        sa.select(*_CHANGE_COLUMNS).where(CHANGE.c.dataset == scope.dataset, CHANGE.c.id == change_id)
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
