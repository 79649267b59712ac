"""The working store of one dataset folder: an indexed, transactional copy of its annotations.

The app edits images here, not in ``metadata.jsonl``: a save is one small SQLite transaction, and
:meth:`WorkStore.flush` later folds the edited (``dirty``) rows back into the metadata files with
:func:`opsml_image.jsonl.rewrite_lines`, which keeps every untouched line byte for byte.

Why stdlib :mod:`sqlite3` and not SQLAlchemy: the store is one local file with a fixed schema; it needs
``executemany`` bulk loads (100k rows in one transaction), explicit ``BEGIN IMMEDIATE`` transactions
(for the optimistic version check across processes) and hand-written index-friendly SQL. SQLAlchemy
would add a per-statement overhead on the hot paths (save, page) and hide the transaction control.

Tables:

* ``image``: one row per image, keyed by ``(split_order, file_name)``: its merged annotation (caption,
  categories/boxes/extra as JSON), ``n_boxes``, ``annotated`` (has at least one box, as
  :attr:`ImageAnnotation.annotated`), its source ``lines`` (JSON), ``has_record`` / ``on_disk``,
  a ``version`` counter, ``dirty`` and per-image validation ``errors``/``warnings``. Images on disk
  without a record are rows too (``has_record = 0``).
* ``image_category``: ``(category, split_order, file_name) -> n_boxes, tagged``: the category filter
  and the per-category box counts read one index range instead of parsing JSON (fast at 100k images).
* ``tombstone``: source lines of deleted records whose image file is missing (the row is gone; flush
  removes the lines).
* ``change``: the edit history (before/after snapshots) for undo.
* ``issue``: the rows of the last validation report; ``meta``: file stamps and settings.

Concurrency: one connection guarded by a lock (the app shares one store across sessions and flushes
from a background thread); WAL mode with ``synchronous=FULL`` so a committed save survives a crash, and
``BEGIN IMMEDIATE`` so two processes on the same database serialise their writes.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import logging
import math
import os
import posixpath
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from opsml_image import config, rules
from opsml_image.annotation import Box, ImageAnnotation, merge
from opsml_image.dataset import ImageDataset
from opsml_image.images import ImageInfo, probe
from opsml_image.jsonl import read_lines, rewrite_lines
from opsml_image.validation import Issue, ValidationReport

__all__ = ["WorkStore", "Filter", "Key", "Change", "StaleEdit", "AutoFlusher", "store_path", "SPLIT_ORDER"]

log = logging.getLogger(__name__)

Key = tuple[str, str]
"""An image's key: ``(split, file_name)``."""

#: Split order of keys and pages (train first), as the dataset lists its splits.
SPLIT_ORDER: dict[str, int] = {"train": 0, "validation": 1, "test": 2}
_SCHEMA_VERSION = "1"
_BY_KEY = "WHERE split_order = ? AND file_name = ?"
_LOAD_COLUMNS = (
    "split, split_order, file_name, caption, search, categories, boxes, extra, n_boxes, annotated, lines, "
    "first_line, last_line, dropped, has_record, on_disk"
)
_KNOWN_KEYS = frozenset(("file_name", "caption", "categories", "objects"))
_ROW = (
    "id, split, file_name, caption, categories, boxes, extra, lines, dropped, has_record, on_disk, "
    "version, dirty, errors, warnings"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS image (
    id INTEGER PRIMARY KEY,
    split TEXT NOT NULL,
    split_order INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    caption TEXT,
    search TEXT,                           -- casefolded caption, for the text filter
    categories TEXT NOT NULL DEFAULT '[]', -- image-level category ids (JSON list)
    boxes TEXT NOT NULL DEFAULT '[]',      -- [[x, y, w, h, category], ...]
    extra TEXT NOT NULL DEFAULT '{}',      -- other record keys (JSON object)
    n_boxes INTEGER NOT NULL DEFAULT 0,
    annotated INTEGER NOT NULL DEFAULT 0,
    lines TEXT NOT NULL DEFAULT '[]',      -- source line numbers in the split's metadata file
    first_line INTEGER,
    last_line INTEGER,
    dropped INTEGER NOT NULL DEFAULT 0,    -- malformed boxes left out by merge()
    has_record INTEGER NOT NULL DEFAULT 1,
    on_disk INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    dirty INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_image_key ON image (split_order, file_name);
CREATE INDEX IF NOT EXISTS ix_image_annotated ON image (annotated, split_order, file_name);
CREATE INDEX IF NOT EXISTS ix_image_errors ON image (split_order, file_name) WHERE errors > 0;
CREATE INDEX IF NOT EXISTS ix_image_dirty ON image (split_order) WHERE dirty = 1;
CREATE INDEX IF NOT EXISTS ix_image_last_line ON image (split_order, last_line);
CREATE TABLE IF NOT EXISTS image_category (
    category INTEGER NOT NULL,
    split_order INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    n_boxes INTEGER NOT NULL,
    tagged INTEGER NOT NULL,
    PRIMARY KEY (category, split_order, file_name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_image_category_key ON image_category (split_order, file_name);
CREATE TABLE IF NOT EXISTS category_total (
    category INTEGER PRIMARY KEY,
    n_boxes INTEGER NOT NULL,
    images INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstone (
    split_order INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    split TEXT NOT NULL,
    lines TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (split_order, file_name)
);
CREATE TABLE IF NOT EXISTS change (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    split TEXT NOT NULL,
    file_name TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS issue (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL,
    line INTEGER,
    field TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    file_name TEXT,
    split TEXT
);
CREATE INDEX IF NOT EXISTS ix_issue_code ON issue (code, id);
"""


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
class Filter:
    """Which images a view shows; ``None`` means "any". All given conditions must hold.

    * ``category``: the image has a box of this category id or lists it in its image categories;
    * ``text``: case-insensitive substring of the caption;
    * ``split``: split name; ``annotated``: has at least one box;
    * ``has_errors``: the last validation (:meth:`WorkStore.set_issues`) found an error for the image.
    """

    category: int | None = None
    text: str | None = None
    split: str | None = None
    annotated: bool | None = None
    has_errors: bool | None = None


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
    """The transactional working store of one dataset folder (see the module docstring).

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
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.execute("PRAGMA cache_size=-65536")
        self._db.executescript(_SCHEMA)
        self._order = {name: SPLIT_ORDER.get(name, 9) for name in dataset.splits}
        with self._tx():
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
                stamps = self._stamps()
                if not force and self._meta_get("stamps") == _dumps(stamps):
                    return False
                rows, categories = self._read_folder()
                with self._tx():
                    if self._db.execute("SELECT 1 FROM image WHERE dirty = 1 LIMIT 1").fetchone():
                        continue  # another process saved meanwhile: flush it and read again
                    self._load(rows, categories)
                    self._meta_set("stamps", _dumps(stamps))
                return True
            raise RuntimeError("the store kept receiving edits while indexing; try again")

    # ------------------------------------------------------------------------------------ reading

    def count(self, f: Filter = Filter()) -> int:  # noqa: B008 - Filter is frozen
        """How many images match the filter."""
        if f.category is not None and f == Filter(category=f.category):
            sql = "SELECT coalesce(sum(images), 0) FROM category_total WHERE category = ?"
            params = [f.category]
        elif f.category is not None and f == Filter(category=f.category, split=f.split):
            sql = "SELECT count(*) FROM image_category WHERE category = ? AND split_order = ?"
            params = [f.category, self._order.get(f.split or "", -1)]
        else:
            source, where, params = self._where(f)
            sql = f"SELECT count(*) FROM {source} WHERE {where}"
        with self._lock:
            return self._db.execute(sql, params).fetchone()[0]

    def keys(self, f: Filter = Filter(), offset: int = 0, limit: int = 48) -> list[Key]:  # noqa: B008
        """The keys of one page of filtered images, in (split order, file_name) order."""
        return [(split, name) for _, split, name in self._page_ids(f, offset, limit)]

    def page(self, f: Filter = Filter(), offset: int = 0, limit: int = 48) -> list[ImageAnnotation]:  # noqa: B008
        """One page of filtered images as annotations, in (split order, file_name) order.

        The offset is walked on an index (no table rows read for skipped images: about 3 ms for a page at
        the end of 100k images), then only the page's rows are fetched. Filters on category (+ split),
        split and annotated use an index; text and combined filters scan in SQL (tens of ms at 100k).
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
        source, where, params = self._where(f)
        alias = "c" if f.category is not None else "i"
        before = f"({alias}.split_order, {alias}.file_name) < (?, ?)"
        sql = f"SELECT count(*) FROM {source} WHERE {where} AND {before}"
        with self._lock:
            return self._db.execute(sql, [*params, self._split_order(key[0]), key[1]]).fetchone()[0]

    def neighbor(self, key: Key, f: Filter = Filter(), step: int = 1) -> Key | None:  # noqa: B008
        """The next (``step=+1``) or previous (``step=-1``) filtered image from ``key``; None at the end."""
        source, where, params = self._where(f)
        alias = "c" if f.category is not None else "i"
        op, direction = (">", "ASC") if step > 0 else ("<", "DESC")
        sql = (
            f"SELECT i.split, i.file_name FROM {source} WHERE {where} AND "
            f"({alias}.split_order, {alias}.file_name) "
            f"{op} (?, ?) ORDER BY {alias}.split_order {direction}, {alias}.file_name {direction} LIMIT 1"
        )
        with self._lock:
            row = self._db.execute(sql, [*params, self._split_order(key[0]), key[1]]).fetchone()
        return (row[0], row[1]) if row else None

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
        """``(images with at least one box, all images)``."""
        with self._lock:
            annotated, total = self._db.execute(
                "SELECT coalesce(sum(annotated), 0), count(*) FROM image"
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
            row = self._db.execute(
                f"SELECT {_ROW} FROM image WHERE split_order = ? AND file_name = ?", (order, file_name)
            ).fetchone()
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
                self._remove_record(row, version)
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
        with self._lock:
            rows = self._db.execute(
                "SELECT split, file_name FROM image WHERE has_record = 1 AND on_disk = 0 "
                "ORDER BY split_order, file_name"
            ).fetchall()
        return [(split, name) for split, name in rows]

    def empty_records(self) -> list[Key]:
        """Images whose records say nothing: no caption, categories or objects (not even malformed ones)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT split, file_name FROM image WHERE has_record = 1 AND n_boxes = 0 AND dropped = 0 "
                "AND coalesce(caption, '') = '' AND categories = '[]' ORDER BY split_order, file_name"
            ).fetchall()
        return [(split, name) for split, name in rows]

    def history(self, limit: int = 50, key: Key | None = None) -> list[Change]:
        """The latest edits, newest first (of one image when ``key`` is given)."""
        sql = "SELECT id, at, split, file_name, action, before, after, version FROM change"
        params: list[Any] = []
        if key is not None:
            sql += " WHERE split = ? AND file_name = ?"
            params = [key[0], key[1]]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
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
            before = self._db.total_changes
            self._db.executemany(
                "INSERT INTO image (split, split_order, file_name, has_record, on_disk, version) "
                "VALUES (?, ?, ?, 0, 1, 1) ON CONFLICT (split_order, file_name) "
                "DO UPDATE SET on_disk = 1 WHERE image.on_disk = 0",
                [(split, order, name) for name in names],
            )
            added = self._db.total_changes - before
            self._restamp_dirs([split])
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
                written += self._flush_split(split)
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
            self._meta_set("validated", _dumps({"at": time.time(), "counts": dict(report.counts)}))

    def issues(self, code: str | None = None, offset: int = 0, limit: int = 100) -> list[Issue]:
        """Stored issues (of one code when given), in report order."""
        where, params = ("WHERE code = ?", [code]) if code else ("", [])
        with self._lock:
            rows = self._db.execute(
                f"SELECT file, line, field, code, message, severity, file_name, split FROM issue {where} "
                "ORDER BY id LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [Issue(*row) for row in rows]

    def issue_counts(self) -> dict[str, int]:
        """Stored issues per code, most frequent first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT code, count(*) n FROM issue GROUP BY code ORDER BY n DESC"
            ).fetchall()
        return dict(rows)

    def validated(self) -> bool:
        """True when a validation report was stored with :meth:`set_issues`."""
        return self._meta_get("validated") is not None

    def issue_keys(self, code: str) -> list[Key]:
        """The images (keys) the stored issues of ``code`` name, once each, in report order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT split, file_name FROM issue WHERE code = ? AND "
                "file_name IS NOT NULL AND split IS NOT NULL "
                "GROUP BY split, file_name ORDER BY min(id)",
                (code,),
            ).fetchall()
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
            before = self._stamps()
            self.dataset.set_category_names([*names, name])
            with self._tx():  # in a flat dataset categories.json sits in the split folder: no re-index for it
                self._keep_dir_stamps(before)
            return len(names)

    def category_counts(self) -> dict[int, int]:
        """Boxes per category id (categories without boxes are left out)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT category, n_boxes FROM category_total WHERE n_boxes > 0 ORDER BY category"
            ).fetchall()
        return dict(rows)

    def boxes_per_image_hist(self) -> dict[int, int]:
        """``{number of boxes: number of images}`` over all images (unlabeled ones count as 0)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT n_boxes, count(*) FROM image GROUP BY n_boxes ORDER BY n_boxes"
            ).fetchall()
        return dict(rows)

    def box_sizes(self, limit: int = 50_000) -> list[tuple[float, float]]:
        """A sample of box ``(w, h)`` in pixels from every k-th image, at most ``limit`` boxes."""
        with self._lock:
            total = self._db.execute("SELECT coalesce(sum(n_boxes), 0) FROM image").fetchone()[0]
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

    def _meta_get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _meta_set(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

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

    def _where(self, f: Filter) -> tuple[str, str, list[Any]]:
        """``(FROM, WHERE, parameters)`` of a filter; ``i`` is the image, ``c`` its category row."""
        conditions: list[str] = []
        params: list[Any] = []
        if f.category is not None:
            source = (
                "image_category c JOIN image i ON i.split_order = c.split_order AND i.file_name = c.file_name"
            )
            conditions.append("c.category = ?")
            params.append(f.category)
        else:
            source = "image i"
        if f.split is not None:
            conditions.append(("c" if f.category is not None else "i") + ".split_order = ?")
            params.append(self._order.get(f.split, -1))
        if f.annotated is not None:
            conditions.append("i.annotated = ?")
            params.append(int(f.annotated))
        if f.has_errors is not None:
            conditions.append("i.errors > 0" if f.has_errors else "i.errors = 0")
        if f.text:
            conditions.append("instr(i.search, ?) > 0")
            params.append(f.text.casefold())
        return source, " AND ".join(conditions) or "1", params

    def _page_ids(self, f: Filter, offset: int, limit: int) -> list[tuple[int, str, str]]:
        source, where, params = self._where(f)
        if f.category is not None and f == Filter(category=f.category, split=f.split):
            # walk the offset on the category index alone, then join only the page's rows
            sql = (
                "SELECT i.id, i.split, i.file_name FROM "
                f"(SELECT c.split_order, c.file_name FROM image_category c WHERE {where} "
                "ORDER BY c.split_order, c.file_name LIMIT ? OFFSET ?) k "
                "JOIN image i ON i.split_order = k.split_order AND i.file_name = k.file_name "
                "ORDER BY k.split_order, k.file_name"
            )
        else:
            alias = "c" if f.category is not None else "i"
            sql = (
                f"SELECT i.id, i.split, i.file_name FROM {source} WHERE {where} "
                f"ORDER BY {alias}.split_order, {alias}.file_name LIMIT ? OFFSET ?"
            )
        with self._lock:
            return self._db.execute(sql, [*params, max(0, limit), max(0, offset)]).fetchall()

    def _remove_record(self, row: tuple[Any, ...], version: int) -> None:
        """Drop an image's record: a row on disk stays (no record); one without a file becomes a tombstone."""
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
        old = self._db.execute(
            "SELECT lines FROM tombstone WHERE split_order = ? AND file_name = ?", (order, row[2])
        ).fetchone()
        lines = sorted(set(orjson.loads(row[7])) | set(orjson.loads(old[0]) if old else ()))
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
        problems = list(rules.record_problems(annotation.to_record()))
        path = self.dataset.image_path(split, file_name)
        info = probe(path)
        if isinstance(info, rules.Problem):
            problems.append(info)
        elif isinstance(info, ImageInfo):
            for i, box in enumerate(annotation.boxes):
                problem = rules.box_outside_problem(
                    box.as_bbox(), info.width, info.height, f"objects.bbox[{i}]"
                )
                if problem:
                    problems.append(problem)
        names = self.dataset.category_names_or_problem()
        if isinstance(names, list) and names:
            unknown = sorted({c for c in [*annotation.categories, *(b.category for b in annotation.boxes)]
                              if c >= len(names)})  # fmt: skip
            if unknown:
                message = f"uses id(s) {unknown} but categories.json names only {len(names)}"
                problems.append(rules.Problem("category.unknown", "objects.categories", message))
        return problems

    # ------------------------------------------------------------------------------------ internals: files

    def _stamps(self) -> dict[str, Any]:
        """``(size, mtime_ns)`` of every metadata file and the ``mtime_ns`` of every split folder."""
        stamps: dict[str, Any] = {}
        for name, split in self.dataset.splits.items():
            stamps[f"meta:{name}"] = _stat(split.metadata_path)
            stamps[f"dir:{name}"] = _stat(split.directory, size=False)
        return stamps

    def _keep_dir_stamps(self, before: dict[str, Any]) -> None:
        """After a change of our own to split folders: take their new stamps if ``before`` was up to date."""
        stored = orjson.loads(self._meta_get("stamps") or "{}")
        current = self._stamps()
        for key, value in before.items():
            if key.startswith("dir:") and stored.get(key) == value:
                stored[key] = current[key]
        self._meta_set("stamps", _dumps(stored))

    def _restamp_dirs(self, splits: Iterable[str]) -> None:
        """Record the current stamps of split folders we changed ourselves (only if they were current)."""
        stored = orjson.loads(self._meta_get("stamps") or "{}")
        for split in splits:
            stored[f"dir:{split}"] = _stat(self.dataset.split(split).directory, size=False)
        self._meta_set("stamps", _dumps(stored))

    def _read_folder(self) -> tuple[list[list[Any]], list[tuple[int, int, str, int, int]]]:
        """Stream every split's records and image files into image rows and image_category rows.

        A clean record (the common case) becomes a row directly; a malformed one, or a second record of
        the same image, goes through :func:`~opsml_image.annotation.merge` semantics.
        """
        rows: list[list[Any]] = []
        index: dict[Key, int] = {}
        for split in self.dataset.splits.values():
            name, order = split.name, self._order[split.name]
            for line, value in split.read_lines():
                if type(value) is not dict or type(value.get("file_name")) is not str:
                    continue
                key = (name, value["file_name"])
                at = index.get(key)
                if at is None:
                    index[key] = len(rows)
                    rows.append(
                        _quick_row(line, value, name, order) or _load_row(merge([(line, value)], name), order)
                    )
                else:  # several records for one image: fold this one into what came before
                    previous = _annotation_from_load_row(rows[at], name)
                    rows[at] = _load_row(_fold(previous, merge([(line, value)], name)), order)
            names = {
                posixpath.normpath(k[1].replace("\\", "/")): at for k, at in index.items() if k[0] == name
            }
            for _, relative in self.dataset.image_files(name):
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

    def _load(self, rows: list[list[Any]], categories: list[tuple[int, int, str, int, int]]) -> None:
        """Replace the index with freshly read rows, keeping versions (bumped where the content changed)."""
        db = self._db
        if db.execute("SELECT 1 FROM image LIMIT 1").fetchone() is None:  # a new store: plain bulk insert
            db.executemany(
                f"INSERT OR REPLACE INTO image ({_LOAD_COLUMNS}) VALUES ({', '.join('?' * 16)})", rows
            )
            self._load_categories(categories)
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
        self._load_categories(categories)

    def _load_categories(self, categories: list[tuple[int, int, str, int, int]]) -> None:
        db = self._db
        db.execute("DELETE FROM image_category")
        db.executemany("INSERT OR REPLACE INTO image_category VALUES (?, ?, ?, ?, ?)", categories)
        db.execute("DELETE FROM category_total")
        db.execute(
            "INSERT INTO category_total "
            "SELECT category, sum(n_boxes), count(*) FROM image_category GROUP BY category"
        )

    def _flush_split(self, split: str) -> int:
        """Write one split's pending edits (inside the flush transaction)."""
        part = self.dataset.split(split)
        order = self._order[split]
        stored = orjson.loads(self._meta_get("stamps") or "{}")
        meta_key, dir_key = f"meta:{split}", f"dir:{split}"
        current = _stat(part.metadata_path)
        stale = stored.get(meta_key) != current
        dir_current = stored.get(dir_key) == _stat(part.directory, size=False)
        dirty = self._db.execute(
            f"SELECT {_ROW} FROM image WHERE split_order = ? AND dirty = 1", (order,)
        ).fetchall()
        tombs = self._db.execute(
            "SELECT file_name, lines FROM tombstone WHERE split_order = ?", (order,)
        ).fetchall()
        lines_of = {row[2]: orjson.loads(row[7]) for row in dirty}
        tomb_lines = {name: orjson.loads(lines) for name, lines in tombs}
        if stale:  # the file changed behind our back: find the lines again by file_name
            found = _lines_by_file_name(part.metadata_path, set(lines_of) | set(tomb_lines))
            lines_of = {name: found.get(name, []) for name in lines_of}
            tomb_lines = {name: found.get(name, []) for name in tomb_lines}
        replace: dict[int, list[dict[str, Any]]] = {}
        append: list[dict[str, Any]] = []
        appended: list[int] = []
        for lines in tomb_lines.values():
            replace.update((line, []) for line in lines)
        for row in dirty:
            lines = lines_of[row[2]]
            replace.update((line, []) for line in lines)
            if row[9]:  # has a record
                record = _annotation(row).to_record()
                if lines:
                    replace[lines[0]] = [record]
                else:
                    append.append(record)
                    appended.append(row[0])
        rewrite_lines(part.metadata_path, replace, append)
        if not stale:
            self._renumber(order, replace, dirty, lines_of, appended, part.metadata_path)
        self._db.execute("UPDATE image SET dirty = 0 WHERE split_order = ? AND dirty = 1", (order,))
        self._db.execute("DELETE FROM tombstone WHERE split_order = ?", (order,))
        if not stale:
            stored[meta_key] = _stat(part.metadata_path)
            if dir_current:
                stored[dir_key] = _stat(part.directory, size=False)
            self._meta_set("stamps", _dumps(stored))
        return len(dirty) + len(tombs)

    def _renumber(
        self,
        order: int,
        replace: dict[int, list[dict[str, Any]]],
        dirty: list[tuple[Any, ...]],
        lines_of: dict[str, list[int]],
        appended: list[int],
        path: Path,
    ) -> None:
        """Give every row of the split its line numbers in the rewritten file."""
        shifts = sorted((line, len(new) - 1) for line, new in replace.items() if len(new) != 1)
        starts = [line for line, _ in shifts]
        totals: list[int] = []
        running = 0
        for _, delta in shifts:
            running += delta
            totals.append(running)

        def moved(line: int) -> int:
            at = bisect.bisect_left(starts, line)
            return line + (totals[at - 1] if at else 0)

        updates: list[tuple[str, int | None, int | None, int]] = []
        dirty_ids = {row[0] for row in dirty}
        if shifts:
            for row_id, lines in self._db.execute(
                "SELECT id, lines FROM image WHERE split_order = ? AND last_line > ?", (order, starts[0])
            ).fetchall():
                if row_id not in dirty_ids:
                    new = [moved(line) for line in orjson.loads(lines)]
                    updates.append((_dumps(new), min(new), max(new), row_id))
        for row in dirty:
            lines = lines_of[row[2]]
            new = [moved(lines[0])] if row[9] and lines else []
            updates.append((_dumps(new), min(new, default=None), max(new, default=None), row[0]))
        if appended:
            total = _count_lines(path)
            for i, row_id in enumerate(appended):
                line = total - len(appended) + i + 1
                updates.append((_dumps([line]), line, line, row_id))
        self._db.executemany(
            "UPDATE image SET lines = ?, first_line = ?, last_line = ? WHERE id = ?", updates
        )


class AutoFlusher:
    """A daemon thread that flushes the store at most ``delay`` seconds after a :meth:`notify`.

    Call :meth:`notify` after every save; edits made within one ``delay`` window are written together.
    :meth:`stop` flushes what is pending and ends the thread. A failed flush is logged, kept in
    :attr:`last_error` and retried on the next notify.
    """

    def __init__(self, store: WorkStore, delay: float = 2.0) -> None:
        self.store, self.delay = store, delay
        self.last_error: BaseException | None = None
        self.flushes = 0
        self._due: float | None = None
        self._stopping = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="opsml-image-autoflush", daemon=True)
        self._thread.start()

    def notify(self) -> None:
        """Ask for a flush within ``delay`` seconds (a pending request is not postponed)."""
        with self._wake:
            if self._due is None:
                self._due = time.monotonic() + self.delay
                self._wake.notify()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Flush pending edits now and end the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (self._due is None or self._due > time.monotonic()):
                    wait = None if self._due is None else self._due - time.monotonic()
                    self._wake.wait(wait)
                stopping = self._stopping
                self._due = None
            self._flush()
            if stopping:
                return

    def _flush(self) -> None:
        try:
            self.store.flush()
            self.flushes += 1
            self.last_error = None
        except Exception as error:  # noqa: BLE001 - keep the thread alive; the app shows last_error
            self.last_error = error
            log.exception("flushing the working store failed")


# ---------------------------------------------------------------------------------------- row helpers


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _stat(path: Path, size: bool = True) -> list[int] | int | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns] if size else st.st_mtime_ns


def _count_lines(path: Path) -> int:
    """Lines as :func:`rewrite_lines` numbers them (a last line without a newline counts)."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _lines_by_file_name(path: Path, names: set[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    if not names or not path.exists():
        return found
    for line, value in read_lines(path):
        if type(value) is dict and value.get("file_name") in names:
            found.setdefault(value["file_name"], []).append(line)
    return found


def _boxes_json(boxes: Sequence[Box]) -> str:
    return _dumps([[b.x, b.y, b.w, b.h, b.category] for b in boxes])


def _columns(a: ImageAnnotation) -> tuple[Any, ...]:
    """``caption, search, categories, boxes, extra, n_boxes, annotated`` of an annotation."""
    return (
        a.caption,
        a.caption.casefold() if a.caption else None,
        _dumps(list(a.categories)),
        _boxes_json(a.boxes),
        _dumps(a.extra),
        len(a.boxes),
        int(bool(a.boxes)),
    )


def _load_row(a: ImageAnnotation, order: int) -> list[Any]:
    """The ``fresh`` row of an annotation read from a metadata file (on_disk filled in later)."""
    lines = list(a.lines)
    return [a.split, order, a.file_name, *_columns(a), _dumps(lines), min(lines, default=None),
            max(lines, default=None), a.dropped_boxes, 1, 0]  # fmt: skip


_NUMBER = frozenset((int, float))
_OBJECT_KEYS = frozenset(("bbox", "categories"))


def _quick_row(line: int, record: dict[str, Any], split: str, order: int) -> list[Any] | None:
    """The ``fresh`` row of one clean record without building :class:`Box` objects; None when not clean.

    Clean: caption absent or a string, ``categories`` absent or a list of ids >= 0 without repeats,
    ``objects`` absent or exactly ``{bbox, categories}`` of equal length with finite boxes of positive size.
    The row equals ``_load_row(merge([(line, record)]))``, except that numbers stay as written in the file.
    """
    caption = record.get("caption")
    if caption is not None and type(caption) is not str:
        return None
    tags = record.get("categories")
    if tags is None:
        tags = []
    elif type(tags) is not list or (
        tags and (set(map(type, tags)) != {int} or min(tags) < 0 or len(set(tags)) != len(tags))
    ):
        return None
    objects = record.get("objects")
    boxes: list[list[Any]] = []
    if objects is not None:
        if type(objects) is not dict or objects.keys() != _OBJECT_KEYS:
            return None
        bbox, ids = objects["bbox"], objects["categories"]
        if type(bbox) is not list or type(ids) is not list or len(bbox) != len(ids):
            return None
        if bbox:
            try:
                if set(map(type, bbox)) != {list} or set(map(len, bbox)) != {4}:
                    return None
                flat = [v for box in bbox for v in box]
                if (
                    not set(map(type, flat)) <= _NUMBER
                    or not math.isfinite(sum(flat))
                    or min(flat[2::4]) <= 0
                    or min(flat[3::4]) <= 0
                    or set(map(type, ids)) != {int}
                    or min(ids) < 0
                ):
                    return None
            except (TypeError, OverflowError):
                return None
            boxes = [[*box, category] for box, category in zip(bbox, ids, strict=True)]
    extra = {} if record.keys() <= _KNOWN_KEYS else {k: v for k, v in record.items() if k not in _KNOWN_KEYS}
    n = len(boxes)
    lines = f"[{line}]"
    return [split, order, record["file_name"], caption, caption.casefold() if caption else None, _dumps(tags),
            _dumps(boxes), _dumps(extra), n, int(n > 0), lines, line, line, 0, 1, 0]  # fmt: skip


def _annotation_from_load_row(row: list[Any], split: str) -> ImageAnnotation:
    return ImageAnnotation(
        file_name=row[2],
        split=split,
        caption=row[3],
        categories=orjson.loads(row[5]),
        boxes=[Box(x, y, w, h, c) for x, y, w, h, c in orjson.loads(row[6])],
        lines=tuple(orjson.loads(row[10])),
        extra=orjson.loads(row[7]),
        dropped_boxes=row[13],
    )


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


def _annotation(row: tuple[Any, ...]) -> ImageAnnotation:
    """An annotation from an ``image`` row selected with ``_ROW``."""
    return ImageAnnotation(
        file_name=row[2],
        split=row[1],
        caption=row[3],
        categories=orjson.loads(row[4]),
        boxes=[Box(x, y, w, h, c) for x, y, w, h, c in orjson.loads(row[5])],
        lines=tuple(orjson.loads(row[7])),
        extra=orjson.loads(row[6]),
        dropped_boxes=row[8],
    )


def _normalised(a: ImageAnnotation, key: Key) -> ImageAnnotation:
    """What a save stores: boxes rounded to 2 decimals (ones rounded to no size dropped), ids checked,
    repeated image categories once, an empty caption as None, the key's split and file name."""
    boxes: list[Box] = []
    for box in a.boxes:
        if type(box.category) is not int or box.category < 0:
            raise ValueError(f"box category must be an integer id >= 0, got {box.category!r}")
        if not all(math.isfinite(v) for v in box.as_bbox()):
            raise ValueError(f"box coordinates must be finite numbers, got {box.as_bbox()}")
        rounded = box.rounded(2)
        if rounded.w > 0 and rounded.h > 0:
            boxes.append(rounded)
    categories: list[int] = []
    for category in a.categories:
        if type(category) is not int or category < 0:
            raise ValueError(f"image category must be an integer id >= 0, got {category!r}")
        if category not in categories:
            categories.append(category)
    return ImageAnnotation(
        file_name=key[1],
        split=key[0],
        caption=a.caption or None,
        categories=categories,
        boxes=boxes,
        lines=a.lines,
        extra=dict(a.extra),
    )


def _category_counts(box_categories: Iterable[int], tagged: Iterable[int]) -> dict[int, tuple[int, int]]:
    counts = Counter(box_categories)
    tags = set(tagged)
    return {c: (counts.get(c, 0), int(c in tags)) for c in sorted(set(counts) | tags)}


def _category_rows(a: ImageAnnotation) -> dict[int, tuple[int, int]]:
    return _category_counts((b.category for b in a.boxes), a.categories)


def _snapshot(a: ImageAnnotation | None) -> str | None:
    if a is None:
        return None
    boxes = [[b.x, b.y, b.w, b.h, b.category] for b in a.boxes]
    return _dumps({"caption": a.caption, "categories": a.categories, "boxes": boxes, "extra": a.extra})


def _from_snapshot(text: str | None, key: Key) -> ImageAnnotation | None:
    if text is None:
        return None
    data = orjson.loads(text)
    return ImageAnnotation(
        file_name=key[1],
        split=key[0],
        caption=data["caption"],
        categories=data["categories"],
        boxes=[Box(x, y, w, h, c) for x, y, w, h, c in data["boxes"]],
        extra=data["extra"],
    )


def _change(row: tuple[Any, ...]) -> Change:
    change_id, at, split, file_name, action, before, after, version = row
    key = (split, file_name)
    return Change(
        change_id, at, key, action, _from_snapshot(before, key), _from_snapshot(after, key), version
    )
