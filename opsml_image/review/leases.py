"""Handing out images: "next image" leases one to an annotator so that two are never given the same one.

Race-free across processes and servers: every claim is one conditional statement inside the write
transaction (``UPDATE ... WHERE lease_user = :me OR lease_until < :now`` on an existing row, ``INSERT ...
ON CONFLICT DO NOTHING`` for an image review never touched); a claim that changes no row lost a race and
the next candidate is tried. On PostgreSQL the candidate rows are read ``FOR UPDATE SKIP LOCKED``, so
concurrent annotators do not queue behind one another's candidates; on SQLite the write transaction
(``BEGIN IMMEDIATE``) serialises hand-outs.

The order: the annotator's own rejected images (the reviewer's comment waits there), their own images in
progress, images assigned to them, released images, then never-touched images (the unannotated first, from
a kept frontier so the search does not rescan done work), and last images whose lease expired (taken over:
the first annotator hears of it when they save).
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.review.items import ReviewItem, event, item_of, read_item, select_items
from opsml_image.review.tables import Status
from opsml_image.store.errors import Key
from opsml_image.store.schema import Scope

__all__ = ["next_image", "release", "renew"]

_CLAIMABLE = "(lease_user = :me OR lease_until < :now)"
_OPEN = f"status IN ('{Status.UNLABELED}', '{Status.IN_PROGRESS}')"
_FREE_FOR_ME = "(assigned_to IS NULL OR assigned_to = :me)"

#: The kinds of existing rows, in hand-out order (``:me``, ``:now`` bound; ``current`` left out).
_ROW_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("rejected", f"status = '{Status.REJECTED}' AND annotator = :me AND {_CLAIMABLE}"),
    ("own", f"status = '{Status.IN_PROGRESS}' AND annotator = :me AND {_CLAIMABLE}"),
    ("assigned", f"assigned_to = :me AND {_OPEN} AND {_CLAIMABLE}"),
    ("released", f"status = '{Status.UNLABELED}' AND {_FREE_FOR_ME} AND {_CLAIMABLE}"),
)
_TAKEOVER = f"{_OPEN} AND {_FREE_FOR_ME} AND lease_until < :now"

_CLAIM_ROW = sa.text(
    "UPDATE review_item SET "
    "taken_from = CASE WHEN lease_user IS NOT NULL AND lease_user <> :me THEN lease_user "
    "ELSE taken_from END, "
    "lease_user = :me, lease_until = :until, started_at = COALESCE(started_at, :now) "
    f"WHERE dataset = :d AND split_order = :o AND file_name = :n AND {_CLAIMABLE} AND rev = :rev"
)
_CLAIM_NEW = sa.text(
    "INSERT INTO review_item (dataset, split_order, file_name, split, status, lease_user, lease_until, "
    f"started_at, rev) VALUES (:d, :o, :n, :split, '{Status.UNLABELED}', :me, :until, :now, 1) "
    "ON CONFLICT (dataset, split_order, file_name) DO NOTHING"
)
_UNTOUCHED = (
    "SELECT i.annotated, i.split_order, i.file_name, i.split FROM store_image i "
    "WHERE i.dataset = :d AND i.on_disk = 1 AND {after} AND NOT EXISTS (SELECT 1 FROM review_item r "
    "WHERE r.dataset = i.dataset AND r.split_order = i.split_order AND r.file_name = i.file_name) "
    "ORDER BY i.annotated, i.split_order, i.file_name LIMIT :k"
)
_AFTER = "(i.annotated, i.split_order, i.file_name) > (:a, :fo, :fn)"
_BATCH = 8


def next_image(
    conn: Connection, scope: Scope, user: str, now: float, minutes: float, current: Key | None = None
) -> ReviewItem | None:
    """Lease the user's next image (inside the caller's write transaction); None when nothing is left.

    ``current`` (the image the user leaves) is not handed out again; its lease is released when the
    user saved nothing on it.
    """
    if current is not None:
        release(conn, scope, current, user, only_untouched=True)
    until = now + minutes * 60
    args: dict[str, object] = {"d": scope.dataset, "me": user, "now": now}
    skip = ""
    if current is not None and current[0] in scope.orders:
        skip = " AND NOT (split_order = :co AND file_name = :cn)"
        args.update(co=scope.order(current[0]), cn=current[1])
    for kind, where in _ROW_CANDIDATES:
        found = _claim_rows(conn, scope, f"{where}{skip}", args, until, user, now, kind)
        if found:
            return found
    found = _claim_untouched(conn, scope, user, now, until, current)
    if found:
        return found
    return _claim_rows(conn, scope, f"{_TAKEOVER}{skip}", args, until, user, now, "takeover")


def _claim_rows(
    conn: Connection,
    scope: Scope,
    where: str,
    args: dict[str, object],
    until: float,
    user: str,
    now: float,
    kind: str,
) -> ReviewItem | None:
    # any order: an ORDER BY the key would walk the dataset's rows instead of the annotator's index
    sql = select_items(where, None) + f" LIMIT {_BATCH}"
    if conn.dialect.name == "postgresql":
        sql += " FOR UPDATE SKIP LOCKED"
    for row in conn.execute(sa.text(sql), args).all():
        claimed = conn.execute(
            _CLAIM_ROW,
            {**args, "until": until, "o": scope.order(row.split), "n": row.file_name, "rev": row.rev},
        )
        if claimed.rowcount == 1:
            item = item_of(row)
            if kind == "takeover":  # a plain lease is not history; a takeover is
                event(conn, scope, item.key, now, user, "takeover", annotator=item.lease_user)
            return read_item(conn, scope, item.key)
    return None


def _claim_untouched(
    conn: Connection, scope: Scope, user: str, now: float, until: float, current: Key | None
) -> ReviewItem | None:
    for row in _untouched(conn, scope, user):
        key = (row.split, row.file_name)
        if key == current:
            continue
        args = {"d": scope.dataset, "o": row.split_order, "n": row.file_name, "split": row.split}
        if conn.execute(_CLAIM_NEW, {**args, "me": user, "until": until, "now": now}).rowcount == 1:
            _set_frontier(conn, scope, user, row)
            return read_item(conn, scope, key)
    return None


def _untouched(conn: Connection, scope: Scope, user: str) -> Iterator[sa.Row[tuple[int, int, str, str]]]:
    """Never-touched images after the user's frontier, then (once) from the start: images added later.

    Each annotator keeps their own frontier (no row lock shared between hand-outs); the images others took
    since are passed over in a few index steps.
    """
    frontier = conn.execute(
        sa.text(
            'SELECT annotated, split_order, file_name FROM review_frontier WHERE dataset = :d AND "user" = :u'
        ),
        {"d": scope.dataset, "u": user},
    ).first()
    if frontier is None:  # a new annotator starts where the one furthest behind is (all before it is taken)
        frontier = conn.execute(
            sa.text(
                "SELECT annotated, split_order, file_name FROM review_frontier WHERE dataset = :d "
                "ORDER BY annotated, split_order, file_name LIMIT 1"
            ),
            {"d": scope.dataset},
        ).first()
    lock = " FOR UPDATE OF i SKIP LOCKED" if conn.dialect.name == "postgresql" else ""
    starts = [frontier, None] if frontier is not None else [None]
    for start in starts:
        args: dict[str, object] = {"d": scope.dataset, "k": _BATCH}
        after = "1 = 1"
        if start is not None:
            after = _AFTER
            args.update(a=start.annotated, fo=start.split_order, fn=start.file_name)
        while True:
            rows = conn.execute(sa.text(_UNTOUCHED.format(after=after) + lock), args).all()
            yield from rows
            if len(rows) < _BATCH:
                break
            last = rows[-1]
            after = _AFTER
            args.update(a=last.annotated, fo=last.split_order, fn=last.file_name)


def _set_frontier(conn: Connection, scope: Scope, user: str, row: sa.Row[tuple[int, int, str, str]]) -> None:
    conn.execute(
        sa.text(
            'INSERT INTO review_frontier (dataset, "user", annotated, split_order, file_name) '
            "VALUES (:d, :u, :a, :o, :n) "
            'ON CONFLICT (dataset, "user") DO UPDATE SET annotated = excluded.annotated, '
            "split_order = excluded.split_order, file_name = excluded.file_name"
        ),
        {"d": scope.dataset, "u": user, "a": row.annotated, "o": row.split_order, "n": row.file_name},
    )


def release(conn: Connection, scope: Scope, key: Key, user: str, *, only_untouched: bool = False) -> bool:
    """End ``user``'s lease on ``key`` (with ``only_untouched``: only when they saved nothing on it)."""
    if key[0] not in scope.orders:
        return False
    extra = f" AND status = '{Status.UNLABELED}'" if only_untouched else ""
    done = conn.execute(
        sa.text(
            "UPDATE review_item SET lease_user = NULL, lease_until = 0, started_at = NULL "
            f"WHERE dataset = :d AND split_order = :o AND file_name = :n AND lease_user = :me{extra}"
        ),
        {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1], "me": user},
    )
    return done.rowcount == 1


def renew(conn: Connection, scope: Scope, key: Key, user: str, until: float) -> None:
    """Extend ``user``'s live lease on ``key`` (activity keeps a lease)."""
    conn.execute(
        sa.text(
            "UPDATE review_item SET lease_until = :until "
            "WHERE dataset = :d AND split_order = :o AND file_name = :n AND lease_user = :me"
        ),
        {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1], "me": user, "until": until},
    )
