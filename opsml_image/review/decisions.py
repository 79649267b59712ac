"""Status changes of one image: a save moves it to *in progress* (or records a reviewer's correction),
submit hands it to review, approve / reject decide, and an admin assigns images to an annotator.

Every change runs in the caller's write transaction. A decision is one conditional ``UPDATE`` that names
the item's ``rev`` and the store version submitted: of two reviewers deciding at once one wins and the other
gets :class:`AlreadyDecided`; a decision on an image edited since it was submitted gets :class:`StaleReview`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.review.items import (
    AlreadyDecided,
    ReviewError,
    ReviewItem,
    StaleReview,
    event,
    read_item,
)
from opsml_image.review.tables import ISSUE_TAGS, ITEM, Status
from opsml_image.store.errors import Key
from opsml_image.store.schema import IMAGE, Scope

__all__ = [
    "SaveNote",
    "on_save",
    "record_save",
    "save_on_own_lease",
    "submit",
    "decide",
    "reopen",
    "assign",
    "store_version",
]

_KEY = "dataset = :d AND split_order = :o AND file_name = :n"
_ITEM_KEY = (
    ITEM.c.dataset == sa.bindparam("d"),
    ITEM.c.split_order == sa.bindparam("o"),
    ITEM.c.file_name == sa.bindparam("n"),
)
_IMAGE_KEY = (
    IMAGE.c.dataset == sa.bindparam("d"),
    IMAGE.c.split_order == sa.bindparam("o"),
    IMAGE.c.file_name == sa.bindparam("n"),
)


@dataclass(frozen=True)
class SaveNote:
    """What a save did to the image's review status, and anything its author should be told."""

    status: Status
    reopened: bool = False
    correction: bool = False
    taken_over_by: str | None = None


def _args(scope: Scope, key: Key) -> dict[str, object]:
    return {"d": scope.dataset, "o": scope.order(key[0]), "n": key[1]}


_STORE_VERSION = sa.select(IMAGE.c.version).where(*_IMAGE_KEY)


def store_version(conn: Connection, scope: Scope, key: Key) -> int:
    """The image's version in the working store (0 when the store has no such image)."""
    found = conn.execute(_STORE_VERSION, _args(scope, key)).scalar()
    return int(found or 0)


_RENEW_OWN = (
    ITEM.update()
    .where(
        *_ITEM_KEY,
        ITEM.c.status == Status.IN_PROGRESS.value,
        ITEM.c.lease_user == sa.bindparam("me"),
        ITEM.c.lease_until > sa.bindparam("now"),
    )
    .values(
        annotator=sa.bindparam("me"),
        n_boxes=sa.bindparam("b"),
        lease_until=sa.bindparam("until"),
        started_at=sa.func.coalesce(ITEM.c.started_at, sa.bindparam("now")),
    )
)


def save_on_own_lease(
    conn: Connection, scope: Scope, key: Key, user: str, now: float, until: float, n_boxes: int
) -> bool:
    """The common save in one conditional statement: an image in progress under ``user``'s own live lease
    (which the edit rule allows to them alone) keeps its status, and the lease is renewed. False (nothing
    written) in any other state: then read the item and apply the rule and :func:`on_save`."""
    args = {**_args(scope, key), "me": user, "now": now, "until": until, "b": n_boxes}
    return conn.execute(_RENEW_OWN, args).rowcount == 1


def on_save(
    conn: Connection,
    scope: Scope,
    key: Key,
    user: str,
    now: float,
    until: float,
    *,
    reviewer: bool,
    version: int,
    n_boxes: int,
) -> SaveNote:
    """Record that ``user`` saved the image (now at store ``version``): :func:`record_save` on its item,
    read and locked here."""
    item = read_item(conn, scope, key, lock=True)
    return record_save(
        conn, scope, key, item, user, now, until, reviewer=reviewer, version=version, n_boxes=n_boxes
    )


_START = ITEM.insert().values(
    dataset=sa.bindparam("d"),
    split_order=sa.bindparam("o"),
    file_name=sa.bindparam("n"),
    split=sa.bindparam("sp"),
    status=Status.IN_PROGRESS.value,
    annotator=sa.bindparam("me"),
    lease_user=sa.bindparam("me"),
    lease_until=sa.bindparam("until"),
    started_at=sa.bindparam("now"),
    n_boxes=sa.bindparam("b"),
    rev=1,
)
_CORRECT = (
    ITEM.update().where(*_ITEM_KEY).values(submitted_version=sa.bindparam("v"), n_boxes=sa.bindparam("b"))
)


def record_save(
    conn: Connection,
    scope: Scope,
    key: Key,
    item: ReviewItem | None,
    user: str,
    now: float,
    until: float,
    *,
    reviewer: bool,
    version: int,
    n_boxes: int,
) -> SaveNote:
    """Record that ``user`` saved the image (now at store ``version``); ``item`` is its row as read, locked,
    in this transaction (None: review never touched it).

    A save by a reviewer (``reviewer``: the user may review) on a submitted image of someone else is a
    correction, recorded as theirs; the image stays submitted at its new version. Any other save makes the
    image *in progress* with ``user`` as its annotator, reopening an approved one (recorded), and keeps
    ``user``'s lease alive. When someone else took the image over after ``user``'s lease expired, the note
    names them. (Through the edit rule, :mod:`opsml_image.review.editing`, an approved image or an annotator's
    edit of a submitted one never gets here.)
    """
    args = {**_args(scope, key), "me": user, "now": now, "until": until, "v": version, "b": n_boxes}
    if item is None:
        conn.execute(_START, {**args, "sp": key[0]})
        event(conn, scope, key, now, user, "start", n_boxes=n_boxes)
        return SaveNote(Status.IN_PROGRESS)
    if item.status == Status.SUBMITTED and reviewer and item.annotator != user:
        conn.execute(_CORRECT, args)
        event(conn, scope, key, now, user, "correct", annotator=item.annotator, n_boxes=n_boxes)
        return SaveNote(Status.SUBMITTED, correction=True)
    holder = item.leased_to(now)
    taken = holder if holder not in (None, user) else None
    if taken is None and item.taken_from == user and item.lease_user not in (None, user):
        taken = item.lease_user
    changed = item.status != Status.IN_PROGRESS
    values: dict[str, Any] = {
        "status": Status.IN_PROGRESS.value,
        "annotator": sa.bindparam("me"),
        "n_boxes": sa.bindparam("b"),
    }
    if changed:
        values["rev"] = ITEM.c.rev + 1
    if taken is None:
        values.update(
            lease_user=sa.bindparam("me"),
            lease_until=sa.bindparam("until"),
            started_at=sa.func.coalesce(ITEM.c.started_at, sa.bindparam("now")),
        )
    conn.execute(ITEM.update().where(*_ITEM_KEY).values(values), args)
    reopened = item.status == Status.APPROVED
    if changed:
        action = {Status.APPROVED: "reopen", Status.SUBMITTED: "withdraw", Status.REJECTED: "fix"}.get(
            item.status, "start"
        )
        event(conn, scope, key, now, user, action, annotator=item.annotator, n_boxes=n_boxes)
    return SaveNote(Status.IN_PROGRESS, reopened=reopened, taken_over_by=taken)


_STORE_STATE = sa.select(IMAGE.c.version, IMAGE.c.n_boxes).where(*_IMAGE_KEY)


def submit(conn: Connection, scope: Scope, key: Key, user: str, now: float) -> ReviewItem:
    """Hand the image to review: status *submitted* at its current store version; the lease ends.

    Refused (:class:`ReviewError`) when it waits for review or is approved already, or when another
    annotator holds a live lease on it.
    """
    found = conn.execute(_STORE_STATE, _args(scope, key)).first()
    if found is None:
        raise ReviewError(f"{key[0]}/{key[1]} is not in the dataset")
    version, n_boxes = int(found.version), int(found.n_boxes)
    item = read_item(conn, scope, key, lock=True)
    if item is not None:
        if item.status == Status.SUBMITTED:
            raise ReviewError(f"{key[0]}/{key[1]} is already waiting for review")
        if item.status == Status.APPROVED:
            raise ReviewError(f"{key[0]}/{key[1]} is approved already; a reviewer may reopen it")
        holder = item.leased_to(now)
        if holder not in (None, user):
            raise ReviewError(f"{key[0]}/{key[1]} is being annotated by {holder}")
    started = item.started_at if item is not None else None
    seconds = now - started if started is not None else None
    args = {**_args(scope, key), "me": user, "now": now, "v": version, "b": n_boxes, "split": key[0]}
    conn.execute(
        sa.text(
            "INSERT INTO review_item (dataset, split_order, file_name, split, status, annotator, "
            "submitted_at, submitted_version, n_boxes, rev) "
            f"VALUES (:d, :o, :n, :split, '{Status.SUBMITTED}', :me, :now, :v, :b, 1) "
            "ON CONFLICT (dataset, split_order, file_name) DO UPDATE SET "
            f"status = '{Status.SUBMITTED}', annotator = :me, submitted_at = :now, submitted_version = :v, "
            "n_boxes = :b, lease_user = NULL, lease_until = 0, taken_from = NULL, started_at = NULL, "
            "rev = review_item.rev + 1"
        ),
        args,
    )
    event(conn, scope, key, now, user, "submit", annotator=user, seconds=seconds, n_boxes=n_boxes)
    done = read_item(conn, scope, key)
    assert done is not None
    return done


def check_decision(approve: bool, comment: str, tags: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """The comment stripped and the tags checked; a rejection needs both a comment and a tag."""
    text = comment.strip()
    chosen = tuple(dict.fromkeys(t.strip() for t in tags if t.strip()))
    unknown = [t for t in chosen if t not in ISSUE_TAGS]
    if unknown:
        raise ReviewError(f"unknown issue tag(s) {', '.join(unknown)}; choose from {', '.join(ISSUE_TAGS)}")
    if not approve and not text:
        raise ReviewError("a rejection needs a comment saying what to fix")
    if not approve and not chosen:
        raise ReviewError(f"a rejection needs at least one issue tag ({', '.join(ISSUE_TAGS)})")
    return text, chosen


_DECIDE = (
    ITEM.update()
    .where(
        *_ITEM_KEY,
        ITEM.c.status == Status.SUBMITTED.value,
        ITEM.c.rev == sa.bindparam("read_rev"),
        ITEM.c.submitted_version == _STORE_VERSION.scalar_subquery(),  # not edited since it was submitted
    )
    .values(
        status=sa.bindparam("verdict"),
        reviewer=sa.bindparam("me"),
        decided_at=sa.bindparam("now"),
        comment=sa.bindparam("note"),
        tags=sa.bindparam("chosen"),
        rev=ITEM.c.rev + 1,
    )
)


def decide(
    conn: Connection,
    scope: Scope,
    key: Key,
    reviewer: str,
    approve: bool,
    rev: int,
    now: float,
    comment: str = "",
    tags: Iterable[str] = (),
) -> ReviewItem:
    """Approve or reject the submitted image the reviewer read at ``rev``.

    :class:`AlreadyDecided` when another reviewer decided first (or the image is no longer submitted);
    :class:`StaleReview` when the image was edited after it was submitted.
    """
    text, chosen = check_decision(approve, comment, tags)
    status = Status.APPROVED if approve else Status.REJECTED
    args = {
        **_args(scope, key),
        "me": reviewer,
        "now": now,
        "read_rev": rev,
        "verdict": str(status),
        "note": text or None,
        "chosen": json.dumps(list(chosen)),
    }
    done = conn.execute(_DECIDE, args)
    item = read_item(conn, scope, key)
    name = f"{key[0]}/{key[1]}"
    if done.rowcount != 1:
        if item is None:
            raise AlreadyDecided(f"{name} was never submitted for review")
        if item.status == Status.SUBMITTED and item.rev == rev:
            raise StaleReview(
                f"{name} changed after it was submitted; open it again to review the new version"
            )
        if item.status in (Status.APPROVED, Status.REJECTED) and item.reviewer:
            when = datetime.fromtimestamp(item.decided_at or now).strftime("%H:%M:%S")
            raise AlreadyDecided(f"{item.reviewer} already {item.status.label} {name} at {when}")
        raise AlreadyDecided(f"{name} is {item.status.label} now, no longer waiting for this review")
    assert item is not None
    action = "approve" if approve else "reject"
    event(
        conn, scope, key, now, reviewer, action, annotator=item.annotator, comment=text or None, tags=chosen
    )
    return item


_REOPEN = (
    ITEM.update()
    .where(*_ITEM_KEY, ITEM.c.status == Status.APPROVED.value)
    .values(
        status=Status.IN_PROGRESS.value,
        lease_user=None,
        lease_until=0,
        taken_from=None,
        started_at=None,
        rev=ITEM.c.rev + 1,
    )
)


def reopen(conn: Connection, scope: Scope, key: Key, user: str, now: float) -> ReviewItem:
    """Reopen an approved image for editing (reviewers and admins: the caller checks): *in progress*
    again, with no lease, its annotator kept; :class:`ReviewError` when it is not approved."""
    done = conn.execute(_REOPEN, _args(scope, key))
    item = read_item(conn, scope, key)
    if done.rowcount != 1 or item is None:
        status = item.status.label if item is not None else Status.UNLABELED.label
        raise ReviewError(f"{key[0]}/{key[1]} is {status}, not approved: there is nothing to reopen")
    event(conn, scope, key, now, user, "reopen", annotator=item.annotator)
    return item


def assign(conn: Connection, scope: Scope, keys: Iterable[Key], to: str | None, by: str, now: float) -> int:
    """Assign images to user ``to`` (None: unassign); returns how many rows were written."""
    rows = [{**_args(scope, key), "split": key[0], "to": to} for key in keys]
    if not rows:
        return 0
    conn.execute(
        sa.text(
            "INSERT INTO review_item (dataset, split_order, file_name, split, status, assigned_to, rev) "
            f"VALUES (:d, :o, :n, :split, '{Status.UNLABELED}', :to, 1) "
            "ON CONFLICT (dataset, split_order, file_name) DO UPDATE SET assigned_to = excluded.assigned_to"
        ),
        rows,
    )
    first = (rows[0]["split"], rows[0]["n"])
    event(conn, scope, (str(first[0]), str(first[1])), now, by, "assign", annotator=to, n_boxes=len(rows))
    return len(rows)


def assign_split(conn: Connection, scope: Scope, split: str, to: str | None, by: str, now: float) -> int:
    """Assign every image of a split to ``to`` in one statement; returns how many images."""
    args = {"d": scope.dataset, "o": scope.order(split), "to": to}
    done = conn.execute(
        sa.text(
            "INSERT INTO review_item (dataset, split_order, file_name, split, status, assigned_to, rev) "
            f"SELECT dataset, split_order, file_name, split, '{Status.UNLABELED}', :to, 1 FROM store_image "
            "WHERE dataset = :d AND split_order = :o AND on_disk = 1 "
            "ON CONFLICT (dataset, split_order, file_name) DO UPDATE SET assigned_to = excluded.assigned_to"
        ),
        args,
    )
    count = int(done.rowcount or 0)
    event(conn, scope, (split, "*"), now, by, "assign", annotator=to, n_boxes=count)
    return count
