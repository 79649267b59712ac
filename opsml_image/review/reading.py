"""Reading review state: the review queue, counts per status and user, the export lines and the Team
page's statistics (per annotator, per reviewer, progress over time)."""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from opsml_image.review.items import ReviewItem, item_of, select_items
from opsml_image.review.tables import EVENT, ITEM, Status
from opsml_image.store.schema import IMAGE_TOTAL, Scope

__all__ = [
    "QueueFilter",
    "queue",
    "queue_count",
    "status_counts",
    "user_counts",
    "export_lines",
    "AnnotatorStats",
    "ReviewerStats",
    "team_stats",
    "daily_progress",
]


@dataclass(frozen=True)
class QueueFilter:
    """Which submitted images the Review page lists: by annotator, class (category id) and split."""

    annotator: str | None = None
    category: int | None = None
    split: str | None = None


def _queue_where(conn: Connection, scope: Scope, f: QueueFilter, args: dict[str, Any]) -> str:
    where = [f"status = '{Status.SUBMITTED}'"]
    if f.annotator:
        where.append("annotator = :annotator")
        args["annotator"] = f.annotator
    if f.split:
        where.append("split_order = :so")
        args["so"] = scope.order(f.split)
    if f.category is not None:
        where.append(
            "EXISTS (SELECT 1 FROM store_image_category c WHERE c.dataset = review_item.dataset "
            "AND c.split_order = review_item.split_order AND c.file_name = review_item.file_name "
            "AND c.category = :cat{offset})".format(
                offset=" OFFSET 0" if conn.dialect.name == "postgresql" else ""
            )
        )  # OFFSET 0: PostgreSQL probes each queued image (a semi-join hashed the whole category)
        args["cat"] = f.category
    return " AND ".join(where)


def queue(conn: Connection, scope: Scope, f: QueueFilter, offset: int, limit: int) -> list[ReviewItem]:
    """One page of the review queue, oldest submission first."""
    args: dict[str, Any] = {"d": scope.dataset}
    sql = select_items(_queue_where(conn, scope, f, args), "submitted_at, split_order, file_name")
    rows = conn.execute(sa.text(f"{sql} LIMIT {int(limit)} OFFSET {int(offset)}"), args)
    return [item_of(r) for r in rows]


def queue_count(conn: Connection, scope: Scope, f: QueueFilter) -> int:
    """How many submitted images the filter keeps."""
    args: dict[str, Any] = {"d": scope.dataset}
    sql = f"SELECT count(*) FROM review_item WHERE dataset = :d AND {_queue_where(conn, scope, f, args)}"
    return int(conn.execute(sa.text(sql), args).scalar_one())


def status_counts(conn: Connection, scope: Scope) -> dict[Status, int]:
    """Images per status; every image of the store review never touched counts as unlabeled."""
    counts = dict.fromkeys(Status, 0)
    rows = conn.execute(
        sa.select(ITEM.c.status, sa.func.count())
        .where(ITEM.c.dataset == scope.dataset)
        .group_by(ITEM.c.status)
    )
    for status, n in rows:
        counts[Status(status)] += int(n)
    total = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(IMAGE_TOTAL.c.n), 0)).where(
            IMAGE_TOTAL.c.dataset == scope.dataset
        )
    ).scalar_one()
    counts[Status.UNLABELED] += max(0, int(total) - sum(counts.values()))
    return counts


def user_counts(conn: Connection, scope: Scope) -> dict[str, dict[str, int]]:
    """Per user: images they annotate per status and decisions they made (``approved_by``/``rejected_by``)."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    mine = ITEM.c.dataset == scope.dataset
    rows = conn.execute(
        sa.select(ITEM.c.annotator, ITEM.c.status, sa.func.count())
        .where(mine, ITEM.c.annotator.is_not(None))
        .group_by(ITEM.c.annotator, ITEM.c.status)
    )
    for user, status, n in rows:
        out[user][status] = int(n)
    decided = ITEM.c.status.in_([Status.APPROVED.value, Status.REJECTED.value])
    rows = conn.execute(
        sa.select(ITEM.c.reviewer, ITEM.c.status, sa.func.count())
        .where(mine, ITEM.c.reviewer.is_not(None), decided)
        .group_by(ITEM.c.reviewer, ITEM.c.status)
    )
    for user, status, n in rows:
        out[user][f"{status}_by"] = int(n)
    return {user: dict(sorted(c.items())) for user, c in sorted(out.items())}


def reviewers(conn: Connection, scope: Scope) -> list[str]:
    """Everyone who approved or rejected an image of the dataset, by name."""
    rows = conn.execute(
        sa.select(EVENT.c.user)
        .where(EVENT.c.dataset == scope.dataset, EVENT.c.action.in_(["approve", "reject"]))
        .distinct()
        .order_by(EVENT.c.user)
    )
    return [r[0] for r in rows]


def _iso(at: float | None) -> str | None:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds") if at else None


def export_lines(conn: Connection, scope: Scope, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """One dict per image of the store (key order): status, annotator, reviewer, comment, tags, times."""
    sql = (
        "SELECT i.split, i.split_order, i.file_name, r.status, r.annotator, r.reviewer, r.assigned_to, "
        "r.comment, r.tags, r.submitted_at, r.decided_at, r.n_boxes FROM store_image i "
        "LEFT JOIN review_item r ON r.dataset = i.dataset AND r.split_order = i.split_order "
        "AND r.file_name = i.file_name "
        "WHERE i.dataset = :d AND (i.split_order, i.file_name) > (:o, :n) "
        "ORDER BY i.split_order, i.file_name LIMIT :k"
    )
    after: tuple[int, str] = (-1, "")
    while True:
        args = {"d": scope.dataset, "o": after[0], "n": after[1], "k": batch}
        rows = conn.execute(sa.text(sql), args).all()
        for r in rows:
            yield {
                "split": r.split,
                "file_name": r.file_name,
                "status": r.status or Status.UNLABELED.value,
                "annotator": r.annotator,
                "reviewer": r.reviewer,
                "assigned_to": r.assigned_to,
                "comment": r.comment,
                "tags": json.loads(r.tags) if r.tags else [],
                "submitted_at": _iso(r.submitted_at),
                "decided_at": _iso(r.decided_at),
            }
        if len(rows) < batch:
            return
        after = (rows[-1].split_order, rows[-1].file_name)


@dataclass
class AnnotatorStats:
    """One annotator's work: submissions, boxes, decisions on it, time per image, rejections by tag."""

    user: str
    submitted: int = 0
    images: int = 0
    boxes: int = 0
    approved: int = 0
    rejected: int = 0
    seconds: list[float] = field(default_factory=list)
    rejections_by_tag: Counter[str] = field(default_factory=Counter)

    @property
    def approval_rate(self) -> float | None:
        decided = self.approved + self.rejected
        return self.approved / decided if decided else None

    @property
    def median_seconds(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None


@dataclass
class ReviewerStats:
    """One reviewer's decisions and corrections."""

    user: str
    approved: int = 0
    rejected: int = 0
    corrections: int = 0

    @property
    def decisions(self) -> int:
        return self.approved + self.rejected


_EVENTS = (
    sa.select(*(EVENT.c[name] for name in ("id", "at", "user", "split", "file_name", "action", "annotator",
                                           "tags", "seconds", "n_boxes")))  # fmt: skip
    .where(
        EVENT.c.dataset == sa.bindparam("d"),
        EVENT.c.action.in_(["submit", "approve", "reject", "correct"]),
        EVENT.c.id > sa.bindparam("after"),
    )
    .order_by(EVENT.c.id)
    .limit(5000)
)


def _events(conn: Connection, scope: Scope) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(_EVENTS, {"d": scope.dataset, "after": after}).all()
        yield from rows
        if len(rows) < 5000:
            return
        after = rows[-1].id


def team_stats(conn: Connection, scope: Scope) -> tuple[list[AnnotatorStats], list[ReviewerStats]]:
    """Per annotator and per reviewer, from the event history (boxes: at each image's last submission)."""
    annotators: dict[str, AnnotatorStats] = {}
    reviewers_: dict[str, ReviewerStats] = {}
    last_boxes: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for e in _events(conn, scope):
        if e.action == "submit":
            a = annotators.setdefault(e.user, AnnotatorStats(e.user))
            a.submitted += 1
            last_boxes[e.user][(e.split, e.file_name)] = int(e.n_boxes or 0)
            if e.seconds is not None:
                a.seconds.append(float(e.seconds))
            continue
        r = reviewers_.setdefault(e.user, ReviewerStats(e.user))
        if e.action == "correct":
            r.corrections += 1
            continue
        judged = annotators.setdefault(e.annotator or "?", AnnotatorStats(e.annotator or "?"))
        if e.action == "approve":
            r.approved += 1
            judged.approved += 1
        else:
            r.rejected += 1
            judged.rejected += 1
            judged.rejections_by_tag.update(json.loads(e.tags or "[]"))
    for user, boxes in last_boxes.items():
        annotators[user].images = len(boxes)
        annotators[user].boxes = sum(boxes.values())
    by_name = sorted(annotators.values(), key=lambda a: a.user)
    return by_name, sorted(reviewers_.values(), key=lambda r: r.user)


def daily_progress(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Per UTC day and action (submit, approve, reject): how many, for the progress-over-time plot."""
    counts: Counter[tuple[str, str]] = Counter()
    for e in _events(conn, scope):
        if e.action != "correct":
            counts[(datetime.fromtimestamp(e.at, UTC).date().isoformat(), e.action)] += 1
    return [{"day": day, "action": action, "images": n} for (day, action), n in sorted(counts.items())]
