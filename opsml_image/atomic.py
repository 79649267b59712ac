"""Atomic file replacement: a temp file in the same folder, fsync, rename; a crash never half-writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_writer", "atomic_write_bytes", "fsync_dir", "sync_filesystem"]


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary temp file beside ``path``; on a clean exit it replaces ``path`` atomically.

    On an exception the temp file is removed and ``path`` is left exactly as it was. The file keeps the
    permissions of the file it replaces (or the umask default for a new one).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _copy_mode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically and return the path."""
    with atomic_writer(path) as handle:
        handle.write(data)
    return Path(path)


def _copy_mode(source: Path, dest: Path) -> None:
    try:
        os.chmod(dest, source.stat().st_mode & 0o7777)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(dest, 0o666 & ~umask)


def fsync_dir(directory: str | Path) -> None:
    """Flush a folder's entries (a rename or a new file) to disk; a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sync_filesystem(path: str | Path) -> None:
    """Flush every pending write of the filesystem holding ``path`` (Linux ``syncfs``; else ``os.sync``).

    One call puts thousands of freshly written files on disk for about the cost of writing them, where an
    fsync per file would wait for the disk once per file.
    """
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)
