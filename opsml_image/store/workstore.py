"""The :class:`WorkStore` facade of one dataset folder: opens the database and delegates each call to the
concern modules (reading, index, editing, issues, stats, flush) inside one transaction.

The design (tables, transactions, concurrency) is described in :mod:`opsml_image.store`.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image import config
from opsml_image.annotation import ImageAnnotation
from opsml_image.dataset import SPLIT_ORDER, FolderMoved, ImageDataset
from opsml_image.registry.locks import named_lock
from opsml_image.store import claim, editing, index, issues, reading, stats, unit
from opsml_image.store.editing import Change
from opsml_image.store.errors import FolderClaimed, FolderReplaced, Key, StaleEdit, StillIndexing, StoreError
from opsml_image.store.filters import Filter
from opsml_image.store.flush import flush_split, pending_splits
from opsml_image.store.rows import ImageRow
from opsml_image.store.schema import (
    Scope,
    create_schema,
    dataset_id,
    lock_dataset,
    make_engine,
    read_meta,
    read_transaction,
    refuse_unflushed_legacy,
    write_transaction,
)
from opsml_image.store.tables import IMAGE
from opsml_image.store.unit import Companion
from opsml_image.validation import Issue, ValidationReport

#: How long a flush or re-index waits for another process's flush of the same folder.
FLUSH_WAIT_SECONDS = 300.0
#: Rows per transaction of a first index (readers see the index grow by this much).
INDEX_CHUNK = 5000

Progress = Callable[[int, int], None]
"""``progress(done, total)``: how far an index is; it may raise to stop the index (it runs again later)."""

T = TypeVar("T")
R = TypeVar("R")

Edit = tuple[Key, ImageAnnotation | None, int]
"""One edit of :meth:`WorkStore.edit_many`: ``(key, annotation or None to remove the record, version)``."""


def store_path(dataset_dir: Path) -> Path:
    """The default database of a dataset folder: ``<home>/stores/<short hash of its resolved path>.db``."""
    digest = hashlib.sha256(str(Path(dataset_dir).resolve()).encode()).hexdigest()[:16]
    return config.home() / "stores" / f"{digest}.db"


def store_url(dataset_dir: Path, location: Path | str | None = None) -> str:
    """The SQLAlchemy URL of a folder's store: ``location`` (a SQLite file path or a URL), else
    ``OPSML_IMAGE_STORE_URI``, else the SQLite file :func:`store_path`."""
    if isinstance(location, str) and "://" in location:
        return location
    if location is not None:
        return f"sqlite:///{Path(location).expanduser().resolve()}"
    return config.store_uri() or f"sqlite:///{store_path(dataset_dir)}"


class WorkStore:
    """The transactional working store of one dataset folder (see :mod:`opsml_image.store`).

    Open it with :meth:`open`, call :meth:`sync` to (re)index the folder, read with :meth:`count`,
    :meth:`page`, :meth:`get`; edit with :meth:`save` / :meth:`delete` / :meth:`edit` / :meth:`undo`, each
    stating the version it edited, or :meth:`edit_with` (one edit and a companion's writes, such as its review
    status, in one transaction); write the edits back with :meth:`flush` (or let an :class:`AutoFlusher` do
    it). All methods are thread-safe.

    A folder has one store: opening writes the store marker into it (:mod:`~opsml_image.store.claim`), and
    a folder whose marker names another store is refused with :class:`FolderClaimed`. Writes are refused
    with :class:`FolderReplaced` once the folder is no longer the directory the dataset opened (moved, or
    swapped for a link): the edits stay in the store.
    """

    def __init__(
        self, dataset: ImageDataset, location: Path | str | None = None, *, take_over: bool = False
    ) -> None:
        if not isinstance(dataset.metadata, str):
            raise ValueError("WorkStore needs a dataset whose metadata is a file, not in-memory records")
        self.dataset = dataset
        self.url = store_url(dataset.image_dir, location)
        self.engine = make_engine(self.url)
        database = self.engine.url.database
        #: The SQLite file (None on PostgreSQL).
        self.db_path = Path(database) if self.engine.url.get_backend_name() == "sqlite" and database else None
        self._lock = threading.RLock()
        try:
            create_schema(self.engine)
            self._conn = self.engine.connect()
            self._path = str(dataset.image_dir.resolve())
            with write_transaction(self._conn) as conn:
                refuse_unflushed_legacy(conn, self._path)
                self.scope = Scope(
                    dataset_id(conn, self._path), {n: SPLIT_ORDER.get(n, 9) for n in dataset.splits}
                )
                self.store_id = claim.store_id(conn)
        except sa.exc.OperationalError as error:
            self.engine.dispose()
            raise StoreError(
                f"cannot open the working store {self.engine.url.render_as_string()}: {error.orig}"
            ) from None
        default = location is None and not config.store_uri()
        try:
            self._marker = claim.marker_of(
                dataset, self.store_id, *claim.where(self.engine.url, config.home() if default else None)
            )
            #: False when the folder's marker could not be written (a read-only folder: nothing is written).
            self.claimed = self._claim(take_over)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------------------------ lifecycle

    @classmethod
    def open(
        cls, dataset: ImageDataset, location: Path | str | None = None, *, take_over: bool = False
    ) -> WorkStore:
        """Open (creating if needed) the store of ``dataset``: ``location`` is a SQLite file or a SQLAlchemy
        URL; by default ``OPSML_IMAGE_STORE_URI`` or the SQLite file :func:`store_path`.

        :class:`FolderClaimed` when another store holds the folder; ``take_over`` takes it from a store
        that is provably gone (see :func:`opsml_image.store.claim.claim`).
        """
        return cls(dataset, location, take_over=take_over)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            self.engine.dispose()

    def __enter__(self) -> WorkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(self, force: bool = False, progress: Progress | None = None) -> bool:
        """Index the folder when its metadata files (or split folders) changed since the last index.

        Pending edits are flushed first, so nothing is lost. Returns True when it re-indexed. Images added
        in nested sub-folders are only seen with ``force=True`` (only the split folders' own stamps are kept).

        A first index (or the rest of an interrupted one) commits its rows in chunks of :data:`INDEX_CHUNK`
        in key order, calling ``progress(done, total)`` after each: readers see the images indexed so far
        and :meth:`indexing` says how far it is; saves are refused meanwhile (:class:`StillIndexing`). The
        stamps are saved last, so an interrupted index runs again on the next sync. A re-index of an indexed
        folder stays one transaction: it replaces rows that have versions and maybe edits, and readers keep
        the old index until the new one is complete.
        """
        with self._flush_lock():
            for _ in range(3):
                self._flush_locked()
                found = index.stamps(self.dataset)
                with self._read() as conn:
                    first = index.first_index_due(conn, self.scope)
                    if not force and not first and index.stored_stamps(conn, self.scope) == found:
                        return False
                if first and self._index_in_chunks(found, progress):
                    return True
                if first:
                    continue  # someone saved meanwhile: flush it first
                rows = index.read_folder(self.dataset, self.scope)
                with self._write() as conn:
                    lock_dataset(conn, self.scope, exclusive=True)
                    if reading.dirty_count(conn, self.scope):
                        continue  # someone saved meanwhile: flush it and read again
                    index.load(conn, self.scope, rows)
                    index.save_stamps(conn, self.scope, found)
                return True
        raise StoreError("the store kept receiving edits while indexing; try again")

    def first_index_due(self) -> bool:
        """True until the folder's first index is complete (none yet, or one was interrupted)."""
        with self._read() as conn:
            return index.first_index_due(conn, self.scope)

    def _append(
        self, rows: list[ImageRow], known: index.Versions, before: int, total: int, progress: Progress | None
    ) -> None:
        """Commit one chunk of a first index (``before`` rows are in already) and report the progress."""
        done = before + len(rows)
        with self._write() as conn:
            lock_dataset(conn, self.scope, exclusive=True)
            index.append_chunk(conn, self.scope, index.versioned(rows, known), done, total)
        if progress is not None:
            progress(done, total)
        time.sleep(0.001)  # let a waiting reader (the page being drawn) take the store's lock

    def indexing(self) -> tuple[int, int] | None:
        """``(images indexed, images in all)`` while a first index is under way (``total`` is 0 while the
        folder is being read); None when the index is complete."""
        with self._read() as conn:
            return index.indexing(conn, self.scope)

    def _index_in_chunks(self, found: dict[str, Any], progress: Progress | None) -> bool:
        """The first index, committed chunk by chunk in key order (see :meth:`sync`); False (nothing done)
        when an edit was saved since the last flush."""
        with self._write() as conn:
            lock_dataset(conn, self.scope, exclusive=True)
            if reading.dirty_count(conn, self.scope):
                return False
            index.set_indexing(conn, self.scope, 0, 0)  # saves are refused from here on
        if progress is not None:
            progress(0, 0)
        keys = index.scan_keys(self.dataset, self.scope)
        with self._write() as conn:
            lock_dataset(conn, self.scope, exclusive=True)
            keys = index.in_key_order(conn, keys, lambda key: key)
            known = index.known_versions(conn, self.scope)  # an interrupted index's rows keep their versions
            index.start_chunks(conn, self.scope, len(keys))
        if progress is not None:
            progress(0, len(keys))
        first = dict(zip(keys[:INDEX_CHUNK], range(INDEX_CHUNK), strict=False))  # key -> place
        rows = index.read_folder(self.dataset, self.scope, first.__contains__)  # the first page's rows alone
        rows.sort(key=lambda row: first[index.row_key(row)])
        self._append(rows, known, 0, len(keys), progress)
        rest = index.read_folder(self.dataset, self.scope, lambda key: key not in first)
        with self._read() as conn:
            rest = index.in_key_order(conn, rest, index.row_key)
        total = len(rows) + len(rest)
        for start in range(0, len(rest), INDEX_CHUNK):
            self._append(rest[start : start + INDEX_CHUNK], known, len(rows) + start, total, progress)
        with self._write() as conn:
            lock_dataset(conn, self.scope, exclusive=True)
            index.finish_chunks(conn, self.scope, found)
        return True

    # ------------------------------------------------------------------------------------ reading

    def count(self, f: Filter = Filter()) -> int:  # noqa: B008 - Filter is frozen
        """How many images match the filter (from the kept totals when it is on split and annotated only)."""
        with self._read() as conn:
            return reading.count(conn, self.scope, f)

    def keys(self, f: Filter = Filter(), offset: int = 0, limit: int = 48) -> list[Key]:  # noqa: B008
        """The keys of one page of filtered images, in (split order, file_name) order."""
        with self._read() as conn:
            return [(split, name) for _, split, name in reading.page_ids(conn, self.scope, f, offset, limit)]

    def page(self, f: Filter = Filter(), offset: int = 0, limit: int = 48) -> list[ImageAnnotation]:  # noqa: B008
        """One page of filtered images as annotations, in (split order, file_name) order."""
        with self._read() as conn:
            ids = [row_id for row_id, _, _ in reading.page_ids(conn, self.scope, f, offset, limit)]
            rows = reading.rows_by_id(conn, ids)
        return [r.annotation() for r in rows]

    def get(self, split: str, file_name: str) -> ImageAnnotation | None:
        """One image's annotation (empty when it has no record); None when the store has no such image."""
        with self._read() as conn:
            found = reading.row(conn, self.scope, (split, file_name))
        return found.annotation() if found else None

    def version(self, split: str, file_name: str) -> int:
        """The image's version counter (0 when the store has no such image); pass it to :meth:`save`."""
        with self._read() as conn:
            return reading.version(conn, self.scope, (split, file_name))

    def image_info(self, split: str, file_name: str) -> dict[str, Any] | None:
        """Store facts about an image: has_record, on_disk, dirty, errors, warnings, dropped, version."""
        with self._read() as conn:
            found = reading.row(conn, self.scope, (split, file_name))
        return reading.info(found) if found else None

    def position(self, key: Key, f: Filter = Filter()) -> int:  # noqa: B008
        """The 0-based index of ``key`` among the filtered images (where it would be if it does not match)."""
        with self._read() as conn:
            return reading.position(conn, self.scope, key, f)

    def neighbor(self, key: Key, f: Filter = Filter(), step: int = 1) -> Key | None:  # noqa: B008
        """The next (``step=+1``) or previous (``step=-1``) filtered image from ``key``; None at the end."""
        with self._read() as conn:
            return reading.neighbor(conn, self.scope, key, f, step)

    def next_unlabeled(self, after: Key | None = None) -> Key | None:
        """The first image without boxes after ``after`` (key order, wrapping around); None if none.

        When ``after`` is itself the only unlabeled image, it is returned.
        """
        with self._read() as conn:
            return reading.next_unlabeled(conn, self.scope, after)

    def progress(self) -> tuple[int, int]:
        """``(images with at least one box, all images)``, from the kept totals."""
        with self._read() as conn:
            return reading.progress(conn, self.scope)

    def dirty_count(self) -> int:
        """How many images have edits not yet flushed to the metadata files (deletions included)."""
        with self._read() as conn:
            return reading.dirty_count(conn, self.scope)

    def missing_images(self) -> list[Key]:
        """Images that have a record but no file on disk (as of the last index), in key order."""
        with self._read() as conn:
            return reading.keys_where(conn, self.scope, reading.MISSING)

    def empty_records(self) -> list[Key]:
        """Images whose records say nothing: no caption, categories or objects (not even malformed ones)."""
        with self._read() as conn:
            return reading.keys_where(conn, self.scope, reading.EMPTY)

    # ------------------------------------------------------------------------------------ editing

    def save(self, annotation: ImageAnnotation, expected_version: int, *, user: str | None = None) -> int:
        """Store an edited annotation (boxes rounded to 2 decimals) and return its new version.

        The image is ``(annotation.split, annotation.file_name)``; it need not have a record yet (a new image
        gets one, appended on flush). Boxes that round to zero width or height are dropped; a negative
        category id or a non-finite coordinate raises ``ValueError``.

        ``expected_version`` is the version the editor read (:meth:`version`; 0 for an image the store does
        not have); when the image changed since, :class:`StaleEdit` is raised and nothing is stored. The
        edit is recorded (with ``user``) for :meth:`undo` and written to the metadata file by :meth:`flush`.
        """
        key = (annotation.split, annotation.file_name)
        return self.edit(key, annotation, expected_version, user=user).version

    def delete(self, split: str, file_name: str, expected_version: int, *, user: str | None = None) -> int:
        """Remove the image's records (on the next flush) and return the new version; undoable.

        The image file is not deleted: an image on disk stays in the store as an image without a record.
        """
        return self.edit((split, file_name), None, expected_version, action="delete", user=user).version

    def edit(
        self,
        key: Key,
        after: ImageAnnotation | None,
        expected_version: int,
        action: str = "save",
        *,
        user: str | None = None,
    ) -> Change:
        """Set the image's annotation (``None`` removes its records); returns the history entry."""
        return self.edit_many([(key, after, expected_version)], action, user=user)[0]

    def edit_many(
        self, edits: Sequence[Edit], action: str = "save", *, user: str | None = None
    ) -> list[Change]:
        """Several edits ``(key, after, expected_version)`` in one transaction: all or none.

        A :class:`StaleEdit` (or any error) for one image rolls back all of them.
        """
        prepared = [(self._prepare(key, after), version) for key, after, version in edits]
        return self._in_write(lambda conn: unit.apply(conn, self.scope, prepared, action, user), edits)

    def edit_with(
        self,
        companion: Companion[T],
        key: Key,
        after: ImageAnnotation | None,
        expected_version: int,
        *,
        action: str = "save",
        user: str | None = None,
    ) -> tuple[Change, T]:
        """One edit and its companion's writes in one transaction (:mod:`~opsml_image.store.unit`): the
        companion checks first (raising refuses the edit), writes after the image; anything raised rolls
        both back. Returns the history entry and what the companion wrote."""
        prepared = self._prepare(key, after)

        def work(conn: Connection) -> tuple[Change, T]:
            return unit.apply_with(conn, self.scope, companion, prepared, expected_version, action, user)

        return self._in_write(work, [(key, after, expected_version)])

    def undo(self, change_id: int, *, user: str | None = None) -> ImageAnnotation:
        """Restore the image's state from before change ``change_id`` as a new version (itself undoable).

        Undo is an edit like any other: :class:`StaleEdit` when the image changed since that change.
        Returns the restored annotation (an empty one when the image had no record before the change).
        """
        return self.undo_many([change_id], user=user)[0]

    def undo_many(self, change_ids: Iterable[int], *, user: str | None = None) -> list[ImageAnnotation]:
        """Undo several changes in one transaction, newest first; returns the restored annotations."""
        with self._read() as conn:  # history entries never change: read, then prepared outside the write
            changes = [editing.change(conn, self.scope, i) for i in sorted(change_ids, reverse=True)]
        prepared = [(self._prepare(c.key, c.before), c.version) for c in changes]

        def undo(conn: Connection) -> list[ImageAnnotation]:
            lock_dataset(conn, self.scope, exclusive=False)
            restored: list[ImageAnnotation] = []
            for edit, version in prepared:
                editing.edit(conn, self.scope, edit, version, "undo", user)
                found = reading.row(conn, self.scope, edit.key)
                split, file_name = edit.key
                restored.append(
                    found.annotation() if found else ImageAnnotation(file_name=file_name, split=split)
                )
            return restored

        with self._write() as conn:
            return undo(conn)

    def history(
        self,
        limit: int = 50,
        key: Key | None = None,
        user: str | None = None,
        since: float | datetime | None = None,
    ) -> list[Change]:
        """The latest changes, newest first: of one image (``key``), one ``user``, at or after ``since``."""
        at = since.timestamp() if isinstance(since, datetime) else since
        with self._read() as conn:
            return editing.history(conn, self.scope, limit, key, user, at)

    def change(self, change_id: int) -> Change:
        """One history entry by id (KeyError when unknown)."""
        with self._read() as conn:
            return editing.change(conn, self.scope, change_id)

    def add_images(self, split: str, names: Iterable[str]) -> int:
        """Add rows for new image files of a split (after an upload); returns how many were new or newly
        on disk. The split folder's stamp is taken as current, so the upload does not cause a re-index."""
        order = self.scope.order(split)
        wanted = list(dict.fromkeys(names))
        with self._write() as conn:
            lock_dataset(conn, self.scope, exclusive=False)
            self._refuse_while_indexing(conn)
            in_split = (IMAGE.c.dataset == self.scope.dataset, IMAGE.c.split_order == order)
            known: dict[str, int] = {}
            if wanted:
                query = sa.select(IMAGE.c.file_name, IMAGE.c.on_disk).where(
                    *in_split, IMAGE.c.file_name.in_(wanted)
                )
                known = {name: on_disk for name, on_disk in conn.execute(query)}
            new = [name for name in wanted if name not in known]
            found = [name for name in wanted if known.get(name) == 0]
            if new:
                conn.execute(
                    IMAGE.insert(),
                    [{"dataset": self.scope.dataset, "split": split, "split_order": order, "file_name": name,
                      "has_record": 0, "on_disk": 1, "version": 1} for name in new],
                )  # fmt: skip
                stats.bump_image_totals(conn, self.scope, {(order, 0): len(new)})
            if found:
                on_disk = IMAGE.update().where(*in_split, IMAGE.c.file_name == sa.bindparam("n"))
                conn.execute(on_disk.values(on_disk=1), [{"n": name} for name in found])
            index.restamp_dirs(conn, self.scope, self.dataset, [split])
        return len(new) + len(found)

    # ------------------------------------------------------------------------------------ flushing

    def flush(self) -> int:
        """Write every pending edit into the metadata files atomically; returns how many images were written.

        One process flushes a folder at a time (the others wait); saves go on during a flush and stay
        pending for the next one when they touch an image being written. An edited image's first source
        line is replaced by its record and its other lines deleted; an image without lines is appended
        to its split's metadata file; untouched lines stay byte for byte. When a metadata file changed
        behind the store's back, the edited images' lines are found again by ``file_name`` (and the next
        :meth:`sync` re-indexes).
        """
        with self._flush_lock():
            return self._flush_locked()

    def _flush_locked(self) -> int:
        self._check_folder()
        with self._read() as conn:
            splits = pending_splits(conn, self.scope)
        if splits:
            self._hold_folder()
        try:
            return sum(
                flush_split(self._read, self._write, self.scope, self.dataset, split) for split in splits
            )
        except FolderReplaced:
            raise
        except FolderMoved as error:  # between the splits: the rest stays pending
            raise FolderReplaced(str(error)) from None

    # ------------------------------------------------------------------------------------ issues

    def set_issues(self, report: ValidationReport) -> None:
        """Store a validation report: its issue rows and per-image error/warning counts (``has_errors``)."""
        with self._write() as conn:
            lock_dataset(conn, self.scope, exclusive=False)
            self._refuse_while_indexing(conn)
            issues.store_report(conn, self.scope, report)

    def issues(self, code: str | None = None, offset: int = 0, limit: int = 100) -> list[Issue]:
        """Stored issues (of one code when given), in report order."""
        with self._read() as conn:
            return issues.stored(conn, self.scope, code, offset, limit)

    def issue_counts(self) -> dict[str, int]:
        """Stored issues per code, most frequent first."""
        with self._read() as conn:
            return issues.counts(conn, self.scope)

    def validated(self) -> bool:
        """True when a validation report was stored with :meth:`set_issues`."""
        with self._read() as conn:
            return read_meta(conn, self.scope, "validated") is not None

    def validation_summary(self) -> dict[str, Any] | None:
        """The last stored validation: ``at`` (epoch s), exact ``counts`` per code then, and ``truncated``
        (True when the report kept fewer issue rows than it counted); None before any."""
        with self._read() as conn:
            return issues.summary(conn, self.scope)

    def issue_keys(self, code: str) -> list[Key]:
        """The images (keys) the stored issues of ``code`` name, once each, in report order."""
        with self._read() as conn:
            return issues.keys(conn, self.scope, code)

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
            self._hold_folder()
            before = index.stamps(self.dataset)
            self.dataset.set_category_names([*names, name])
            with self._write() as conn:  # in a flat dataset categories.json sits in the split folder
                index.keep_dir_stamps(conn, self.scope, self.dataset, before)
            return len(names)

    def category_counts(self) -> dict[int, int]:
        """Boxes per category id (categories without boxes are left out)."""
        with self._read() as conn:
            return stats.category_counts(conn, self.scope)

    def boxes_per_image_hist(self) -> dict[int, int]:
        """``{number of boxes: number of images}`` over all images (unlabeled ones count as 0)."""
        with self._read() as conn:
            return stats.boxes_per_image_hist(conn, self.scope)

    def box_sizes(self, limit: int = 50_000) -> list[tuple[float, float]]:
        """A sample of box ``(w, h)`` in pixels from every k-th image, at most ``limit`` boxes."""
        with self._read() as conn:
            return stats.box_sizes(conn, self.scope, limit)

    # ------------------------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock, read_transaction(self._conn) as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        self._check_folder()  # nothing read from a replaced folder is stored
        with self._lock, write_transaction(self._conn) as conn:
            yield conn

    def _check_folder(self) -> None:
        """:class:`FolderReplaced` once the folder is not the directory the dataset opened (one ``stat``)."""
        try:
            self.dataset.check_in_place()
        except FolderMoved as error:
            raise FolderReplaced(str(error)) from None

    def _claim(self, take_over: bool = False) -> bool:
        """Claim the folder for this store (:func:`opsml_image.store.claim.claim`)."""
        try:
            return claim.claim(self.dataset, self._marker, take_over)
        except FolderReplaced:
            raise
        except FolderMoved as error:
            raise FolderReplaced(str(error)) from None

    def _hold_folder(self) -> None:
        """Before writing into the folder: it is still this store's, and it can be written."""
        if not self._claim():
            raise StoreError(
                f"{self._path} cannot be written by this process (read-only): edits stay in the working store"
            )

    def _flush_lock(self) -> contextlib.AbstractContextManager[None]:
        """The folder's flush lock (advisory lock on PostgreSQL, ``flock`` beside a SQLite file)."""

        def busy(waited: float) -> StoreError:
            return StoreError(
                f"another process is still flushing {self._path} after {waited:.0f} s; try again"
            )

        return named_lock(
            self.engine,
            f"flush-{self.scope.dataset}",
            f"opsml-image-store/flush/{self._path}",
            exclusive=True,
            wait=FLUSH_WAIT_SECONDS,
            busy=busy,
        )

    def _refuse_while_indexing(self, conn: Connection) -> None:
        """:class:`StillIndexing` while a first index is under way (its chunks would not see the edit)."""
        under_way = index.indexing(conn, self.scope)
        if under_way is not None:
            raise StillIndexing(*under_way)

    def _prepare(self, key: Key, after: ImageAnnotation | None) -> editing.Prepared:
        """An edit made ready outside any transaction (the files it needs are read here)."""
        return editing.prepare(self.dataset, self.scope, key, after)

    def _in_write(self, work: Callable[[Connection], R], edits: Sequence[Edit]) -> R:
        """``work`` in a write transaction, again when a concurrent insert won a race the version check could
        not see (PostgreSQL: another server created one of these images, or a companion's row, first): the
        next attempt sees that row. After three, :class:`StaleEdit`."""
        for attempt in range(3):
            try:
                with self._write() as conn:
                    return work(conn)
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise self._stale_of(edits) from None
        raise AssertionError("unreachable")

    def _stale_of(self, edits: Sequence[Edit]) -> StaleEdit:
        """The StaleEdit to report when a concurrent writer won a race the version check could not see."""
        with self._read() as conn:
            for key, _, expected in edits:
                actual = reading.version(conn, self.scope, key)
                if actual != expected:
                    return StaleEdit(key, expected, actual)
        key, _, expected = edits[0]
        return StaleEdit(key, expected, expected + 1)


__all__ = [
    "SPLIT_ORDER",
    "Change",
    "FolderClaimed",
    "FolderReplaced",
    "StaleEdit",
    "StillIndexing",
    "WorkStore",
    "store_path",
    "store_url",
]
