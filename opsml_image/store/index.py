"""Reading a dataset folder into the store: its stamps, its records and image files as rows, the bulk load.

:func:`_read_folder` streams every split into ``image`` and ``image_category`` rows; :func:`_load` replaces
the index with them (keeping versions). The stamps (sizes and mtimes of the metadata files and split folders)
tell :meth:`WorkStore.sync <opsml_image.store.WorkStore.sync>` whether the folder changed since.
"""

from __future__ import annotations

import os
import posixpath
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from opsml_image import rules
from opsml_image.annotation import ImageAnnotation, merge
from opsml_image.dataset import ImageDataset
from opsml_image.store.rows import _category_counts, _columns, _decoded, _dumps
from opsml_image.store.schema import _read_meta, _write_meta

_LOAD_COLUMNS = (
    "split, split_order, file_name, caption, search, categories, boxes, extra, n_boxes, annotated, lines, "
    "first_line, last_line, dropped, has_record, on_disk"
)
_KNOWN_KEYS = frozenset(("file_name", "caption", "categories", "objects"))
_OBJECT_KEYS = frozenset(("bbox", "categories"))


def _stat(path: Path, size: bool = True) -> list[int] | int | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns] if size else st.st_mtime_ns


def _stamps(dataset: ImageDataset) -> dict[str, Any]:
    """``(size, mtime_ns)`` of every metadata file and the ``mtime_ns`` of every split folder."""
    stamps: dict[str, Any] = {}
    for name, split in dataset.splits.items():
        stamps[f"meta:{name}"] = _stat(split.metadata_path)
        stamps[f"dir:{name}"] = _stat(split.directory, size=False)
    return stamps


def _stored_stamps(db: sqlite3.Connection) -> dict[str, Any]:
    """The stamps the store last took (``meta.stamps``; empty before the first index)."""
    return orjson.loads(_read_meta(db, "stamps") or "{}")


def _save_stamps(db: sqlite3.Connection, stamps: dict[str, Any]) -> None:
    _write_meta(db, "stamps", _dumps(stamps))


def _keep_dir_stamps(db: sqlite3.Connection, dataset: ImageDataset, before: dict[str, Any]) -> None:
    """After a change of our own to split folders: take their new stamps if ``before`` was up to date."""
    stored = _stored_stamps(db)
    current = _stamps(dataset)
    for key, value in before.items():
        if key.startswith("dir:") and stored.get(key) == value:
            stored[key] = current[key]
    _save_stamps(db, stored)


def _restamp_dirs(db: sqlite3.Connection, dataset: ImageDataset, splits: Iterable[str]) -> None:
    """Record the current stamps of split folders we changed ourselves (an upload), whether or not they were
    current before: the files are written before the store hears of them, so there is no "before" to check."""
    stored = _stored_stamps(db)
    for split in splits:
        stored[f"dir:{split}"] = _stat(dataset.split(split).directory, size=False)
    _save_stamps(db, stored)


def _read_folder(
    dataset: ImageDataset, split_orders: dict[str, int]
) -> tuple[list[list[Any]], list[tuple[int, int, str, int, int]]]:
    """Stream every split's records and image files into image rows and image_category rows.

    A clean record (the common case) becomes a row directly; a malformed one, or a second record of
    the same image, goes through :func:`~opsml_image.annotation.merge` semantics.
    """
    rows: list[list[Any]] = []
    for name in dataset.splits:
        order = split_orders[name]
        index: dict[str, int] = {}  # file_name -> its row, in this split
        for item in dataset.iter_records(name):
            line, value = item.line, item.record
            at = index.get(value["file_name"])
            if at is None:
                index[value["file_name"]] = len(rows)
                rows.append(
                    _quick_row(line, value, name, order) or _load_row(merge([(line, value)], name), order)
                )
            else:  # several records for one image: fold this one into what came before
                previous = _annotation_from_load_row(rows[at], name)
                rows[at] = _load_row(_fold(previous, merge([(line, value)], name)), order)
        names = {posixpath.normpath(file_name.replace("\\", "/")): at for file_name, at in index.items()}
        for _, relative in dataset.image_files(name):
            at = names.get(relative)
            if at is not None:
                rows[at][15] = 1
            else:
                rows.append(
                    [name, order, relative, None, None, "[]", "[]", "{}", 0, 0, "[]", None, None, 0, 0, 1]
                )
    categories: list[tuple[int, int, str, int, int]] = []
    for row in rows:
        if row[8] or row[5] != "[]":
            boxes = [b[4] for b in orjson.loads(row[6])] if row[8] else ()
            for category, (n, t) in _category_counts(boxes, orjson.loads(row[5])).items():
                categories.append((category, row[1], row[2], n, t))
    return rows, categories


def _load(
    db: sqlite3.Connection, rows: list[list[Any]], categories: list[tuple[int, int, str, int, int]]
) -> None:
    """Replace the index with freshly read rows, keeping versions (bumped where the content changed)."""
    if db.execute("SELECT 1 FROM image LIMIT 1").fetchone() is None:  # a new store: plain bulk insert
        db.executemany(f"INSERT OR REPLACE INTO image ({_LOAD_COLUMNS}) VALUES ({', '.join('?' * 16)})", rows)
        _load_categories(db, categories)
        return
    db.execute("DROP TABLE IF EXISTS temp.fresh")
    db.execute(
        "CREATE TEMP TABLE fresh (split TEXT, split_order INTEGER, file_name TEXT, caption TEXT, "
        "search TEXT, categories TEXT, boxes TEXT, extra TEXT, n_boxes INTEGER, annotated INTEGER, "
        "lines TEXT, "
        "first_line INTEGER, last_line INTEGER, dropped INTEGER, has_record INTEGER, on_disk INTEGER, "
        "PRIMARY KEY (split_order, file_name)) WITHOUT ROWID"
    )
    db.executemany(
        "INSERT OR REPLACE INTO fresh VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
    )
    db.execute(
        "DELETE FROM image WHERE NOT EXISTS "
        "(SELECT 1 FROM fresh f WHERE f.split_order = "
        "image.split_order AND f.file_name = image.file_name)"
    )
    db.execute(
        "INSERT INTO image (split, split_order, file_name, caption, "
        "search, categories, boxes, extra, n_boxes, "
        "annotated, lines, first_line, last_line, dropped, has_record, on_disk, version, dirty) "
        "SELECT f.*, 1 + coalesce((SELECT t.version FROM tombstone t WHERE t.split_order = f.split_order "
        "AND t.file_name = f.file_name), 0), 0 FROM fresh f WHERE true "
        "ON CONFLICT (split_order, file_name) DO UPDATE SET "
        "version = image.version + (image.caption IS NOT "
        "excluded.caption OR image.categories != excluded.categories "
        "OR image.boxes != excluded.boxes OR image.extra != excluded.extra "
        "OR image.has_record != excluded.has_record), "
        "caption = excluded.caption, search = excluded.search, categories = excluded.categories, "
        "boxes = excluded.boxes, extra = excluded.extra, n_boxes = excluded.n_boxes, "
        "annotated = excluded.annotated, lines = excluded.lines, first_line = excluded.first_line, "
        "last_line = excluded.last_line, dropped = excluded.dropped, has_record = excluded.has_record, "
        "on_disk = excluded.on_disk, dirty = 0"
    )
    db.execute("DROP TABLE temp.fresh")
    db.execute("DELETE FROM tombstone")
    _load_categories(db, categories)


def _load_categories(db: sqlite3.Connection, categories: list[tuple[int, int, str, int, int]]) -> None:
    db.execute("DELETE FROM image_category")
    db.executemany("INSERT OR REPLACE INTO image_category VALUES (?, ?, ?, ?, ?)", categories)
    db.execute("DELETE FROM category_total")
    db.execute(
        "INSERT INTO category_total "
        "SELECT category, sum(n_boxes), count(*) FROM image_category GROUP BY category"
    )


def _load_row(a: ImageAnnotation, order: int) -> list[Any]:
    """The ``fresh`` row of an annotation read from a metadata file (on_disk filled in later)."""
    lines = list(a.lines)
    return [a.split, order, a.file_name, *_columns(a), _dumps(lines), min(lines, default=None),
            max(lines, default=None), a.dropped_boxes, 1, 0]  # fmt: skip


def _quick_row(line: int, record: dict[str, Any], split: str, order: int) -> list[Any] | None:
    """The ``fresh`` row of one clean record without building :class:`Box` objects; None when not clean.

    Clean: :func:`~opsml_image.rules.record_problems` finds nothing, ``objects`` (if any) is exactly
    ``{bbox, categories}`` and the image categories have no repeats. The row equals
    ``_load_row(merge([(line, record)]))``, except that numbers stay as written in the file.
    """
    objects = record.get("objects")
    tags = record.get("categories") or []
    if (
        rules.record_problems(record)
        or (objects is not None and objects.keys() != _OBJECT_KEYS)
        or len(set(tags)) != len(tags)
    ):
        return None
    caption = record.get("caption")
    boxes: list[list[Any]] = []
    if objects is not None:
        boxes = [[*box, c] for box, c in zip(objects["bbox"], objects["categories"], strict=True)]
    extra = {} if record.keys() <= _KNOWN_KEYS else {k: v for k, v in record.items() if k not in _KNOWN_KEYS}
    n = len(boxes)
    lines = f"[{line}]"
    return [split, order, record["file_name"], caption, caption.casefold() if caption else None, _dumps(tags),
            _dumps(boxes), _dumps(extra), n, int(n > 0), lines, line, line, 0, 1, 0]  # fmt: skip


def _annotation_from_load_row(row: list[Any], split: str) -> ImageAnnotation:
    return _decoded(row[2], split, row[3], row[5], row[6], row[10], row[7], row[13])


def _fold(a: ImageAnnotation, b: ImageAnnotation) -> ImageAnnotation:
    """``merge(records of a + records of b)`` from the two merged halves (merge is a left fold)."""
    return ImageAnnotation(
        file_name=a.file_name,
        split=a.split,
        caption=a.caption if a.caption is not None else b.caption,
        categories=[*a.categories, *(c for c in b.categories if c not in a.categories)],
        boxes=[*a.boxes, *b.boxes],
        lines=(*a.lines, *b.lines),
        extra={**b.extra, **a.extra},
        dropped_boxes=a.dropped_boxes + b.dropped_boxes,
    )
