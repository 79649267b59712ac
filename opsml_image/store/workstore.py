"""The :class:`WorkStore` of one dataset folder: reading, editing, history, issues and statistics.

The design (tables, transactions, concurrency) is described in :mod:`opsml_image.store`.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from opsml_image import config, rules
from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.images import ImageInfo, probe
from opsml_image.store.filters import Filter, _where
from opsml_image.store.flush import _flush_split
from opsml_image.store.index import (
    _keep_dir_stamps,
    _load,
    _read_folder,
    _restamp_dirs,
    _save_stamps,
    _stamps,
)
from opsml_image.store.rows import (
    _ROW,
    Key,
    _annotation,
    _category_rows,
    _columns,
    _dumps,
    _from_snapshot,
    _normalised,
    _snapshot,
)
from opsml_image.store.schema import _SCHEMA_VERSION, _connect, _count_images, _read_meta, _write_meta
from opsml_image.validation import Issue, ValidationReport

#: Split order of keys and pages (train first), as the dataset lists its splits.
SPLIT_ORDER: dict[str, int] = {"train": 0, "validation": 1, "test": 2}
_BY_KEY = "WHERE split_order = ? AND file_name = ?"


class StaleEdit(RuntimeError):
    """The image changed since the editor read it (another reviewer saved first)."""

    def __init__(self, key: Key, expected: int, actual: int) -> None:
        self.key, self.expected, self.actual = key, expected, actual
        super().__init__(
            f"{key[0]}/{key[1]} was changed by someone else (version "
            f"{actual}, you edited version {expected}); "
            "reload it and apply your edit again"
        )


@dataclass(frozen=True)
class Change:
    """One entry of the edit history: the image's state before and after (None = no record)."""

    id: int
    at: float
    key: Key
    action: str
    before: ImageAnnotation | None
    after: ImageAnnotation | None
    version: int


def store_path(dataset_dir: Path) -> Path:
    """The default database of a dataset folder: ``<home>/stores/<short hash of its resolved path>.db``."""
    digest = hashlib.sha256(str(Path(dataset_dir).resolve()).encode()).hexdigest()[:16]
    return config.home() / "stores" / f"{digest}.db"


class WorkStore:
    """The transactional working store of one dataset folder (see :mod:`opsml_image.store`).

    Open it with :meth:`open`, call :meth:`sync` to (re)index the folder, read with :meth:`count`,
    :meth:`page`, :meth:`get`; edit with :meth:`save` / :meth:`delete` / :meth:`undo`; write the edits back
    with :meth:`flush` (or let an :class:`AutoFlusher` do it). All methods are thread-safe.
    """

    def __init__(self, dataset: ImageDataset, db_path: Path) -> None:
        if not isinstance(dataset.metadata, str):
            raise ValueError("WorkStore needs a dataset whose metadata is a file, not in-memory records")
        self.dataset = dataset
        self.db_path = Path(db_path)
        self._lock = threading.RLock()
        self._db = _connect(self.db_path)
        self._order = {name: SPLIT_ORDER.get(name, 9) for name in dataset.splits}
        with self._tx():
            if self._meta_get("schema") != _SCHEMA_VERSION:
                _count_images(self._db)
            self._meta_set("schema", _SCHEMA_VERSION)
            self._meta_set("dataset", str(dataset.image_dir.resolve()))

    # ------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, dataset: ImageDataset, db_path: Path | None = None) -> WorkStore:
        """Open (creating if needed) the store of ``dataset``; default file: :func:`store_path`."""
        return cls(dataset, Path(db_path) if db_path is not None else store_path(dataset.image_dir))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> WorkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(self, force: bool = False) -> bool:
        """Index the folder when its metadata files (or split folders) changed since the last index.

        Pending edits are flushed first, so nothing is lost. Returns True when it re-indexed. Images added
        in nested sub-folders are only seen with ``force=True`` (only the split folders' own stamps are kept).
        """
        with self._lock:
            for _ in range(3):
                self.flush()
                stamps = _stamps(self.dataset)
                if not force and self._meta_get("stamps") == _dumps(stamps):
                    return False
                rows, categories = _read_folder(self.dataset, self._order)
                with self._tx():
                    if self._db.execute("SELECT 1 FROM image WHERE dirty = 1 LIMIT 1").fetchone():
                        continue  # another process saved meanwhile: flush it and read again
                    _load(self._db, rows, categories)
                    _save_stamps(self._db, stamps)
                return True
            raise RuntimeError("the store kept receiving edits while indexing; try again")

    # ------------------------------------------------------------------------------------ reading

    def count(self, f: Filter = Filter()) -> int:  # noqa: B008 - Filter is frozen
        """How many images match the filter (from the kept totals when it is on split and annotated only)."""
        if f.category is not None and f == Filter(category=f.category):
            sql = "SELECT coalesce(sum(images), 0) FROM category_total WHERE category = ?"
            params = [f.category]
        elif f == Filter(split=f.split, annotated=f.annotated):
            _, where, params, _ = _where(f, self._order)  # conditions on i.split_order and i.annotated only
            sql = f"SELECT coalesce(sum(n), 0) FROM image_total i WHERE {where}"
        else:
            source, where, params, _ = _where(f, self._order)
            sql = f"SELECT count(*) FROM {source} WHERE {where}"
        with self._lock:
            return self._db.execute(sql, params).fetchone()[0]

    def keys(self, f: Filter = Filter(), offset: int = 0, limit: int = 48) -> list[Key]:  # noqa: B008
        """The keys of one page of filtered images, in (split order, file_name) order."""
        return [(split, name) for _, split, name in self._page_ids(f, offset, limit)]

    def page(self, f: Filter = Filter(), offset: int = 0, limit: int = 48) -> list[ImageAnnotation]:  # noqa: B008
        """One page of filtered images as annotations, in (split order, file_name) order.

        The offset is walked on the filter's keys alone (:meth:`_page_ids`; an index for category (+ split),
        split and annotated: about 1 ms for a page at the end of 100k images), then only the page's rows are
        fetched. Text and combined filters scan in SQL (up to tens of ms at 100k).
        """
        with self._lock:
            ids = [row[0] for row in self._page_ids(f, offset, limit)]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            rows = self._db.execute(f"SELECT {_ROW} FROM image WHERE id IN ({marks})", ids).fetchall()
        by_id = {row[0]: _annotation(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def get(self, split: str, file_name: str) -> ImageAnnotation | None:
        """One image's annotation (empty when it has no record); None when the store has no such image."""
        row = self._row(split, file_name)
        return _annotation(row) if row else None

    def version(self, split: str, file_name: str) -> int:
        """The image's version counter (0 when the store has no such image); pass it to :meth:`save`."""
        with self._lock:
            found = self._db.execute(
                "SELECT version FROM image WHERE split_order = ? AND file_name = ? "
                "UNION ALL SELECT version FROM tombstone WHERE split_order = ? AND file_name = ?",
                (self._split_order(split), file_name, self._split_order(split), file_name),
            ).fetchone()
        return found[0] if found else 0

    def image_info(self, split: str, file_name: str) -> dict[str, Any] | None:
        """Store facts about an image: has_record, on_disk, dirty, errors, warnings, dropped, version."""
        row = self._row(split, file_name)
        if row is None:
            return None
        return {"has_record": bool(row[9]), "on_disk": bool(row[10]), "dirty": bool(row[12]),
                "errors": row[13], "warnings": row[14], "dropped": row[8], "version": row[11]}  # fmt: skip

    def position(self, key: Key, f: Filter = Filter()) -> int:  # noqa: B008
        """The 0-based index of ``key`` among the filtered images (where it would be if it does not match)."""
        source, where, params, k = _where(f, self._order)
        sql = f"SELECT count(*) FROM {source} WHERE {where} AND ({k}.split_order, {k}.file_name) < (?, ?)"
        with self._lock:
            return self._db.execute(sql, [*params, self._split_order(key[0]), key[1]]).fetchone()[0]

    def neighbor(self, key: Key, f: Filter = Filter(), step: int = 1) -> Key | None:  # noqa: B008
        """The next (``step=+1``) or previous (``step=-1``) filtered image from ``key``; None at the end."""
        source, where, params, k = _where(f, self._order)
        op, direction = (">", "ASC") if step > 0 else ("<", "DESC")
        sql = (
            f"SELECT {k}.split_order, {k}.file_name FROM {source} WHERE {where} AND "
            f"({k}.split_order, {k}.file_name) {op} (?, ?) "
            f"ORDER BY {k}.split_order {direction}, {k}.file_name {direction} LIMIT 1"
        )
        with self._lock:
            row = self._db.execute(sql, [*params, self._split_order(key[0]), key[1]]).fetchone()
        if row is None:
            return None
        return next(name for name, order in self._order.items() if order == row[0]), row[1]

    def next_unlabeled(self, after: Key | None = None) -> Key | None:
        """The first image without boxes after ``after`` (key order, wrapping around); None if none.

        When ``after`` is itself the only unlabeled image, it is returned.
        """
        first = "SELECT split, file_name FROM image WHERE annotated = 0 "
        order = " ORDER BY split_order, file_name LIMIT 1"
        with self._lock:
            if after is not None:
                row = self._db.execute(
                    first + "AND (split_order, file_name) > (?, ?)" + order,
                    (self._split_order(after[0]), after[1]),
                ).fetchone()
                if row:
                    return (row[0], row[1])
            row = self._db.execute(first + order).fetchone()
        return (row[0], row[1]) if row else None

    def progress(self) -> tuple[int, int]:
        """``(images with at least one box, all images)``, from the kept totals."""
        with self._lock:
            annotated, total = self._db.execute(
                "SELECT coalesce(sum(n * annotated), 0), coalesce(sum(n), 0) FROM image_total"
            ).fetchone()
        return annotated, total

    def dirty_count(self) -> int:
        """How many images have edits not yet flushed to the metadata files (deletions included)."""
        with self._lock:
            rows = self._db.execute("SELECT count(*) FROM image WHERE dirty = 1").fetchone()[0]
            return rows + self._db.execute("SELECT count(*) FROM tombstone").fetchone()[0]

    # ------------------------------------------------------------------------------------ editing

    def save(self, annotation: ImageAnnotation, expected_version: int | None = None) -> int:
        """Store an edited annotation (boxes rounded to 2 decimals) and return its new version.

        The image is ``(annotation.split, annotation.file_name)``; it need not have a record yet (a new image
        gets one, appended on flush). Boxes that round to zero width or height are dropped; a negative
        category id or a non-finite coordinate raises ``ValueError``.

        ``expected_version`` is the version the editor read (:meth:`version`); when the image changed since,
        :class:`StaleEdit` is raised and nothing is stored. The edit is recorded for :meth:`undo` and
        written to the metadata file by the next :meth:`flush`.
        """
        return self.edit((annotation.split, annotation.file_name), annotation, expected_version).version

    def delete(self, split: str, file_name: str, expected_version: int | None = None) -> int:
        """Remove the image's records (on the next flush) and return the new version; undoable.

        The image file is not deleted: an image on disk stays in the store as an image without a record.
        """
        return self.edit((split, file_name), None, expected_version, action="delete").version

    def edit(
        self,
        key: Key,
        after: ImageAnnotation | None,
        expected_version: int | None = None,
        action: str = "save",
    ) -> Change:
        """Set the image's annotation (``None`` removes its records); returns the history entry."""
        split, file_name = key
        order = self._split_order(split)
        with self._lock, self._tx():
            row = self._row(split, file_name)
            tomb = self._db.execute(
                "SELECT lines, version FROM tombstone WHERE split_order = ? AND file_name = ?",
                (order, file_name),
            ).fetchone()
            current = row[11] if row else (tomb[1] if tomb else 0)
            if expected_version is not None and expected_version != current:
                raise StaleEdit(key, expected_version, current)
            if row is None and after is None:
                raise KeyError(f"no image {split}/{file_name} in the store")
            before = _annotation(row) if row and row[9] else None
            version = current + 1
            if after is None:
                self._remove_record(row, tomb, version)
            else:
                after = _normalised(after, key)
                self._put_record(row, tomb, after, version)
            self._set_categories(order, file_name, _category_rows(after) if after is not None else {})
            self._recheck(key, after)
            at = time.time()
            cursor = self._db.execute(
                "INSERT INTO change (at, split, file_name, action, before, "
                "after, version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (at, split, file_name, action, _snapshot(before), _snapshot(after), version),
            )
            change_id = cursor.lastrowid
        return Change(change_id or 0, at, key, action, before, after, version)

    def edit_many(
        self, edits: Sequence[tuple[Key, ImageAnnotation | None, int | None]], action: str = "save"
    ) -> list[Change]:
        """Several :meth:`edit` calls ``(key, after, expected_version)`` in one transaction: all or none.

        A :class:`StaleEdit` (or any error) for one image rolls back all of them.
        """
        with self._lock, self._tx():
            return [self.edit(key, after, version, action=action) for key, after, version in edits]

    def undo_many(self, change_ids: Iterable[int]) -> list[ImageAnnotation]:
        """Undo several changes in one transaction, newest first; returns the restored annotations."""
        with self._lock, self._tx():
            return [self.undo(change_id) for change_id in sorted(change_ids, reverse=True)]

    def missing_images(self) -> list[Key]:
        """Images that have a record but no file on disk (as of the last index), in key order."""
        rows = self._fetchall(
            "SELECT split, file_name FROM image WHERE has_record = 1 AND on_disk = 0 "
            "ORDER BY split_order, file_name"
        )
        return [(split, name) for split, name in rows]

    def empty_records(self) -> list[Key]:
        """Images whose records say nothing: no caption, categories or objects (not even malformed ones)."""
        rows = self._fetchall(
            "SELECT split, file_name FROM image WHERE has_record = 1 AND n_boxes = 0 AND dropped = 0 "
            "AND coalesce(caption, '') = '' AND categories = '[]' ORDER BY split_order, file_name"
        )
        return [(split, name) for split, name in rows]

    def history(self, limit: int = 50, key: Key | None = None) -> list[Change]:
        """The latest edits, newest first (of one image when ``key`` is given)."""
        sql = "SELECT id, at, split, file_name, action, before, after, version FROM change"
        params: list[Any] = []
        if key is not None:
            sql += " WHERE split = ? AND file_name = ?"
            params = [key[0], key[1]]
        rows = self._fetchall(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
        return [_change(row) for row in rows]

    def change(self, change_id: int) -> Change:
        """One history entry by id (KeyError when unknown)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, at, split, file_name, action, before, after, version FROM change WHERE id = ?",
                (change_id,),
            ).fetchone()
        if row is None:
            raise KeyError(f"no change {change_id}")
        return _change(row)

    def undo(self, change_id: int) -> ImageAnnotation:
        """Restore the image's state from before change ``change_id`` as a new version (itself undoable).

        Returns the restored annotation (an empty one when the image had no record before the change).
        """
        with self._lock:
            change = self.change(change_id)
            self.edit(change.key, change.before, action="undo")
            restored = self.get(*change.key)
        return restored or ImageAnnotation(file_name=change.key[1], split=change.key[0])

    def add_images(self, split: str, names: Iterable[str]) -> int:
        """Add rows for new image files of a split (after an upload); returns how many were new.

        The split folder's stamp is taken as current, so the upload does not cause a re-index.
        """
        order = self._split_order(split)
        with self._lock, self._tx():
            added = self._db.executemany(
                "INSERT INTO image (split, split_order, file_name, has_record, on_disk, version) "
                "VALUES (?, ?, ?, 0, 1, 1) ON CONFLICT (split_order, file_name) "
                "DO UPDATE SET on_disk = 1 WHERE image.on_disk = 0",
                [(split, order, name) for name in names],
            ).rowcount  # rows inserted or updated by the statement itself (trigger writes not counted)
            _restamp_dirs(self._db, self.dataset, [split])
        return added

    # ------------------------------------------------------------------------------------ flushing

    def flush(self) -> int:
        """Write every pending edit into the metadata files atomically; returns how many images were written.

        An edited image's first source line is replaced by its record and its other lines deleted; an image
        without lines is appended to its split's metadata file; untouched lines stay byte for byte. The
        store then knows the new line numbers and file stamps, so :meth:`sync` does not re-index.
        When a metadata file changed behind the store's back, the edited images' lines are found again by
        ``file_name`` (and the next :meth:`sync` re-indexes).
        """
        written = 0
        with self._lock, self._tx():
            pending = self._db.execute(
                "SELECT DISTINCT split FROM image WHERE dirty = 1 UNION SELECT DISTINCT split FROM tombstone"
            ).fetchall()
            for (split,) in pending:
                written += _flush_split(self._db, self.dataset, self._order, split)
        return written

    # ------------------------------------------------------------------------------------ issues

    def set_issues(self, report: ValidationReport) -> None:
        """Store a validation report: its issue rows and per-image error/warning counts (``has_errors``)."""
        counts: dict[Key, list[int]] = {}
        for issue in report.issues:
            if issue.file_name is not None and issue.split is not None:
                slot = counts.setdefault((issue.split, issue.file_name), [0, 0])
                slot[0 if issue.severity == "error" else 1] += 1
        with self._lock, self._tx():
            self._db.execute("DELETE FROM issue")
            self._db.executemany(
                "INSERT INTO issue (file, line, field, code, message, severity, file_name, split) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (i.file, i.line, i.field, i.code, i.message, i.severity, i.file_name, i.split)
                    for i in report.issues
                ],
            )
            self._db.execute("UPDATE image SET errors = 0, warnings = 0 WHERE errors > 0 OR warnings > 0")
            self._db.executemany(
                "UPDATE image SET errors = ?, warnings = ? WHERE split_order = ? AND file_name = ?",
                [(e, w, self._order.get(k[0], 9), k[1]) for k, (e, w) in counts.items()],
            )
            self._meta_set(
                "validated",
                _dumps({"at": time.time(), "counts": dict(report.counts), "truncated": report.truncated}),
            )

    def issues(self, code: str | None = None, offset: int = 0, limit: int = 100) -> list[Issue]:
        """Stored issues (of one code when given), in report order."""
        where, params = ("WHERE code = ?", [code]) if code else ("", [])
        rows = self._fetchall(
            f"SELECT file, line, field, code, message, severity, file_name, split FROM issue {where} "
            "ORDER BY id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [Issue(*row) for row in rows]

    def issue_counts(self) -> dict[str, int]:
        """Stored issues per code, most frequent first."""
        rows = self._fetchall("SELECT code, count(*) n FROM issue GROUP BY code ORDER BY n DESC")
        return dict(rows)

    def validated(self) -> bool:
        """True when a validation report was stored with :meth:`set_issues`."""
        return self._meta_get("validated") is not None

    def validation_summary(self) -> dict[str, Any] | None:
        """The last stored validation: ``at`` (epoch s), exact ``counts`` per code then, and ``truncated``
        (True when the report kept fewer issue rows than it counted); None before any."""
        stored = self._meta_get("validated")
        return orjson.loads(stored) if stored is not None else None

    def issue_keys(self, code: str) -> list[Key]:
        """The images (keys) the stored issues of ``code`` name, once each, in report order."""
        rows = self._fetchall(
            "SELECT split, file_name FROM issue WHERE code = ? AND "
            "file_name IS NOT NULL AND split IS NOT NULL "
            "GROUP BY split, file_name ORDER BY min(id)",
            (code,),
        )
        return [(split, name) for split, name in rows]

    # -------------------------------------------------------------------------------- categories and stats

    def category_names(self) -> list[str]:
        """Category names by id (``categories.json``)."""
        return self.dataset.category_names()

    def add_category(self, name: str) -> int:
        """Add a name to ``categories.json`` (atomically) and return its id (the existing id if known)."""
        name = name.strip()
        if not name:
            raise ValueError("a category name must not be empty")
        with self._lock:
            names = self.dataset.category_names()
            if name in names:
                return names.index(name)
            before = _stamps(self.dataset)
            self.dataset.set_category_names([*names, name])
            with self._tx():  # in a flat dataset categories.json sits in the split folder: no re-index for it
                _keep_dir_stamps(self._db, self.dataset, before)
            return len(names)

    def category_counts(self) -> dict[int, int]:
        """Boxes per category id (categories without boxes are left out)."""
        rows = self._fetchall(
            "SELECT category, n_boxes FROM category_total WHERE n_boxes > 0 ORDER BY category"
        )
        return dict(rows)

    def boxes_per_image_hist(self) -> dict[int, int]:
        """``{number of boxes: number of images}`` over all images (unlabeled ones count as 0)."""
        rows = self._fetchall("SELECT n_boxes, count(*) FROM image GROUP BY n_boxes ORDER BY n_boxes")
        return dict(rows)

    def box_sizes(self, limit: int = 50_000) -> list[tuple[float, float]]:
        """A sample of box ``(w, h)`` in pixels from every k-th image, at most ``limit`` boxes."""
        with self._lock:
            total = self._db.execute("SELECT coalesce(sum(n_boxes), 0) FROM category_total").fetchone()[0]
            stride = max(1, -(-total // max(limit, 1)))
            rows = self._db.execute(
                "SELECT json_extract(b.value, '$[2]'), json_extract(b.value, '$[3]') "
                "FROM image i, json_each(i.boxes) b WHERE i.n_boxes > 0 AND i.id % ? = 0 LIMIT ?",
                (stride, limit),
            ).fetchall()
        return [(float(w), float(h)) for w, h in rows]

    # ------------------------------------------------------------------------------------ internals: SQL

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``); nested use joins the outer one."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """All rows of one read query (under the lock)."""
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _meta_get(self, key: str) -> str | None:
        with self._lock:
            return _read_meta(self._db, key)

    def _meta_set(self, key: str, value: str) -> None:
        _write_meta(self._db, key, value)

    def _split_order(self, split: str) -> int:
        try:
            return self._order[split]
        except KeyError:
            raise KeyError(f"no split {split!r}; the dataset has {', '.join(self._order)}") from None

    def _row(self, split: str, file_name: str) -> tuple[Any, ...] | None:
        with self._lock:
            return self._db.execute(
                f"SELECT {_ROW} FROM image WHERE split_order = ? AND file_name = ?",
                (self._split_order(split), file_name),
            ).fetchone()

    def _page_ids(self, f: Filter, offset: int, limit: int) -> list[tuple[int, str, str]]:
        """``(id, split, file_name)`` of one page: the offset is walked on the filter's keys alone (an index
        when the filter has one), then only the page's image rows are read."""
        source, where, params, k = _where(f, self._order)
        sql = (
            "SELECT i.id, i.split, i.file_name FROM "
            f"(SELECT {k}.split_order, {k}.file_name FROM {source} WHERE {where} "
            f"ORDER BY {k}.split_order, {k}.file_name LIMIT ? OFFSET ?) p "
            "JOIN image i ON i.split_order = p.split_order AND i.file_name = p.file_name "
            "ORDER BY p.split_order, p.file_name"
        )
        with self._lock:
            return self._db.execute(sql, [*params, max(0, limit), max(0, offset)]).fetchall()

    def _remove_record(self, row: tuple[Any, ...], tomb: tuple[Any, ...] | None, version: int) -> None:
        """Drop an image's record: a row on disk stays (no record); one without a file becomes a tombstone
        (joining the lines of the image's ``tomb``, as :meth:`edit` read it, if it has one)."""
        if row[10]:  # on disk
            self._db.execute(
                "UPDATE image SET caption = NULL, search = NULL, "
                "categories = '[]', boxes = '[]', extra = '{}', "
                "n_boxes = 0, annotated = 0, dropped = 0, has_record = "
                "0, dirty = 1, version = ? WHERE id = ?",
                (version, row[0]),
            )
            return
        order = self._split_order(row[1])
        lines = sorted(set(orjson.loads(row[7])) | set(orjson.loads(tomb[0]) if tomb else ()))
        self._db.execute(
            "INSERT OR REPLACE INTO tombstone VALUES (?, ?, ?, ?, ?)",
            (order, row[2], row[1], _dumps(lines), version),
        )
        self._db.execute("DELETE FROM image WHERE id = ?", (row[0],))

    def _put_record(
        self, row: tuple[Any, ...] | None, tomb: tuple[Any, ...] | None, after: ImageAnnotation, version: int
    ) -> None:
        values = _columns(after)
        if row is not None:
            self._db.execute(
                "UPDATE image SET caption = ?, search = ?, categories = "
                "?, boxes = ?, extra = ?, n_boxes = ?, "
                "annotated = ?, dropped = 0, has_record = 1, dirty = 1, version = ? WHERE id = ?",
                (*values, version, row[0]),
            )
            return
        split, file_name = after.split, after.file_name
        order = self._split_order(split)
        lines = orjson.loads(tomb[0]) if tomb else []
        if tomb:
            self._db.execute(
                "DELETE FROM tombstone WHERE split_order = ? AND file_name = ?", (order, file_name)
            )
        on_disk = self.dataset.image_path(split, file_name).is_file()
        self._db.execute(
            "INSERT INTO image (split, split_order, file_name, caption, "
            "search, categories, boxes, extra, n_boxes, "
            "annotated, lines, first_line, last_line, has_record, on_disk, version, dirty) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, 1)",
            (split, order, file_name, *values, _dumps(lines), min(lines, default=None),
             max(lines, default=None),
             int(on_disk), version),
        )  # fmt: skip

    def _set_categories(self, order: int, file_name: str, rows: dict[int, tuple[int, int]]) -> None:
        """Replace an image's ``image_category`` rows and keep ``category_total`` in step."""
        old = self._db.execute(
            "SELECT category, n_boxes FROM image_category " + _BY_KEY, (order, file_name)
        ).fetchall()
        self._db.executemany(
            "UPDATE category_total SET n_boxes = n_boxes - ?, images = images - 1 WHERE category = ?",
            [(n, c) for c, n in old],
        )
        self._db.execute("DELETE FROM image_category " + _BY_KEY, (order, file_name))
        self._db.executemany(
            "INSERT INTO image_category VALUES (?, ?, ?, ?, ?)",
            [(c, order, file_name, n, t) for c, (n, t) in rows.items()],
        )
        self._db.executemany(
            "INSERT INTO category_total VALUES (?, ?, 1) ON CONFLICT (category) DO UPDATE SET "
            "n_boxes = n_boxes + excluded.n_boxes, images = images + 1",
            [(c, n) for c, (n, _) in rows.items()],
        )

    def _recheck(self, key: Key, annotation: ImageAnnotation | None) -> None:
        """Re-validate one edited image (record rules, image file, boxes inside); replace its stored issues.

        Only after a validation was stored; a removed record leaves the image without issues until the next
        validation (which reports it as unlabeled if its file is still there).
        """
        if not self.validated():
            return
        split, file_name = key
        problems: list[rules.Problem] = []
        if annotation is not None:
            problems = self._problems(split, file_name, annotation)
        label = self.dataset.split(split).metadata_label
        self._db.execute("DELETE FROM issue WHERE split = ? AND file_name = ?", (split, file_name))
        self._db.executemany(
            "INSERT INTO issue (file, line, field, code, message, severity, "
            "file_name, split) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(label, None, p.field, p.code, p.message, p.severity, file_name, split) for p in problems],
        )
        errors = sum(p.severity == "error" for p in problems)
        self._db.execute(
            "UPDATE image SET errors = ?, warnings = ? WHERE split_order = ? AND file_name = ?",
            (errors, len(problems) - errors, self._split_order(split), file_name),
        )

    def _problems(self, split: str, file_name: str, annotation: ImageAnnotation) -> list[rules.Problem]:
        """The validator's rules for one edited image, as ``opsml_image.rules`` states them."""
        record = annotation.to_record()
        problems = list(rules.record_problems(record))
        info = probe(self.dataset.image_path(split, file_name))
        if isinstance(info, rules.Problem):
            problems.append(info)
        elif isinstance(info, ImageInfo) and "objects" in record:
            problems.extend(rules.boxes_outside_problems(record["objects"]["bbox"], info.width, info.height))
        names = self.dataset.category_names_or_problem()
        if isinstance(names, list) and names:
            problems.extend(rules.unknown_category_problems(record, len(names)))
        return problems


def _change(row: tuple[Any, ...]) -> Change:
    change_id, at, split, file_name, action, before, after, version = row
    key = (split, file_name)
    return Change(
        change_id, at, key, action, _from_snapshot(before, key), _from_snapshot(after, key), version
    )
