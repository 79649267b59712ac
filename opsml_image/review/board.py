"""The :class:`ReviewBoard` facade: review of one dataset folder, on the database of its working store."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.review import decisions, editing, leases, reading
from opsml_image.review.decisions import SaveNote
from opsml_image.review.editing import StatusWriter
from opsml_image.review.items import ReviewItem, lease_minutes, read_item
from opsml_image.review.reading import AnnotatorStats, QueueFilter, ReviewerStats
from opsml_image.review.tables import ITEM, Status
from opsml_image.store import Key, WorkStore
from opsml_image.store.schema import read_transaction, write_transaction

__all__ = ["ReviewBoard"]

T = TypeVar("T")


@contextlib.contextmanager
def _synchronous(conn: Connection, durable: bool) -> Iterator[None]:
    """SQLite ``synchronous=NORMAL`` on this connection for a non-durable write, ``FULL`` again after."""
    if durable or conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    raw.execute("PRAGMA synchronous=NORMAL")  # the driver is in autocommit: no transaction is opened
    try:
        yield
    finally:
        raw.execute("PRAGMA synchronous=FULL")


class ReviewBoard:
    """Statuses, leases and decisions of one folder's images (tables ``review_*`` in its store's database).

    Every method is one transaction on a connection of the store's engine, so several processes and
    servers share the state; :meth:`writer` instead joins a save's own transaction. The tables exist once
    the store is open (:mod:`opsml_image.store.tables`). ``clock`` (epoch seconds) is for tests.
    """

    def __init__(self, store: WorkStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.scope = store.scope
        self.clock = clock

    # ------------------------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.store.engine.connect() as conn, read_transaction(conn):
            yield conn

    def _write(self, work: Callable[[Connection], T], durable: bool = True) -> T:
        """Run ``work`` in a write transaction; retried when a concurrent insert of the same row won.

        ``durable=False`` (a lease: a soft reservation, harmless to lose) commits without waiting for the
        disk: on SQLite ``synchronous=NORMAL`` in WAL (the next durable commit carries it to disk), on
        PostgreSQL ``synchronous_commit = off`` for that transaction (a crash may forget the last leases,
        never corrupts). The store's own writes and every status change stay durable.
        """
        for attempt in range(3):
            try:
                with (
                    self.store.engine.connect() as conn,
                    _synchronous(conn, durable),
                    write_transaction(conn),
                ):
                    if not durable and conn.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    return work(conn)
            except sa.exc.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _until(self, now: float) -> float:
        return now + lease_minutes() * 60

    # ------------------------------------------------------------------------------------ one image

    def item(self, key: Key) -> ReviewItem:
        """The image's review state (an unlabeled item when review never touched it)."""
        with self._read() as conn:
            found = read_item(conn, self.scope, key)
        return found or ReviewItem(key, Status.UNLABELED)

    def next_image(self, user: str, current: Key | None = None) -> ReviewItem | None:
        """Lease ``user`` their next image (see :mod:`opsml_image.review.leases`); None when none is left."""
        now = self.clock()
        minutes = lease_minutes()
        return self._write(
            lambda conn: leases.next_image(conn, self.scope, user, now, minutes, current), durable=False
        )

    def release(self, key: Key, user: str) -> bool:
        """End ``user``'s lease on ``key``; True when they held one."""
        return self._write(lambda conn: leases.release(conn, self.scope, key, user))

    def on_save(self, key: Key, user: str, *, reviewer: bool, version: int, n_boxes: int) -> SaveNote:
        """Record a save of the image by ``user`` (see :func:`opsml_image.review.decisions.on_save`)."""
        now = self.clock()
        until = self._until(now)
        return self._write(
            lambda conn: decisions.on_save(
                conn, self.scope, key, user, now, until, reviewer=reviewer, version=version, n_boxes=n_boxes
            )
        )

    def submit(self, key: Key, user: str) -> ReviewItem:
        """Submit the image for review (ReviewError when it cannot be)."""
        now = self.clock()
        return self._write(lambda conn: decisions.submit(conn, self.scope, key, user, now))

    def decide(
        self, key: Key, reviewer: str, approve: bool, rev: int, comment: str = "", tags: Iterable[str] = ()
    ) -> ReviewItem:
        """Approve or reject; AlreadyDecided or StaleReview when another decision or an edit came first."""
        now = self.clock()
        chosen = tuple(tags)
        return self._write(
            lambda conn: decisions.decide(conn, self.scope, key, reviewer, approve, rev, now, comment, chosen)
        )

    def reopen(self, key: Key, user: str) -> ReviewItem:
        """Reopen the approved image for editing (see :func:`opsml_image.review.decisions.reopen`)."""
        now = self.clock()
        return self._write(lambda conn: decisions.reopen(conn, self.scope, key, user, now))

    def edit_refusal(self, key: Key, user: str, *, reviewer: bool) -> str | None:
        """Why ``user`` may not change the image now (see :mod:`opsml_image.review.editing`), else None: what
        a page shows; a save checks the rule again in its own transaction (:meth:`writer`)."""
        return editing.refusal(self.item(key), user, reviewer=reviewer, now=self.clock())

    def writer(self, user: str, *, reviewer: bool) -> StatusWriter:
        """The review side of one save by ``user``, for :meth:`WorkStore.edit_with
        <opsml_image.store.WorkStore.edit_with>`: the edit rule checked and the status moved in the save's
        transaction (see :class:`~opsml_image.review.editing.StatusWriter`)."""
        now = self.clock()
        return StatusWriter(self.scope, user, reviewer=reviewer, now=now, until=self._until(now))

    # ------------------------------------------------------------------------------------ assignment

    def assign(self, keys: Iterable[Key], to: str | None, by: str) -> int:
        """Assign these images to ``to`` (None: unassign); how many."""
        wanted = list(dict.fromkeys(keys))
        for split, _ in wanted:
            self.scope.order(split)  # KeyError naming the splits
        now = self.clock()
        return self._write(lambda conn: decisions.assign(conn, self.scope, wanted, to, by, now))

    def assign_split(self, split: str, to: str | None, by: str) -> int:
        """Assign every image of ``split`` to ``to``; how many."""
        now = self.clock()
        return self._write(lambda conn: decisions.assign_split(conn, self.scope, split, to, by, now))

    # ------------------------------------------------------------------------------------ reading

    def queue(self, f: QueueFilter = QueueFilter(), offset: int = 0, limit: int = 50) -> list[ReviewItem]:  # noqa: B008
        """A page of submitted images, oldest submission first."""
        with self._read() as conn:
            return reading.queue(conn, self.scope, f, offset, limit)

    def queue_count(self, f: QueueFilter = QueueFilter()) -> int:  # noqa: B008
        with self._read() as conn:
            return reading.queue_count(conn, self.scope, f)

    def status_counts(self) -> dict[Status, int]:
        with self._read() as conn:
            return reading.status_counts(conn, self.scope)

    def user_counts(self) -> dict[str, dict[str, int]]:
        with self._read() as conn:
            return reading.user_counts(conn, self.scope)

    def reviewers(self) -> list[str]:
        with self._read() as conn:
            return reading.reviewers(conn, self.scope)

    def approved_keys(self) -> list[Key]:
        """Approved images in key order."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(ITEM.c.split, ITEM.c.file_name)
                .where(ITEM.c.dataset == self.scope.dataset, ITEM.c.status == Status.APPROVED.value)
                .order_by(ITEM.c.split_order, ITEM.c.file_name)
            )
            return [(r.split, r.file_name) for r in rows]

    def export_lines(self) -> Iterator[dict[str, Any]]:
        """One dict per image (see :func:`opsml_image.review.reading.export_lines`), streamed."""
        with self._read() as conn:
            yield from reading.export_lines(conn, self.scope)

    def team_stats(self) -> tuple[list[AnnotatorStats], list[ReviewerStats]]:
        with self._read() as conn:
            return reading.team_stats(conn, self.scope)

    def daily_progress(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return reading.daily_progress(conn, self.scope)
