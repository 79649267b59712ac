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
from opsml_image.auth import LOCAL_ADMIN, Action, User, can
from opsml_image.registry import CardRegistry
from opsml_image.registry.card import DataCard
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
from opsml_image.usecases.access import check, may_assign
from opsml_image.usecases.errors import Invalid, Refused, UserError, edge
from opsml_image.usecases.register import SOURCE_TAG, RegisterForm, StageProgress, parse_tags
from opsml_image.usecases.workspace import Workspace, describe

__all__ = [
    "ISSUE_TAGS",
    "Decision",
    "QueueFilter",
    "ReviewItem",
    "Status",
    "Submitted",
    "TeamTables",
    "annotators",
    "assign",
    "board",
    "decide",
    "edit_refusal",
    "export_jsonl",
    "item",
    "next_image",
    "parse_keys",
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
    with edge("The review state cannot be read: "):
        return board(ws.store).item(key)


# ------------------------------------------------------------------------------------------ annotators


def next_image(ws: Workspace, user: User | None, current: Key | None = None) -> Key | None:
    """Lease the user's next image (their rejected ones first); None when nothing is left for them."""
    name = check(user, Action.ANNOTATE)
    with edge():
        found = board(ws.store).next_image(name, current)
    return found.key if found else None


def release(ws: Workspace, user: User | None, key: Key) -> None:
    """Give back the user's lease on ``key``."""
    name = check(user, Action.ANNOTATE)
    with edge("Not released: "):
        board(ws.store).release(key, name)


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
    """A submission: whether it went through, why not (a refusal or review rule as text, an outcome like an
    edit's), and the user's next image."""

    ok: bool
    message: str
    next_key: Key | None = None


def submit(ws: Workspace, user: User | None, key: Key, take_next: bool = True) -> Submitted:
    """Submit the image for review; with ``take_next``, lease the user's next image too."""
    try:
        with edge("Not submitted: "):
            name = check(user, Action.SUBMIT)
            board(ws.store).submit(key, name)
    except UserError as error:
        return Submitted(False, f"Not submitted: {error}" if isinstance(error, Refused) else str(error))
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
    with edge("The review queue cannot be read: "):
        found = board(ws.store)
        return found.queue(f, offset, limit), found.queue_count(f)


def annotators(ws: Workspace, user: User | None) -> list[str]:
    """Everyone whose work is in the dataset (for the queue's filter)."""
    check(user, Action.REVIEW)
    with edge("The review queue cannot be read: "):
        counts = board(ws.store).user_counts()
    return sorted(name for name, c in counts.items() if any(not k.endswith("_by") for k in c))


@dataclass(frozen=True)
class Decision:
    """What a decision did: ``decided``, ``taken`` (another reviewer was first), ``stale`` or ``refused``
    (an outcome like an edit's: the queue moves on either way)."""

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
    """Approve or reject the submitted image the reviewer read at ``rev``; a store that cannot be used is a
    :class:`UserError`."""
    with edge("Not recorded: "):
        try:
            name = check(user, Action.REVIEW)
            board(ws.store).decide(key, name, approve, rev, comment, tags)
        except AlreadyDecided as error:
            return Decision("taken", f"Not recorded: {error}")
        except StaleReview as error:
            return Decision("stale", f"Not recorded: {error}")
        except (Refused, ReviewError) as error:
            return Decision("refused", f"Not recorded: {error}")
    return Decision("decided", f"{'Approved' if approve else 'Rejected'} {key[1]}.")


def reopen(ws: Workspace, user: User | None, key: Key) -> str:
    """Reopen an approved image for editing (reviewers and admins); a readable result, or
    :class:`UserError`."""
    name = check(user, Action.REVIEW)
    with edge("Not reopened: "):
        board(ws.store).reopen(key, name)
    return f"Reopened {key[1]}: it can be edited again and needs a new review."


# ------------------------------------------------------------------------------------------ admins


def assign(
    ws: Workspace, user: User | None, to: str | None, *, split: str | None = None, keys: Sequence[Key] = ()
) -> str:
    """Assign a split or a selection of images to user ``to`` (None: unassign); a readable result."""
    if user is None or not may_assign(user):
        raise Refused("Only admins may assign work.")
    with edge():
        found = board(ws.store)
        n = found.assign_split(split, to, user.name) if split else found.assign(keys, to, user.name)
    whom = f"to {to}" if to else "to nobody (unassigned)"
    return f"Assigned {n:,} image(s) {whom}."


def parse_keys(ws: Workspace, text: str) -> list[Key]:
    """The images listed in ``text``, ``split/file_name`` per line (``file_name`` alone: the first split);
    :class:`Invalid` naming the first line that names no image of the dataset."""
    splits = list(ws.dataset.splits)
    keys: list[Key] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        split, _, name = line.partition("/")
        if not name or split not in splits:
            split, name = (splits[0] if splits else ""), line
        if not splits or ws.store.version(split, name) == 0:
            raise Invalid(f"line {number}: there is no image {line} in this dataset", f"line {number}")
        keys.append((split, name))
    return keys


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
    with edge("The team's figures cannot be read: "):
        return _team_tables(board(ws.store))


def _team_tables(found: ReviewBoard) -> TeamTables:
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
        raise Invalid(f"Fill in the required field(s): {', '.join(missing)}.")
    with edge("Not registered: "), approved_copy(ws.store) as folder:
        card = DataCard(
            data=folder.dataset,
            name=form.name,
            team=form.team,
            user_email=form.contact,
            tags={**parse_tags(form.tags), **folder.tags, SOURCE_TAG: str(ws.path)},
            description=form.description,
        )
        return registry.register_card(card, version_type=form.bump, progress=progress)
