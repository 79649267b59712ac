"""The working store of dataset folders: an indexed, transactional, shared copy of their annotations.

The app edits images here, not in ``metadata.jsonl``: a save is one small database transaction, and
:meth:`WorkStore.flush` later folds the edited (``dirty``) rows back into the metadata files with
:func:`opsml_image.jsonl.rewrite_lines`, which keeps every untouched line byte for byte.

Backends (SQLAlchemy 2 Core, no ORM): by default one SQLite file per folder,
``<home>/stores/<hash of the folder's resolved path>.db`` (WAL, ``synchronous=FULL``: a committed save
survives a crash; writes in ``BEGIN IMMEDIATE`` transactions), so every process of the user that opens a
folder meets the same store whatever its current directory. With ``OPSML_IMAGE_STORE_URI`` naming a
PostgreSQL database, several app servers share one store; **several folders share that database**: every
table is keyed by a ``dataset`` column, the id of the folder's row (its resolved path) in ``store_dataset``.

Modules, one concern each:

* :mod:`~opsml_image.store.tables`: every table of the database (review's too), created when a store opens;
* :mod:`~opsml_image.store.schema`: the engine, the schema's creation, transactions, the dataset row;
* :mod:`~opsml_image.store.rows`: the one row layout (:class:`~opsml_image.store.rows.ImageRow`) and
  its conversions to annotations, history snapshots;
* :mod:`~opsml_image.store.filters` and :mod:`~opsml_image.store.reading`: filtered counts, pages, images;
* :mod:`~opsml_image.store.index`: reading a folder into rows (records merged by ``annotation.merge``)
  and loading them;
* :mod:`~opsml_image.store.editing`: versioned edits (prepared outside the transaction, then read and written
  in it) and the history (who changed what, when);
* :mod:`~opsml_image.store.unit`: the unit of work of an edit: one transaction for the image and what a
  *companion* writes beside it (the review status, with the edit rule: :meth:`WorkStore.edit_with`);
* :mod:`~opsml_image.store.issues`: the last validation's issues and re-checking an edited image;
* :mod:`~opsml_image.store.stats`: the kept totals and category statistics;
* :mod:`~opsml_image.store.flush` and :mod:`~opsml_image.store.flusher`: writing edits back;
* :mod:`~opsml_image.store.claim`: the folder's store marker (one store per folder, whoever opens it);
* :mod:`~opsml_image.store.workstore`: the :class:`WorkStore` facade the app and the CLI call.

Tables (``store_`` prefix): ``image`` (one row per image keyed by ``(dataset, split_order, file_name)``:
merged annotation as JSON text, ``n_boxes``, ``annotated``, source ``lines``, ``has_record``, ``on_disk``,
``version``, ``dirty``, validation ``errors``/``warnings``; images on disk without a record are rows too);
``image_category`` (per image and category: boxes and tagged, for the category filter and counts);
``image_total`` and ``category_total`` (kept in Python inside each transaction, so counts read a few rows);
``tombstone`` (lines of deleted records whose file is missing); ``change`` (the history: before/after,
version, user, time); ``issue``; ``meta`` (file stamps, last validation).

Concurrency: every write states the version it edited (0: no row yet) and is refused with
:class:`StaleEdit` otherwise, undo included; on PostgreSQL edited rows are locked ``FOR UPDATE``. An edit is
one transaction: its row, category rows and totals, issues, history entry and its companion's rows (the
review status) commit together or not at all; no file is read inside it. One
process flushes a folder at a time (a PostgreSQL advisory lock, or ``flock`` beside the SQLite file,
from :func:`opsml_image.registry.locks.named_lock`); a save that commits during a flush stays dirty
(the flush clears ``dirty`` only where the version is the one it wrote). Within a process one
connection per store is shared by threads under a lock.

One store per folder: the folder's marker ``.opsml-image.json`` names the store that holds it, and
another store (another ``OPSML_IMAGE_HOME`` or ``OPSML_IMAGE_STORE_URI``) is refused with
:class:`FolderClaimed`. A folder moved or swapped for a link since it was opened is neither read nor
written (:class:`FolderReplaced`); its edits stay in the store.
"""

from opsml_image.store.editing import Change
from opsml_image.store.errors import FolderClaimed, FolderReplaced, Key, StaleEdit, StillIndexing, StoreError
from opsml_image.store.filters import Filter
from opsml_image.store.flusher import AutoFlusher
from opsml_image.store.rows import ImageRow
from opsml_image.store.workstore import SPLIT_ORDER, WorkStore, store_path, store_url

__all__ = [
    "WorkStore",
    "Filter",
    "Key",
    "Change",
    "ImageRow",
    "StaleEdit",
    "StillIndexing",
    "StoreError",
    "FolderClaimed",
    "FolderReplaced",
    "AutoFlusher",
    "store_path",
    "store_url",
    "SPLIT_ORDER",
]
