"""Log-in slow-down: every attempt is counted *before* its password is checked, on three keys.

* ``pair:<name>:<client>``: the attempts of one client on one name. The first :data:`FREE_FAILURES` go
  through at once, then each waits 1, 2, 4 ... s after the one before (at most :data:`MAX_DELAY`).
* ``client:<address>``: a client's attempts over every name, with the larger budget
  :data:`CLIENT_FREE_FAILURES`: a client guessing across many names is slowed down, while a few mistyped
  names from one shared address (people behind one NAT, or a proxy not listed in
  ``OPSML_IMAGE_TRUSTED_PROXIES``) do not lock out another name's correct log-in.
* ``user:<name>``: every client's attempts on a name. Its lock applies only to a client whose own pair has
  failed. So guesses at a name from many addresses slow down each guessing address after its first
  attempt, while the owner, from a client that has not failed on that name, logs in at once (and a burst on a
  name does not lock it for everyone).

:func:`reserve` is one transaction that locks the keys' rows (``FOR UPDATE`` in key order; ``BEGIN
IMMEDIATE`` on SQLite): it refuses the attempt, counting nothing, while a key that applies is locked; else it
counts the attempt on the three keys and locks each for :func:`delay` seconds. So N parallel attempts on one
key get at most its free budget checked. :func:`succeeded` clears the pair and takes its count off the name
and the client: that client's failures on that name were the owner's, the others stay counted. A key forgets
one failure every :data:`FORGET_EVERY` seconds. The rows live in the database (``auth_failures``), so every
server sharing it applies the same slow-down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsml_image.auth.db import failures, write

__all__ = [
    "FREE_FAILURES",
    "CLIENT_FREE_FAILURES",
    "BASE_DELAY",
    "MAX_DELAY",
    "FORGET_EVERY",
    "Keys",
    "Turn",
    "delay",
    "reserve",
    "succeeded",
]

FREE_FAILURES = 3
CLIENT_FREE_FAILURES = 10
BASE_DELAY = 1.0
MAX_DELAY = 900.0
FORGET_EVERY = 900.0


def delay(count: int, free: int = FREE_FAILURES) -> float:
    """Seconds a key waits after its ``count``-th counted attempt: 0 for the first ``free - 1``, then 1, 2,
    4 ... (so ``free`` attempts go through at once), at most :data:`MAX_DELAY`."""
    over = count - free
    return 0.0 if over < 0 else min(MAX_DELAY, BASE_DELAY * 2 ** min(over, 30))


@dataclass(frozen=True, slots=True)
class Keys:
    """The three keys of an attempt by ``client`` on the (cleaned) name ``name``."""

    pair: str
    name: str
    client: str

    @classmethod
    def of(cls, name: str, client: str) -> Keys:
        name, client = name[:128], client[:128]
        return cls(f"pair:{len(name)}:{name}:{client}", f"user:{name}", f"client:{client}")

    def all(self) -> list[str]:
        """The keys in the order their rows are locked."""
        return sorted({self.pair, self.name, self.client})

    def free(self, key: str) -> int:
        return CLIENT_FREE_FAILURES if key == self.client else FREE_FAILURES


class Turn(NamedTuple):
    """:func:`reserve`'s answer: ``wait`` > 0 refuses the attempt (try again in ``wait`` s, nothing counted);
    else it is counted and, if it fails, this client may try this name again at ``until`` (a time)."""

    wait: float
    until: float


def reserve(engine: Engine, keys: Keys, now: float) -> Turn:
    """Count an attempt before its password is checked, or refuse it while a key that applies is locked."""
    while True:  # again if a row was pruned between _ensure and the lock (rare)
        _ensure(engine, keys.all(), now)
        with write(engine) as conn:
            rows = _locked(conn, keys.all())
            if len(rows) == len(keys.all()):
                return _count(conn, keys, rows, now)


def succeeded(engine: Engine, keys: Keys, now: float) -> None:
    """A log-in succeeded: clear its pair and take the pair's count (this client's attempts on this name,
    the owner's typos after all) off the name and the client; drop the rows that have forgotten everything."""
    with write(engine) as conn:
        rows = _locked(conn, keys.all())  # in key order, as reserve() locks them: no deadlock
        own = rows[keys.pair].count if keys.pair in rows else 1
        conn.execute(sa.delete(failures).where(failures.c.key == keys.pair))
        for key in (keys.name, keys.client):
            if key in rows:
                count = max(0, rows[key].count - own)
                locked = min(rows[key].locked_until, now + delay(count, keys.free(key)))
                update = sa.update(failures).where(failures.c.key == key)
                conn.execute(update.values(count=count, locked_until=locked))
    idle = failures.c.last_at + (failures.c["count"] + 1) * FORGET_EVERY <= now
    with write(engine) as conn:
        conn.execute(sa.delete(failures).where(idle, failures.c.locked_until <= now))


def _count(conn: sa.Connection, keys: Keys, rows: dict[str, _Row], now: float) -> Turn:
    """:func:`reserve` once the keys' rows are locked."""
    pair_failed = _forgotten(rows[keys.pair], now)[0] > 0
    applies = [keys.pair, keys.client] + ([keys.name] if pair_failed else [])
    wait = max(rows[key].locked_until - now for key in applies)
    if wait > 0:
        return Turn(wait, now + wait)
    until = now
    for key, row in rows.items():
        count, clock = _forgotten(row, now)
        locked = max(row.locked_until, now + delay(count + 1, keys.free(key)))
        update = sa.update(failures).where(failures.c.key == key)
        conn.execute(update.values(count=count + 1, last_at=clock, locked_until=locked))
        until = max(until, locked)
    return Turn(0.0, until)


def _ensure(engine: Engine, keys: list[str], now: float) -> None:
    """Insert the missing rows (count 0), so that :func:`reserve` can lock every key's row."""
    with engine.connect() as conn:
        have = set(conn.execute(sa.select(failures.c.key).where(failures.c.key.in_(keys))).scalars())
    missing = [key for key in keys if key not in have]
    if not missing:
        return
    with write(engine) as conn:
        for key in missing:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(failures).values(key=key, count=0, last_at=now, locked_until=0.0))
            except sa.exc.IntegrityError:  # another server inserted it at the same moment
                pass


@dataclass(frozen=True, slots=True)
class _Row:
    count: int
    last_at: float
    locked_until: float


def _locked(conn: sa.Connection, keys: list[str]) -> dict[str, _Row]:
    """The keys' rows, locked ``FOR UPDATE`` in key order."""
    columns = (failures.c.key, failures.c["count"], failures.c.last_at, failures.c.locked_until)
    query = sa.select(*columns).where(failures.c.key.in_(keys)).order_by(failures.c.key).with_for_update()
    return {
        key: _Row(int(count), last_at, locked_until)
        for key, count, last_at, locked_until in conn.execute(query)
    }


def _forgotten(row: _Row, now: float) -> tuple[int, float]:
    """A key's count and clock (``last_at``) after forgetting one failure a :data:`FORGET_EVERY` s."""
    steps = int(max(0.0, now - row.last_at) // FORGET_EVERY)
    count = max(0, row.count - steps)
    return count, (now if count == 0 else row.last_at + steps * FORGET_EVERY)
