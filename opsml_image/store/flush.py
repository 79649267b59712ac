"""Flushing: writing a split's edited rows and tombstones into its metadata file, then renumbering lines.

The caller holds the folder's flush lock (one flusher per folder across processes and servers). A split
is flushed in three steps, and saves go on meanwhile:

1. read its dirty rows and tombstones (with their versions) in a short read transaction;
2. rewrite the file with :func:`~opsml_image.jsonl.rewrite_lines` (untouched lines kept byte for byte),
   outside any transaction;
3. in a short write transaction: map every stored line number of the split through the rewrite, clear
   ``dirty`` only on rows whose version is still the one written, and empty only the tombstones written
   (a tombstone without lines stays: it keeps the deleted image's version, so an undo can follow it).
   A save that committed during step 2 keeps its row dirty for the next flush.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.dataset import ImageDataset
from opsml_image.jsonl import rewrite_lines
from opsml_image.store.index import save_stamps, stat, stored_stamps
from opsml_image.store.reading import ROW_SELECT
from opsml_image.store.rows import ImageRow, dumps
from opsml_image.store.schema import IMAGE, Scope, lock_dataset
from opsml_image.store.tables import TOMBSTONE

Transaction = Callable[[], AbstractContextManager[Connection]]
"""Opens a transaction on the store's connection (read or write)."""


_TOMBS_PENDING = TOMBSTONE.c.lines != "[]"
_TOMB_KEY = (
    TOMBSTONE.c.dataset == sa.bindparam("d"),
    TOMBSTONE.c.split_order == sa.bindparam("o"),
    TOMBSTONE.c.file_name == sa.bindparam("n"),
)
#: Written: clean again, unless a save made a newer version meanwhile.
_CLEAN = (
    IMAGE.update()
    .where(IMAGE.c.id == sa.bindparam("row_id"), IMAGE.c.version == sa.bindparam("written"))
    .values(dirty=0)
)
#: Written: the tombstone stays, without lines, to keep the image's version.
_TOMB_WRITTEN = (
    TOMBSTONE.update().where(*_TOMB_KEY, TOMBSTONE.c.version == sa.bindparam("written")).values(lines="[]")
)
_SET_LINES = (
    IMAGE.update()
    .where(IMAGE.c.id == sa.bindparam("row_id"))
    .values(lines=sa.bindparam("new"), first_line=sa.bindparam("first"), last_line=sa.bindparam("last"))
)
_SET_TOMB_LINES = TOMBSTONE.update().where(*_TOMB_KEY).values(lines=sa.bindparam("new"))


def pending_splits(conn: Connection, scope: Scope) -> list[str]:
    """The splits with edits to write."""
    found = conn.execute(
        sa.union(
            sa.select(IMAGE.c.split).where(IMAGE.c.dataset == scope.dataset, IMAGE.c.dirty == 1),
            sa.select(TOMBSTONE.c.split).where(TOMBSTONE.c.dataset == scope.dataset, _TOMBS_PENDING),
        )
    )
    return sorted((r[0] for r in found), key=lambda name: scope.orders.get(name, 9))


@dataclass(frozen=True)
class _Pending:
    rows: list[ImageRow]
    tombs: dict[str, tuple[list[int], int]]  # file_name -> (lines, version)
    stamps: dict[str, Any]


def flush_split(
    read: Transaction, write: Transaction, scope: Scope, dataset: ImageDataset, split: str
) -> int:
    """Write one split's pending edits; returns how many images were written."""
    part = dataset.split(split)
    order = scope.order(split)
    with read() as conn:
        pending = _read_pending(conn, scope, order)
    meta_key, dir_key = f"meta:{split}", f"dir:{split}"
    stale = pending.stamps.get(meta_key) != stat(part.metadata_path)
    dir_current = pending.stamps.get(dir_key) == stat(part.directory, size=False)
    lines_of = {r.file_name: list(orjson.loads(r.lines)) for r in pending.rows}
    tomb_lines = {name: lines for name, (lines, _) in pending.tombs.items()}
    if stale:  # the file changed behind our back: find the lines again by file_name
        found = _lines_by_file_name(dataset, split, set(lines_of) | set(tomb_lines))
        lines_of = {name: found.get(name, []) for name in lines_of}
        tomb_lines = {name: found.get(name, []) for name in tomb_lines}
    replace: dict[int, list[dict[str, Any]]] = {}
    append: list[dict[str, Any]] = []
    appended: list[str] = []
    for lines in tomb_lines.values():
        replace.update((line, []) for line in lines)
    for r in pending.rows:
        lines = lines_of[r.file_name]
        replace.update((line, []) for line in lines)
        if r.has_record:
            record = r.annotation().to_record()
            if lines:
                replace[lines[0]] = [record]
            else:
                append.append(record)
                appended.append(r.file_name)
    dataset.check_in_place()  # never into a folder swapped for another since it was opened
    rewrite_lines(part.metadata_path, replace, append)
    with write() as conn:
        lock_dataset(conn, scope, exclusive=True)
        if not stale:
            total = _count_lines(part.metadata_path) if appended else 0
            new_lines = {name: total - len(appended) + i + 1 for i, name in enumerate(appended)}
            _renumber(conn, scope, order, _LineMap(replace), new_lines)
        if pending.rows:
            conn.execute(_CLEAN, [{"row_id": r.id, "written": r.version} for r in pending.rows])
        if pending.tombs:
            written = pending.tombs.items()
            conn.execute(_TOMB_WRITTEN, [{"d": scope.dataset, "o": order, "n": n, "written": v}
                                         for n, (_, v) in written])  # fmt: skip
        if not stale:
            stamps = stored_stamps(conn, scope)
            stamps[meta_key] = stat(part.metadata_path)
            if dir_current:
                stamps[dir_key] = stat(part.directory, size=False)
            save_stamps(conn, scope, stamps)
    return len(pending.rows) + len(pending.tombs)


def _read_pending(conn: Connection, scope: Scope, order: int) -> _Pending:
    dirty = ROW_SELECT.where(
        IMAGE.c.dataset == scope.dataset, IMAGE.c.split_order == order, IMAGE.c.dirty == 1
    )
    rows = [ImageRow(*r) for r in conn.execute(dirty)]
    tombs = {
        name: (list(orjson.loads(lines)), int(version))
        for name, lines, version in conn.execute(
            sa.select(TOMBSTONE.c.file_name, TOMBSTONE.c.lines, TOMBSTONE.c.version).where(
                TOMBSTONE.c.dataset == scope.dataset, TOMBSTONE.c.split_order == order, _TOMBS_PENDING
            )
        )
    }
    return _Pending(rows, tombs, stored_stamps(conn, scope))


class _LineMap:
    """Where each line of the file before a rewrite is after it (None: the line was removed)."""

    def __init__(self, replace: dict[int, list[dict[str, Any]]]) -> None:
        self.replace = replace
        shifts = sorted((line, len(new) - 1) for line, new in replace.items() if len(new) != 1)
        self.starts = [line for line, _ in shifts]
        self.totals: list[int] = []
        running = 0
        for _, delta in shifts:
            running += delta
            self.totals.append(running)

    @property
    def first_moved(self) -> int | None:
        """The first line whose number or existence changes (None: no line moves)."""
        return self.starts[0] if self.starts else None

    def __call__(self, line: int) -> int | None:
        new = self.replace.get(line)
        if new is not None and not new:
            return None
        at = bisect.bisect_left(self.starts, line)
        return line + (self.totals[at - 1] if at else 0)


def _renumber(conn: Connection, scope: Scope, order: int, moved: _LineMap, appended: dict[str, int]) -> None:
    """Give every row and tombstone of the split its line numbers in the rewritten file (whatever edits
    committed meanwhile: line numbers are only written here and by a re-index)."""
    first = moved.first_moved
    if first is None and not appended:
        return
    conditions = []
    if first is not None:
        conditions.append(IMAGE.c.last_line >= first)
    if appended:
        conditions.append(IMAGE.c.last_line.is_(None))
    moving = sa.select(IMAGE.c.id, IMAGE.c.file_name, IMAGE.c.lines).where(
        IMAGE.c.dataset == scope.dataset, IMAGE.c.split_order == order, sa.or_(*conditions)
    )
    updates: list[dict[str, Any]] = []
    for row_id, file_name, lines in conn.execute(moving):
        old = orjson.loads(lines)
        new = _mapped(old, moved, appended.get(file_name))
        if new != old:
            updates.append({"row_id": row_id, "new": dumps(new), "first": min(new, default=None),
                            "last": max(new, default=None)})  # fmt: skip
    if updates:
        conn.execute(_SET_LINES, updates)
    tomb_updates = []
    for file_name, lines in conn.execute(
        sa.select(TOMBSTONE.c.file_name, TOMBSTONE.c.lines).where(
            TOMBSTONE.c.dataset == scope.dataset, TOMBSTONE.c.split_order == order
        )
    ):
        old = orjson.loads(lines)
        new = _mapped(old, moved, appended.get(file_name))
        if new != old:
            tomb_updates.append({"d": scope.dataset, "o": order, "n": file_name, "new": dumps(new)})
    if tomb_updates:
        conn.execute(_SET_TOMB_LINES, tomb_updates)


def _mapped(lines: list[int], moved: _LineMap, appended: int | None) -> list[int]:
    new = [line for line in (moved(old) for old in lines) if line is not None]
    if appended is not None:
        new.append(appended)
    return sorted(new)


def _count_lines(path: Path) -> int:
    """Lines as :func:`rewrite_lines` numbers them (a last line without a newline counts)."""
    count, last = 0, b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _lines_by_file_name(dataset: ImageDataset, split: str, names: set[str]) -> dict[str, list[int]]:
    """The lines of the split's records that name one of ``names``, by file name."""
    found: dict[str, list[int]] = {}
    if names:
        for item in dataset.iter_records(split):
            if item.record["file_name"] in names:
                found.setdefault(item.record["file_name"], []).append(item.line)
    return found
