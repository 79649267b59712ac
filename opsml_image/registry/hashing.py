"""Content hashes (xxh3-128, streamed in chunks), the folder scan, and a stat-keyed cache of file hashes.

The cache lets an unchanged re-registration skip reading the images again, as git's index does: an entry is
trusted only while the file's size, mtime, ctime, inode and device are those it was hashed with, and only if
the file had not been touched within :data:`RACY_NS` of the hashing (a later change in the same clock tick
could otherwise go unseen).
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import xxhash

from opsml_image.atomic import is_tool_file
from opsml_image.confine import is_inside, kind_of, open_regular, outside_message
from opsml_image.registry.errors import RegistryError

__all__ = [
    "HASH_NAME",
    "CHUNK",
    "new_hasher",
    "hash_file",
    "hash_bytes",
    "FileEntry",
    "scan",
    "listing",
    "HashCache",
]

HASH_NAME = "xxh3_128"
CHUNK = 1 << 20
RACY_NS = 2_000_000_000


def new_hasher() -> xxhash.xxh3_128:
    return xxhash.xxh3_128()


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def hash_file(path: str | Path) -> tuple[str, int]:
    """``(hex digest, size)`` of a file, read in 1 MiB chunks."""
    hasher, size = new_hasher(), 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open_regular(path, buffering=0) as handle:
        raw = cast(io.FileIO, handle)  # unbuffered: reads straight into our buffer
        while n := raw.readinto(buffer):
            hasher.update(view[:n])
            size += n
    return hasher.hexdigest(), size


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a dataset folder as it was when scanned."""

    path: str  # relative POSIX path inside the folder
    absolute: str
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    dev: int

    @property
    def stat(self) -> tuple[int, int, int, int, int]:
        """What says the file is unchanged: size, mtime, ctime, inode and device."""
        return (self.size, self.mtime_ns, self.ctime_ns, self.ino, self.dev)


def scan(root: str | Path) -> list[FileEntry]:
    """Every regular file below ``root`` (hidden ones included), sorted by relative path.

    Symbolic links are followed, to files and to folders alike (as validation and Hugging Face read the
    folder), as long as their real path stays inside ``root``. :class:`RegistryError` refuses a link
    leading outside (a dataset never carries a host's files), a FIFO, socket or device, and a link back to
    a folder above it. Temp files of atomic writes and the working store's marker
    (:func:`opsml_image.atomic.is_tool_file`) are not dataset files and are left out.
    """
    base = os.fspath(root)
    real_root = os.path.realpath(base)
    found: list[FileEntry] = []

    def walk(directory: str, prefix: str, above: frozenset[tuple[int, int]]) -> None:
        with os.scandir(directory) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink() and not is_inside(os.path.realpath(entry.path), real_root):
                    raise RegistryError(f"{outside_message(rel, base)}; move the file into the folder")
                if entry.is_dir():
                    st = entry.stat()
                    if (st.st_dev, st.st_ino) in above:
                        raise RegistryError(
                            f"{rel} in {base} links back to a folder above it: a dataset cannot hold a loop"
                        )
                    walk(entry.path, rel + "/", above | {(st.st_dev, st.st_ino)})
                elif entry.is_file() and is_tool_file(entry.name):
                    continue
                elif entry.is_file():
                    st = entry.stat()
                    found.append(
                        FileEntry(
                            rel, entry.path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev
                        )
                    )
                elif not entry.is_symlink() or os.path.exists(entry.path):  # a dangling link holds nothing
                    kind = kind_of(entry.stat().st_mode)
                    raise RegistryError(f"{rel} in {base} is {kind}, not a regular file: it is not stored")

    top = os.stat(base)
    walk(base, "", frozenset({(top.st_dev, top.st_ino)}))
    found.sort(key=lambda e: e.path)
    return found


def listing(root: str | Path) -> dict[str, tuple[int, int, int, int, int]]:
    """:func:`scan` as relative path -> :attr:`FileEntry.stat` (the files a validation verdict judged)."""
    return {e.path: e.stat for e in scan(root)}


class HashCache:
    """Hashes of local files keyed by absolute path and stat, in a small SQLite file (safe across threads)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            with contextlib.suppress(sqlite3.Error, OSError):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER,"
                    " mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER, dev INTEGER, hash TEXT)"
                )
                self._db = db

    def lookup(self, entries: Iterable[FileEntry]) -> dict[str, str]:
        """The cached hash of each entry whose stat still matches, by relative path."""
        if self._db is None:
            return {}
        wanted = {e.absolute: e for e in entries}
        if not wanted:
            return {}
        found: dict[str, str] = {}
        low, high = min(wanted), max(wanted)
        query = "SELECT path, size, mtime_ns, ctime_ns, ino, dev, hash FROM hashes WHERE path BETWEEN ? AND ?"
        with self._lock, contextlib.suppress(sqlite3.Error):
            for absolute, *stat, digest in self._db.execute(query, (low, high)):
                e = wanted.get(absolute)
                if e is not None and e.stat == tuple(stat):
                    found[e.path] = digest
        return found

    def store(self, hashed: Iterable[tuple[FileEntry, str]]) -> None:
        """Remember hashes, skipping files touched within :data:`RACY_NS` of now (racily clean)."""
        if self._db is None:
            return
        limit = time.time_ns() - RACY_NS
        rows = [(e.absolute, *e.stat, digest) for e, digest in hashed if max(e.mtime_ns, e.ctime_ns) < limit]
        with self._lock, contextlib.suppress(sqlite3.Error), self._db:
            self._db.executemany("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
