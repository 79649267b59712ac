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
* ``image_total``: ``(split_order, annotated) -> images``, kept by triggers on ``image``:
  :meth:`WorkStore.progress` and counts filtered on split / annotated read a few rows, not 100k.
* ``tombstone``: source lines of deleted records whose image file is missing (the row is gone; flush
  removes the lines).
* ``change``: the edit history (before/after snapshots) for undo.
* ``issue``: the rows of the last validation report; ``meta``: file stamps and settings.

Concurrency: one connection guarded by a lock (the app shares one store across sessions and flushes
from a background thread); WAL mode with ``synchronous=FULL`` so a committed save survives a crash, and
``BEGIN IMMEDIATE`` so two processes on the same database serialise their writes.
"""

from opsml_image.store.filters import Filter
from opsml_image.store.flusher import AutoFlusher
from opsml_image.store.rows import Key
from opsml_image.store.workstore import SPLIT_ORDER, Change, StaleEdit, WorkStore, store_path

__all__ = ["WorkStore", "Filter", "Key", "Change", "StaleEdit", "AutoFlusher", "store_path", "SPLIT_ORDER"]
