"""Team review for the app and the CLI: handing out work, submitting, deciding, assigning, the review queue,
the Team page's tables, the export, and registering approved work only.

Every action takes the acting :class:`~opsml_image.auth.User` and checks its role first (annotate / submit
for annotators, review for reviewers, assignment for admins); what goes wrong is an outcome or a
:class:`UserError` with a readable message, never a traceback.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from opsml_image.atomic import atomic_writer
from opsml_image.auth import LOCAL_ADMIN, Action, Forbidden, Role, User, can
from opsml_image.registry import CardRegistry
from opsml_image.registry.card import DataCard
from opsml_image.registry.errors import RegistryError
from opsml_image.review import (
    ISSUE_TAGS,
    AlreadyDecided,
    QueueFilter,
    ReviewBoard,
    ReviewError,
    ReviewItem,
    SaveNote,
    StaleReview,
    Status,
    StatusWriter,
)
from opsml_image.review.approved import approved_copy
from opsml_image.store import Key, StoreError, WorkStore
from opsml_image.usecases.access import check
from opsml_image.usecases.register import SOURCE_TAG, RegisterForm, StageProgress, parse_tags
from opsml_image.usecases.workspace import UserError, Workspace, describe

__all__ = [
    "ISSUE_TAGS",
    "Decision",
    "QueueFilter",
    "Status",
    "TeamTables",
    "assign",
    "board",
    "decide",
    "edit_refusal",
    "export_jsonl",
    "item",
    "next_image",
    "queue",
    "record_save",
    "register_approved",
    "release",
    "reopen",
    "save_notice",
    "status_writer",
    "submit",
    "summary",
    "team_tables",
]


def board(store: WorkStore) -> ReviewBoard:
    """The review board of a store (cheap: its tables were made when the store opened)."""
    return ReviewBoard(store)


def item(ws: Workspace, key: Key) -> ReviewItem:
    """The image's review state."""
    return board(ws.store).item(key)


# ------------------------------------------------------------------------------------------ annotators


def next_image(ws: Workspace, user: User | None, current: Key | None = None) -> Key | None:
    """Lease the user's next image (their rejected ones first); None when nothing is left for them."""
    name = check(user, Action.ANNOTATE)
    try:
        found = board(ws.store).next_image(name, current)
    except ReviewError as error:
        raise UserError(str(error)) from None
    return found.key if found else None


def release(ws: Workspace, user: User | None, key: Key) -> None:
    """Give back the user's lease on ``key``."""
    board(ws.store).release(key, check(user, Action.ANNOTATE))


def edit_refusal(ws: Workspace, user: User | None, key: Key) -> str | None:
    """Why ``user`` may not change ``key`` now, else None: someone else's live lease, a submitted image
    (annotators), an approved one (everyone, until a reviewer reopens it). See
    :mod:`opsml_image.review.editing`; every save of :mod:`opsml_image.usecases.annotate` asks it."""
    name = user.name if user is not None else LOCAL_ADMIN.name
    try:
        return board(ws.store).edit_refusal(key, name, reviewer=can(user, Action.REVIEW))
    except KeyError as error:  # an unknown split
        return describe(error)


def status_writer(ws: Workspace, user: User | None) -> StatusWriter:
    """The review side of one save by ``user``, for :meth:`WorkStore.edit_with
    <opsml_image.store.WorkStore.edit_with>`: the edit rule checked (:class:`~opsml_image.review.EditRefused`)
    and the status moved in the save's own transaction (see :meth:`ReviewBoard.writer`)."""
    name = user.name if user is not None else LOCAL_ADMIN.name
    return board(ws.store).writer(name, reviewer=can(user, Action.REVIEW))


def record_save(ws: Workspace, user: User | None, key: Key, version: int, n_boxes: int) -> str | None:
    """After an edit saved without :func:`status_writer` (the image now at store ``version``): move its review
    status in a transaction of its own (:meth:`ReviewBoard.on_save`); what the author should be told.
    A save should rather carry its status in its own transaction (:func:`status_writer`)."""
    name = user.name if user is not None else LOCAL_ADMIN.name
    try:
        note = board(ws.store).on_save(
            key, name, reviewer=can(user, Action.REVIEW), version=version, n_boxes=n_boxes
        )
    except (ReviewError, StoreError) as error:
        return f"The review status was not updated: {describe(error)}"
    return save_notice(note)


def save_notice(note: SaveNote) -> str | None:
    """What the author of a save should be told of its review status (a takeover of their expired lease),
    else None."""
    if note.taken_over_by:
        return f"{note.taken_over_by} was handed this image after your lease expired; your save is kept."
    if note.reopened:
        return "This image was approved; your edit reopened it (it needs a new review)."
    return None


@dataclass(frozen=True)
class Submitted:
    """A submission: whether it went through, why not, and the user's next image."""

    ok: bool
    message: str
    next_key: Key | None = None


def submit(ws: Workspace, user: User | None, key: Key, take_next: bool = True) -> Submitted:
    """Submit the image for review; with ``take_next``, lease the user's next image too."""
    try:
        name = check(user, Action.SUBMIT)
        board(ws.store).submit(key, name)
    except (Forbidden, ReviewError) as error:
        return Submitted(False, f"Not submitted: {error}")
    following = next_image(ws, user, current=key) if take_next else None
    done = f"Submitted {key[1]} for review."
    return Submitted(
        True, done if following or not take_next else f"{done} Nothing is left for you.", following
    )


# ------------------------------------------------------------------------------------------ reviewers


def queue(
    ws: Workspace,
    user: User | None,
    f: QueueFilter | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[ReviewItem], int]:
    """One page of the review queue and how many images wait in it under the filter."""
    check(user, Action.REVIEW)
    f = f or QueueFilter()
    found = board(ws.store)
    return found.queue(f, offset, limit), found.queue_count(f)


def annotators(ws: Workspace, user: User | None) -> list[str]:
    """Everyone whose work is in the dataset (for the queue's filter)."""
    check(user, Action.REVIEW)
    counts = board(ws.store).user_counts()
    return sorted(name for name, c in counts.items() if any(not k.endswith("_by") for k in c))


@dataclass(frozen=True)
class Decision:
    """What a decision did: ``decided``, ``taken`` (another reviewer was first), ``stale`` or ``refused``."""

    status: Literal["decided", "taken", "stale", "refused"]
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "decided"


def decide(
    ws: Workspace,
    user: User | None,
    key: Key,
    approve: bool,
    rev: int,
    comment: str = "",
    tags: Iterable[str] = (),
) -> Decision:
    """Approve or reject the submitted image the reviewer read at ``rev``."""
    try:
        name = check(user, Action.REVIEW)
        board(ws.store).decide(key, name, approve, rev, comment, tags)
    except AlreadyDecided as error:
        return Decision("taken", f"Not recorded: {error}")
    except StaleReview as error:
        return Decision("stale", f"Not recorded: {error}")
    except (Forbidden, ReviewError) as error:
        return Decision("refused", f"Not recorded: {error}")
    return Decision("decided", f"{'Approved' if approve else 'Rejected'} {key[1]}.")


def reopen(ws: Workspace, user: User | None, key: Key) -> str:
    """Reopen an approved image for editing (reviewers and admins); a readable result, or
    :class:`UserError`."""
    try:
        name = check(user, Action.REVIEW)
        board(ws.store).reopen(key, name)
    except (Forbidden, ReviewError, KeyError) as error:
        raise UserError(f"Not reopened: {describe(error)}") from None
    return f"Reopened {key[1]}: it can be edited again and needs a new review."


# ------------------------------------------------------------------------------------------ admins


def assign(
    ws: Workspace, user: User | None, to: str | None, *, split: str | None = None, keys: Sequence[Key] = ()
) -> str:
    """Assign a split or a selection of images to user ``to`` (None: unassign); a readable result."""
    if user is None or user.role != Role.ADMIN:
        raise UserError("Only admins may assign work.")
    found = board(ws.store)
    try:
        n = found.assign_split(split, to, user.name) if split else found.assign(keys, to, user.name)
    except KeyError as error:
        raise UserError(describe(error)) from None
    whom = f"to {to}" if to else "to nobody (unassigned)"
    return f"Assigned {n:,} image(s) {whom}."


# ------------------------------------------------------------------------------------------ reports


def summary(store: WorkStore) -> dict[str, object]:
    """Counts per status and per user (for ``review summary``)."""
    found = board(store)
    counts = found.status_counts()
    return {
        "dataset": str(store.dataset.image_dir),
        "status": {status.value: n for status, n in counts.items()},
        "users": found.user_counts(),
    }


def export_jsonl(store: WorkStore, out: Path) -> int:
    """Write one JSON line per image (status, annotator, reviewer, comment, tags, times) atomically."""
    n = 0
    with atomic_writer(out) as handle:
        for line in board(store).export_lines():
            handle.write(orjson.dumps(line) + b"\n")
            n += 1
    return n


@dataclass(frozen=True)
class TeamTables:
    """The Team page's data as rows: per annotator, per reviewer, rejections by tag, progress per day."""

    annotators: list[dict[str, object]]
    reviewers: list[dict[str, object]]
    rejections: list[dict[str, object]]
    progress: list[dict[str, object]]
    status: dict[str, int]

    def csv(self) -> str:
        """Per annotator and per reviewer as one CSV (a ``role`` column tells them apart)."""
        out = io.StringIO()
        fields = [
            "role",
            "user",
            *{k: None for row in self.annotators + self.reviewers for k in row if k != "user"},
        ]
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for role, rows in (("annotator", self.annotators), ("reviewer", self.reviewers)):
            for row in rows:
                writer.writerow({"role": role, **row})
        return out.getvalue()


def team_tables(ws: Workspace, user: User | None) -> TeamTables:
    """Per annotator: images submitted, boxes, approval rate, median time per image, rejections by tag;
    per reviewer: decisions and corrections; progress per day."""
    check(user, Action.REVIEW)
    found = board(ws.store)
    annotator_stats, reviewer_stats = found.team_stats()
    annotators_: list[dict[str, object]] = [
        {
            "user": a.user,
            "submitted": a.submitted,
            "images": a.images,
            "boxes": a.boxes,
            "approved": a.approved,
            "rejected": a.rejected,
            "approval_rate": round(a.approval_rate, 3) if a.approval_rate is not None else None,
            "median_seconds": round(a.median_seconds, 1) if a.median_seconds is not None else None,
        }
        for a in annotator_stats
    ]
    reviewers_: list[dict[str, object]] = [
        {"user": r.user, "decisions": r.decisions, "approved": r.approved, "rejected": r.rejected,
         "corrections": r.corrections}
        for r in reviewer_stats
    ]  # fmt: skip
    rejections: list[dict[str, object]] = [
        {"user": a.user, "tag": tag, "rejections": n}
        for a in annotator_stats
        for tag, n in a.rejections_by_tag.items()
    ]
    status = {s.label: n for s, n in found.status_counts().items()}
    return TeamTables(annotators_, reviewers_, rejections, found.daily_progress(), status)


# ------------------------------------------------------------------------------------------ registering


def register_approved(
    ws: Workspace,
    registry: CardRegistry,
    form: RegisterForm,
    user: User | None = LOCAL_ADMIN,
    progress: StageProgress | None = None,
) -> DataCard:
    """Register only the approved images (a consistent copy), with counts per status and the reviewers
    as card tags (``review.*``)."""
    check(user, Action.REGISTER)
    missing = form.missing()
    if missing:
        raise UserError(f"Fill in the required field(s): {', '.join(missing)}.")
    try:
        with approved_copy(ws.store) as folder:
            card = DataCard(
                data=folder.dataset,
                name=form.name,
                team=form.team,
                user_email=form.contact,
                tags={**parse_tags(form.tags), **folder.tags, SOURCE_TAG: str(ws.path)},
                description=form.description,
            )
            return registry.register_card(card, version_type=form.bump, progress=progress)
    except (RegistryError, ReviewError, ValueError, OSError) as error:
        raise UserError(f"Not registered: {describe(error)}") from None
