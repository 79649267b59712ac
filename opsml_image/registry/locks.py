"""Per-card locks between registrations (shared) and garbage collection (exclusive).

A registration stores blobs before its card row exists, and reuses blobs already in storage; a garbage
collection that ran meanwhile could delete those. So a registration holds a card's lock *shared* from
before it lists the stored blobs until its row is committed, and a collection holds it *exclusive*.

The locks die with the process that holds them (a killed registration never blocks collection):
PostgreSQL session advisory locks on a connection of their own, and ``flock`` on a small file beside a
SQLite database (a SQLite registry is on one machine). An in-memory SQLite registry needs no lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
import xxhash
from sqlalchemy.engine import Engine

from opsml_image.registry.errors import CardBusyError

__all__ = ["card_lock", "named_lock"]

#: How long a registration waits for a collection of its card to finish before giving up.
SHARED_WAIT_SECONDS = 600.0
_POLL = 0.05


@contextlib.contextmanager
def card_lock(
    engine: Engine, team: str, name: str, *, exclusive: bool, wait: float | None = None
) -> Iterator[None]:
    """Hold the lock of card ``team/name``; :class:`CardBusyError` after ``wait`` seconds without it.

    ``wait`` defaults to :data:`SHARED_WAIT_SECONDS` for a shared lock, 0 (one try) for an exclusive one.
    """
    if wait is None:
        wait = 0.0 if exclusive else SHARED_WAIT_SECONDS
    with named_lock(
        engine,
        f"{team}.{name}",
        f"opsml-image-card/{team}/{name}",
        exclusive=exclusive,
        wait=wait,
        busy=lambda waited: _busy(exclusive, waited),
    ):
        yield


@contextlib.contextmanager
def named_lock(
    engine: Engine,
    file_stem: str,
    key_text: str,
    *,
    exclusive: bool,
    wait: float,
    busy: Callable[[float], Exception],
) -> Iterator[None]:
    """Hold a lock that dies with the process: a PostgreSQL session advisory lock keyed by ``key_text``, or
    ``flock`` on ``<database>-locks/<file_stem>.lock`` beside a SQLite file (none for in-memory SQLite).

    Raises ``busy(seconds waited)`` when the lock is still held by another process after ``wait`` seconds.
    """
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(engine, _key(key_text), exclusive, wait, busy):
            yield
    elif backend == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        folder = Path(engine.url.database).expanduser().with_name(Path(engine.url.database).name + "-locks")
        with _file_lock(folder / f"{file_stem}.lock", exclusive, wait, busy):
            yield
    else:
        yield


def _key(text: str) -> int:
    """A signed 64-bit advisory lock key."""
    return xxhash.xxh3_64_intdigest(text.encode()) - (1 << 63)


def _busy(exclusive: bool, waited: float) -> CardBusyError:
    if exclusive:
        return CardBusyError("a registration of this card is running: collect garbage when it has finished")
    return CardBusyError(f"a garbage collection of this card still runs after {waited:.0f} s: try later")


@contextlib.contextmanager
def _advisory_lock(
    engine: Engine, key: int, exclusive: bool, wait: float, busy: Callable[[float], Exception]
) -> Iterator[None]:
    suffix = "" if exclusive else "_shared"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        deadline = time.monotonic() + wait
        while not conn.execute(sa.text(f"SELECT pg_try_advisory_lock{suffix}(:k)"), {"k": key}).scalar():
            if time.monotonic() >= deadline:
                raise busy(wait)
            time.sleep(_POLL)
        try:
            yield
        finally:
            with contextlib.suppress(sa.exc.DBAPIError):
                conn.execute(sa.text(f"SELECT pg_advisory_unlock{suffix}(:k)"), {"k": key})


@contextlib.contextmanager
def _file_lock(
    path: Path, exclusive: bool, wait: float, busy: Callable[[float], Exception]
) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise busy(wait) from None
                time.sleep(_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock
