"""Signatures computed once per image: a SQLite cache under the app home, keyed by folder, path, size and
modification time, so a file is hashed again only when it changed.

``<home>/quality.db`` (private, WAL) holds one row per image file of every folder checked on this machine.
A row is used while the file's size and ``mtime_ns`` are those it was hashed with; a file touched within
:data:`RACY_NS` of its hashing is not remembered (a change in the same clock tick could go unseen), as the
registry's own hash cache does. Files are hashed by a few threads (decoding
and hashing release the GIL); rows are written in batches, so a stopped run keeps what it did.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from opsml_image import config, sqldb
from opsml_image.confine import Confinement
from opsml_image.quality.findings import Key
from opsml_image.quality.signatures import Signature, Unreadable, signature

__all__ = ["CacheError", "Progress", "RACY_NS", "SignatureCache", "Signed"]

#: ``progress(done, total)``: image files signed so far.
Progress = Callable[[int, int], None]
#: A file modified this close to its hashing is hashed again next time (the registry's rule).
RACY_NS = 2_000_000_000
#: Rows written at a time (and the progress step).
BATCH = 512
_SIGNED = 1 << 63

_tables = sa.MetaData()
SIGNATURE = sa.Table(
    "quality_signature",
    _tables,
    sa.Column("folder", sa.Text, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),  # relative POSIX path inside the folder
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("mtime_ns", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("phash", sa.Integer, nullable=False),  # signed 64-bit (SQLite integers are)
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)


class CacheError(Exception):
    """The cache database cannot be opened."""


@dataclass
class Signed:
    """The images signed (by key), those that could not be (with why), and how many were hashed anew."""

    signatures: dict[Key, Signature] = field(default_factory=dict)
    unreadable: dict[Key, str] = field(default_factory=dict)
    hashed: int = 0


@dataclass(frozen=True, slots=True)
class _File:
    key: Key
    path: str
    relative: str
    size: int
    mtime_ns: int


class SignatureCache:
    """The signature cache in ``path`` (default ``<home>/quality.db``); safe to share between threads."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else config.home() / "quality.db"
        self.engine = sqldb.make_engine(f"sqlite:///{self.path}", what="quality cache", error=CacheError)
        _tables.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    def sign(
        self,
        folder: str | Path,
        files: Iterable[tuple[Key, str | Path]],
        progress: Progress | None = None,
        workers: int | None = None,
    ) -> Signed:
        """The signature of each image file ``(key, path)`` of the dataset ``folder``: from the cache while
        the file is unchanged, else computed (by ``workers`` threads) and remembered. A file outside the
        folder (through a link), missing or unreadable is listed with its reason instead."""
        root = os.path.realpath(folder)
        folder = os.path.abspath(folder)
        signed = Signed()
        todo = self._unchanged(root, self._stat(root, folder, files, signed), signed)
        total = len(signed.signatures) + len(todo)
        done = len(signed.signatures)
        if progress is not None:
            progress(done, total)
        threads = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="quality-sign") as pool:
            for start in range(0, len(todo), BATCH):
                batch = todo[start : start + BATCH]
                now = time.time_ns()
                rows = []
                for item, found in zip(batch, pool.map(_sign, batch), strict=True):
                    if isinstance(found, str):  # its reason, with paths inside the folder made relative
                        signed.unreadable[item.key] = found.replace(f"{root}/", "").replace(f"{folder}/", "")
                        continue
                    signed.signatures[item.key] = found
                    signed.hashed += 1
                    if item.mtime_ns < now - RACY_NS:
                        rows.append(_row(root, item, found))
                self._remember(rows)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        return signed

    def forget(self, folder: str | Path) -> int:
        """Drop the rows of a folder; how many there were."""
        with self.engine.begin() as conn:
            gone = conn.execute(sa.delete(SIGNATURE).where(SIGNATURE.c.folder == os.path.realpath(folder)))
        return gone.rowcount or 0

    def _stat(
        self, root: str, folder: str, files: Iterable[tuple[Key, str | Path]], signed: Signed
    ) -> list[_File]:
        """The files inside the folder as they stand (size, mtime; their path relative to ``folder``)."""
        confinement = Confinement(root)
        prefix = folder + os.sep
        found = []
        for key, path in files:
            outside = confinement.outside_problem(path, f"{key[0]}/{key[1]}")
            if outside is not None:
                signed.unreadable[key] = outside.message
                continue
            try:
                st = os.stat(path)
            except OSError as error:
                signed.unreadable[key] = f"cannot read {key[0]}/{key[1]}: {error.strerror}"
                continue
            text = os.fspath(path)
            relative = text[len(prefix) :] if text.startswith(prefix) else os.path.relpath(text, folder)
            found.append(_File(key, text, relative.replace(os.sep, "/"), st.st_size, st.st_mtime_ns))
        return found

    def _unchanged(self, root: str, files: Sequence[_File], signed: Signed) -> list[_File]:
        """Put the cached signatures of unchanged files in ``signed``; the files left to sign."""
        columns = [
            SIGNATURE.c[name] for name in ("path", "size", "mtime_ns", "content", "phash", "width", "height")
        ]
        query = sa.select(*columns).where(SIGNATURE.c.folder == root)
        with self.engine.connect() as conn:
            rows = {row[0]: tuple(row[1:]) for row in conn.execute(query)}
        todo = []
        for item in files:
            row = rows.get(item.relative)
            if row is None or row[:2] != (item.size, item.mtime_ns):
                todo.append(item)
                continue
            _, _, content, phash, width, height = row
            signed.signatures[item.key] = Signature(
                content, phash + (1 << 64) if phash < 0 else phash, width, height
            )
        return todo

    def _remember(self, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        statement = sa.text(
            "INSERT OR REPLACE INTO quality_signature (folder, path, size, mtime_ns, content, phash, width, "
            "height) VALUES (:folder, :path, :size, :mtime_ns, :content, :phash, :width, :height)"
        )
        with self.engine.begin() as conn:
            conn.execute(statement, rows)


def _sign(item: _File) -> Signature | str:
    try:
        return signature(item.path)
    except Unreadable as error:
        return str(error)


def _row(root: str, item: _File, found: Signature) -> dict[str, object]:
    phash = found.phash - (1 << 64) if found.phash >= _SIGNED else found.phash
    return {
        "folder": root,
        "path": item.relative,
        "size": item.size,
        "mtime_ns": item.mtime_ns,
        "content": found.content,
        "phash": phash,
        "width": found.width,
        "height": found.height,
    }
