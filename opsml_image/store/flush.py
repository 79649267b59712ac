"""Flushing: folding a split's edited rows and tombstones into its metadata file, then renumbering lines.

:func:`~opsml_image.jsonl.rewrite_lines` keeps every untouched line byte for byte; afterwards the store learns
the new line numbers and file stamps, so the next sync does not re-index.
"""

from __future__ import annotations

import bisect
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from opsml_image.dataset import ImageDataset
from opsml_image.jsonl import rewrite_lines
from opsml_image.store.index import _save_stamps, _stat, _stored_stamps
from opsml_image.store.rows import _ROW, _annotation, _dumps


def _flush_split(
    db: sqlite3.Connection, dataset: ImageDataset, split_orders: dict[str, int], split: str
) -> int:
    """Write one split's pending edits (inside the flush transaction)."""
    part = dataset.split(split)
    order = split_orders[split]
    stored = _stored_stamps(db)
    meta_key, dir_key = f"meta:{split}", f"dir:{split}"
    current = _stat(part.metadata_path)
    stale = stored.get(meta_key) != current
    dir_current = stored.get(dir_key) == _stat(part.directory, size=False)
    dirty = db.execute(f"SELECT {_ROW} FROM image WHERE split_order = ? AND dirty = 1", (order,)).fetchall()
    tombs = db.execute("SELECT file_name, lines FROM tombstone WHERE split_order = ?", (order,)).fetchall()
    lines_of = {row[2]: orjson.loads(row[7]) for row in dirty}
    tomb_lines = {name: orjson.loads(lines) for name, lines in tombs}
    if stale:  # the file changed behind our back: find the lines again by file_name
        found = _lines_by_file_name(dataset, split, set(lines_of) | set(tomb_lines))
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
        _renumber(db, order, replace, dirty, lines_of, appended, part.metadata_path)
    db.execute("UPDATE image SET dirty = 0 WHERE split_order = ? AND dirty = 1", (order,))
    db.execute("DELETE FROM tombstone WHERE split_order = ?", (order,))
    if not stale:
        stored[meta_key] = _stat(part.metadata_path)
        if dir_current:
            stored[dir_key] = _stat(part.directory, size=False)
        _save_stamps(db, stored)
    return len(dirty) + len(tombs)


def _renumber(
    db: sqlite3.Connection,
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
        for row_id, lines in db.execute(
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
    db.executemany("UPDATE image SET lines = ?, first_line = ?, last_line = ? WHERE id = ?", updates)


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
