"""Indexing a dataset folder: its stamps, its records and image files as :class:`ImageRow` s, the bulk load.

:func:`read_folder` streams every split into rows; :func:`load` replaces the dataset's index with them
(keeping versions, bumped where the content changed). A first index instead commits its rows in chunks in
key order (:func:`start_chunks`, :func:`append_chunk`, :func:`finish_chunks`): :func:`scan_keys` finds
every key quickly, the first chunk's rows are made alone (:func:`read_folder` with ``wanted``), so the first
page is in long before the rest of the records are converted. The stamps (sizes and mtimes of the
metadata files and split folders) tell :meth:`WorkStore.sync <opsml_image.store.WorkStore.sync>` whether
the folder changed. Several records of one image are merged by :func:`opsml_image.annotation.merge` itself.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image import rules
from opsml_image.annotation import merge
from opsml_image.dataset import ImageDataset
from opsml_image.store.rows import ImageRow, dumps, row_of
from opsml_image.store.schema import Scope, bulk_insert, read_meta, write_meta
from opsml_image.store.stats import add_totals, load_totals
from opsml_image.store.tables import CATEGORY_TOTAL, IMAGE, IMAGE_CATEGORY, IMAGE_TOTAL, META, TOMBSTONE

_KNOWN_KEYS = frozenset(("file_name", "caption", "categories", "objects"))
_OBJECT_KEYS = frozenset(("bbox", "categories"))
_LOAD_FIELDS = tuple(f for f in ImageRow._fields if f != "id")
T = TypeVar("T")


def stat(path: Path, size: bool = True) -> list[int] | int | None:
    """``[size, mtime_ns]`` of a file (``mtime_ns`` only with ``size=False``); None when it is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns] if size else st.st_mtime_ns


def stamps(dataset: ImageDataset) -> dict[str, Any]:
    """``(size, mtime_ns)`` of every metadata file and the ``mtime_ns`` of every split folder."""
    found: dict[str, Any] = {}
    for name, split in dataset.splits.items():
        found[f"meta:{name}"] = stat(split.metadata_path)
        found[f"dir:{name}"] = stat(split.directory, size=False)
    return found


def stored_stamps(conn: Connection, scope: Scope) -> dict[str, Any]:
    """The stamps the store last took (empty before the first index)."""
    loaded: dict[str, Any] = orjson.loads(read_meta(conn, scope, "stamps") or "{}")
    return loaded


def save_stamps(conn: Connection, scope: Scope, found: dict[str, Any]) -> None:
    write_meta(conn, scope, "stamps", dumps(found))


def keep_dir_stamps(conn: Connection, scope: Scope, dataset: ImageDataset, before: dict[str, Any]) -> None:
    """After a change of our own to split folders: take their new stamps if ``before`` was up to date."""
    stored = stored_stamps(conn, scope)
    current = stamps(dataset)
    for key, value in before.items():
        if key.startswith("dir:") and stored.get(key) == value:
            stored[key] = current[key]
    save_stamps(conn, scope, stored)


def restamp_dirs(conn: Connection, scope: Scope, dataset: ImageDataset, splits: Iterable[str]) -> None:
    """Record the current stamps of split folders we changed ourselves (an upload), whether or not they were
    current before: the files are written before the store hears of them, so there is no "before" to check."""
    stored = stored_stamps(conn, scope)
    for split in splits:
        stored[f"dir:{split}"] = stat(dataset.split(split).directory, size=False)
    save_stamps(conn, scope, stored)


#: An image's place in the store: ``(split_order, file_name)``.
RowKey = tuple[int, str]


def scan_keys(dataset: ImageDataset, scope: Scope) -> list[RowKey]:
    """The keys of every image :func:`read_folder` makes a row of, without making the rows (a fraction of
    the time: records are parsed, not converted)."""
    keys: list[RowKey] = []
    for name in dataset.splits:
        order = scope.order(name)
        recorded = dict.fromkeys(item.record["file_name"] for item in dataset.iter_records(name))
        keys += [(order, file_name) for file_name in recorded]
        names = {posixpath.normpath(file_name.replace("\\", "/")) for file_name in recorded}
        keys += [(order, relative) for _, relative in dataset.image_files(name) if relative not in names]
    return keys


def read_folder(
    dataset: ImageDataset, scope: Scope, wanted: Callable[[RowKey], bool] | None = None
) -> list[ImageRow]:
    """Every split's records and image files as rows (version 1, clean); only the ``wanted`` keys if given.

    A clean record (the common case) becomes a row directly; a malformed one goes through
    :func:`~opsml_image.annotation.merge`. The images with several records are merged in a second pass
    over their split, from all their records at once.
    """
    rows: list[ImageRow] = []
    for name in dataset.splits:
        order = scope.order(name)
        index: dict[str, int] = {}  # file_name -> its row in this split (-1: not wanted)
        repeated: set[str] = set()
        for item in dataset.iter_records(name):
            file_name = item.record["file_name"]
            if file_name in index:
                if index[file_name] >= 0:
                    repeated.add(file_name)
                continue
            if wanted is not None and not wanted((order, file_name)):
                index[file_name] = -1
                continue
            index[file_name] = len(rows)
            quick = _quick_row(item.line, item.record, name, order)
            rows.append(quick or row_of(merge([(item.line, item.record)], name), order))
        if repeated:
            records: dict[str, list[tuple[int, dict[str, Any]]]] = {n: [] for n in repeated}
            for item in dataset.iter_records(name):
                if item.record["file_name"] in records:
                    records[item.record["file_name"]].append((item.line, item.record))
            for file_name, pairs in records.items():
                rows[index[file_name]] = row_of(merge(pairs, name), order)
        names = {posixpath.normpath(file_name.replace("\\", "/")): at for file_name, at in index.items()}
        for _, relative in dataset.image_files(name):
            at = names.get(relative)
            if at is not None:
                if at >= 0:
                    rows[at] = rows[at]._replace(on_disk=1)
            elif wanted is None or wanted((order, relative)):
                rows.append(ImageRow(name, order, relative, None, None, "[]", "[]", "{}", 0, 0, "[]", None,
                                     None, has_record=0, on_disk=1))  # fmt: skip
    return rows


def load(conn: Connection, scope: Scope, rows: list[ImageRow]) -> None:
    """Replace the dataset's index with freshly read rows, keeping versions (bumped where the content changed;
    a deleted record's image continues from its tombstone's version)."""
    rows = versioned(rows, known_versions(conn, scope))
    conn.execute(IMAGE.delete().where(IMAGE.c.dataset == scope.dataset))
    _insert_rows(conn, scope, rows)
    _settle_tombstones(conn, scope)
    load_totals(conn, scope, rows)
    _analyze(conn)


Versions = tuple[dict[RowKey, tuple[int, tuple[Any, ...], tuple[int, int]]], dict[RowKey, int]]
"""What new rows continue from: ``{key: (version, content, (errors, warnings))}`` of the indexed images and
``{key: version}`` of the tombstones."""


def known_versions(conn: Connection, scope: Scope) -> Versions:
    """The versions, contents and issue counts of the images indexed now, and the tombstones' versions."""
    old: dict[RowKey, tuple[int, tuple[Any, ...], tuple[int, int]]] = {}
    content = (IMAGE.c.caption, IMAGE.c.categories, IMAGE.c.boxes, IMAGE.c.extra, IMAGE.c.has_record)
    for found in conn.execute(
        sa.select(IMAGE.c.split_order, IMAGE.c.file_name, IMAGE.c.version, IMAGE.c.errors,
                  IMAGE.c.warnings, *content).where(IMAGE.c.dataset == scope.dataset)  # fmt: skip
    ):
        old[(found[0], found[1])] = (found[2], tuple(found[5:]), (found[3], found[4]))
    tombs = {
        (o, n): v
        for o, n, v in conn.execute(
            sa.select(TOMBSTONE.c.split_order, TOMBSTONE.c.file_name, TOMBSTONE.c.version).where(
                TOMBSTONE.c.dataset == scope.dataset
            )
        )
    }
    return old, tombs


def versioned(rows: list[ImageRow], known: Versions) -> list[ImageRow]:
    """``rows`` with the versions they continue from: an indexed image's (bumped where its content changed),
    else its tombstone's plus one, else 1. An indexed image keeps its issue counts: its issue rows stay until
    the next validation, and an edit deletes them only where the counts say there are some."""
    old, tombs = known
    out: list[ImageRow] = []
    for r in rows:
        key = (r.split_order, r.file_name)
        if key in old:
            previous, content, (errors, warnings) = old[key]
            version = previous + (content != r.content())
            out.append(r._replace(version=version, errors=errors, warnings=warnings))
        elif key in tombs:
            out.append(r._replace(version=tombs[key] + 1))
        else:
            out.append(r)
    return out


# ---------------------------------------------------------------------------------- a first index in chunks
# A first index commits its rows in chunks, in key order, so readers see a growing prefix of the final
# index (its first page as soon as the first chunk is in). The ``indexing`` meta key holds ``[done, total]``
# meanwhile; the stamps are saved with the last chunk, so an interrupted index runs again on the next sync.

INDEXING = "indexing"


def first_index_due(conn: Connection, scope: Scope) -> bool:
    """True before the folder's first complete index: no stamps yet, or an index was interrupted."""
    return read_meta(conn, scope, INDEXING) is not None or not stored_stamps(conn, scope)


def indexing(conn: Connection, scope: Scope) -> tuple[int, int] | None:
    """``(rows committed, rows in all)`` while a first index is under way (total 0 while reading the
    folder); None otherwise."""
    value = read_meta(conn, scope, INDEXING)
    if value is None:
        return None
    done, total = orjson.loads(value)
    return int(done), int(total)


def set_indexing(conn: Connection, scope: Scope, done: int, total: int) -> None:
    write_meta(conn, scope, INDEXING, dumps([done, total]))


def in_key_order(conn: Connection, items: list[T], key: Callable[[T], RowKey]) -> list[T]:
    """``items`` in the order pages list their keys: split order, then file name as the database compares
    text (PostgreSQL sorts by its collation, which need not be Python's code-point order)."""
    if conn.dialect.name != "postgresql":
        return sorted(items, key=key)
    by_key = {key(item): item for item in items}
    ordered: list[T] = []
    for order in sorted({o for o, _ in by_key}):
        names = [n for o, n in by_key if o == order]
        found = conn.execute(
            sa.text("SELECT n FROM unnest(CAST(:names AS text[])) AS n ORDER BY n"), {"names": names}
        )
        ordered.extend(by_key[(order, n)] for (n,) in found)
    return ordered


def row_key(row: ImageRow) -> RowKey:
    return row.split_order, row.file_name


def start_chunks(conn: Connection, scope: Scope, total: int) -> None:
    """Empty the dataset's rows, category rows and totals (a first index, or the rest of an interrupted
    one) and mark ``0 of total`` done."""
    for table in (IMAGE, IMAGE_CATEGORY, CATEGORY_TOTAL, IMAGE_TOTAL):
        conn.execute(table.delete().where(table.c.dataset == scope.dataset))
    set_indexing(conn, scope, 0, total)


def append_chunk(conn: Connection, scope: Scope, rows: list[ImageRow], done: int, total: int) -> None:
    """Add a chunk of (versioned, key-ordered) rows with their category rows and totals; ``done`` rows
    are in after it."""
    _insert_rows(conn, scope, rows)
    add_totals(conn, scope, rows)
    set_indexing(conn, scope, done, total)
    if done == len(rows):  # the first chunk: statistics, or the PostgreSQL planner misjudges the pages
        _analyze(conn)


def finish_chunks(conn: Connection, scope: Scope, found: dict[str, Any]) -> None:
    """End a chunked index: settle the tombstones, save the stamps, drop the ``indexing`` mark."""
    _settle_tombstones(conn, scope)
    save_stamps(conn, scope, found)
    conn.execute(META.delete().where(META.c.dataset == scope.dataset, META.c.key == INDEXING))
    _analyze(conn)


def _insert_rows(conn: Connection, scope: Scope, rows: list[ImageRow]) -> None:
    bulk_insert(conn, "store_image", ("dataset", *_LOAD_FIELDS), [(scope.dataset, *r[:-1]) for r in rows])


def _settle_tombstones(conn: Connection, scope: Scope) -> None:
    indexed = sa.exists().where(
        IMAGE.c.dataset == scope.dataset,
        IMAGE.c.split_order == TOMBSTONE.c.split_order,
        IMAGE.c.file_name == TOMBSTONE.c.file_name,
    )
    # the images indexed again continue from their tombstone's version
    conn.execute(TOMBSTONE.delete().where(TOMBSTONE.c.dataset == scope.dataset, indexed))
    conn.execute(TOMBSTONE.update().where(TOMBSTONE.c.dataset == scope.dataset).values(lines="[]"))


def _analyze(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":  # fresh statistics, or the planner walks 100k rows for a page
        for table in ("store_image", "store_image_category", "store_tombstone"):
            conn.exec_driver_sql(f"ANALYZE {table}")


def _quick_row(line: int, record: dict[str, Any], split: str, order: int) -> ImageRow | None:
    """The row of one clean record without building :class:`Box` objects; None when not clean.

    Clean: :func:`~opsml_image.rules.record_problems` finds nothing, ``objects`` (if any) is exactly
    ``{bbox, categories}`` and the image categories have no repeats. The row equals
    ``row_of(merge([(line, record)]))``, except that numbers stay as written in the file.
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
    search = caption.casefold() if caption else None
    return ImageRow(split, order, record["file_name"], caption, search, dumps(tags), dumps(boxes),
                    dumps(extra), n, int(n > 0), f"[{line}]", line, line)  # fmt: skip
