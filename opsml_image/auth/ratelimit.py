"""Log-in slow-down: exponential back-off after repeated failures, per user name and per client.

Each failed log-in counts against two keys, ``user:<name tried>`` and ``client:<address>``. The first
:data:`FREE_FAILURES` failures of a key cost nothing; the n-th after them locks the key for
``BASE_DELAY * 2 ** (n - 1)`` seconds (1, 2, 4, 8 ... s), at most :data:`MAX_DELAY`. An attempt on a
locked key is refused at once, without checking the password and without counting. A success clears both
keys; a key idle for :data:`RESET_AFTER` seconds starts over. Counts live in the database (table
``auth_failures``), so every server sharing it applies the same slow-down.
"""

from __future__ import annotations

import sqlalchemy as sa

from opsml_image.auth.db import failures

__all__ = [
    "FREE_FAILURES",
    "BASE_DELAY",
    "MAX_DELAY",
    "RESET_AFTER",
    "delay",
    "wait",
    "record_failure",
    "clear",
]

FREE_FAILURES = 3
BASE_DELAY = 1.0
MAX_DELAY = 900.0
RESET_AFTER = 3600.0


def delay(count: int) -> float:
    """Seconds a key is locked after its ``count``-th consecutive failure."""
    over = count - FREE_FAILURES
    return 0.0 if over <= 0 else min(MAX_DELAY, BASE_DELAY * 2 ** min(over - 1, 30))


def wait(conn: sa.Connection, keys: list[str], now: float) -> float:
    """Seconds until the most locked of ``keys`` may be tried again (0 when none is locked)."""
    query = sa.select(sa.func.max(failures.c.locked_until)).where(failures.c.key.in_(keys))
    until = conn.execute(query).scalar()
    return max(0.0, (until or 0.0) - now)


def record_failure(conn: sa.Connection, keys: list[str], now: float) -> float:
    """Count a failure against each key and lock it as :func:`delay` says; returns the longest lock."""
    longest = 0.0
    for key in keys:
        count = _increment(conn, key, now)
        lock = delay(count)
        conn.execute(sa.update(failures).where(failures.c.key == key).values(locked_until=now + lock))
        longest = max(longest, lock)
    return longest


def clear(conn: sa.Connection, keys: list[str]) -> None:
    """Forget the failures of ``keys`` (after a successful log-in)."""
    conn.execute(sa.delete(failures).where(failures.c.key.in_(keys)))


def _increment(conn: sa.Connection, key: str, now: float) -> int:
    """Add one failure to ``key`` (from 1 again after :data:`RESET_AFTER` idle seconds): the new count."""
    restart = failures.c.last_at < now - RESET_AFTER
    update = (
        sa.update(failures)
        .where(failures.c.key == key)
        .values(count=sa.case((restart, 1), else_=failures.c.count + 1), last_at=now)
    )
    if conn.execute(update).rowcount == 0:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(failures).values(key=key, count=1, last_at=now, locked_until=0.0))
        except sa.exc.IntegrityError:  # another server counted the first failure at the same moment
            conn.execute(update)
    return int(conn.execute(sa.select(failures.c.count).where(failures.c.key == key)).scalar_one())
