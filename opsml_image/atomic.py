"""Atomic file replacement: a temp file in the same folder, fsync, rename; a crash never half-writes.

The temp file is named ``.<target>.<host>-<pid>.<random>.tmp`` (``host``: 8 hex digits of the machine's
name). A process killed mid-write leaves it behind; :func:`remove_stale_temps` deletes such debris when it
is stale: written on this machine by a process that no longer runs, or untouched for :data:`STALE_AFTER`
seconds (a live writer touches its file at every 1 MiB it writes). :func:`is_temp_name` tells these names
apart, so a folder listing never counts them as content; :func:`is_tool_file` also tells the working
store's marker (:data:`STORE_MARKER`) apart. :func:`create_bytes` writes a new file whole or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "STALE_AFTER",
    "STORE_MARKER",
    "create_bytes",
    "is_tool_file",
    "atomic_writer",
    "atomic_write_bytes",
    "fsync_dir",
    "is_temp_name",
    "remove_stale_temps",
    "sync_filesystem",
]

#: Seconds after which a temp file nobody touched is debris, whichever machine wrote it.
STALE_AFTER = 3600
#: The file naming the working store that holds a dataset folder (:mod:`opsml_image.store.claim`): kept in the
#: folder, never dataset content.
STORE_MARKER = ".opsml-image.json"
_HOST = hashlib.blake2s(socket.gethostname().encode(), digest_size=4).hexdigest()
#: What :func:`tempfile.mkstemp` makes with our prefix: ``.<target>.[<host>-<pid>.]<8 random>.tmp``.
_DEBRIS = re.compile(r"^\..+?(?:\.(?P<host>[0-9a-f]{8})-(?P<pid>\d+))?\.[a-z0-9_]{8}\.tmp$")


def is_temp_name(name: str) -> bool:
    """True for a hidden ``*.tmp`` name: an atomic write in progress or its debris, never dataset content."""
    return name.startswith(".") and name.endswith(".tmp")


def is_tool_file(name: str) -> bool:
    """True for a file opsml-image keeps in a dataset folder that is not dataset content: an atomic write's
    temp file, or the store marker :data:`STORE_MARKER`."""
    return name == STORE_MARKER or is_temp_name(name)


def remove_stale_temps(directory: str | Path, *, now: float | None = None) -> list[Path]:
    """Delete the stale temp files :func:`atomic_writer` left in ``directory`` (not below it); return them.

    Only names this module makes are considered (older versions wrote no host and pid: only age counts for
    them); a file is stale when its writer (same machine) is dead, or when it was last modified more than
    :data:`STALE_AFTER` seconds ago. Errors are ignored (another
    process may remove the same file first).
    """
    removed: list[Path] = []
    now = time.time() if now is None else now
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = _DEBRIS.match(entry.name) if entry.name[0] == "." else None
            if not match:
                continue
            with contextlib.suppress(OSError):
                if not entry.is_file(follow_symlinks=False):
                    continue
                old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
                dead = match["host"] == _HOST and not _alive(int(match["pid"] or 0))
                if old or dead:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs under another user
        return True
    return True


@contextlib.contextmanager
def atomic_writer(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary temp file beside ``path``; on a clean exit it replaces ``path`` atomically.

    On an exception the temp file is removed and ``path`` is left exactly as it was. The file keeps the
    permissions of the file it replaces (or the umask default for a new one).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.{_HOST}-{os.getpid()}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
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


def create_bytes(path: str | Path, data: bytes) -> bool:
    """Create ``path`` holding ``data``, whole or not at all; False (nothing written) when it exists.

    The data goes to a temp file (fsynced) that is then hard-linked to ``path``, which fails when ``path``
    exists, so of two processes creating it at once exactly one wins. Where the filesystem has no hard
    links the file is created exclusively and written in place.
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{_HOST}-{os.getpid()}.", suffix=".tmp",
                                    dir=target.parent)  # fmt: skip
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _copy_mode(target, Path(tmp_name))
        try:
            os.link(tmp_name, target)
        except FileExistsError:
            return False
        except OSError:  # no hard links here (some network and FAT filesystems)
            return _create_in_place(target, data)
    finally:
        os.unlink(tmp_name)
    fsync_dir(target.parent)
    return True


def _create_in_place(target: Path, data: bytes) -> bool:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_dir(target.parent)
    return True


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
