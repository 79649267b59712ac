"""Who may change an image in which review status: the one rule every save from the use cases goes through,
checked inside the save's own transaction (:class:`StatusWriter`).

- An image leased to someone (a live lease) is theirs: anybody else is refused, reviewers and admins too.
- A submitted image waits for review: reviewers and admins may correct it, annotators are refused.
- An approved image is closed: everyone is refused until a reviewer or admin reopens it
  (:func:`opsml_image.review.decisions.reopen`).
- Any other image (unlabeled, in progress without a live lease, rejected) may be changed by anyone who may
  annotate.

The messages name people as plain words (the pages show them as text, never as Markdown).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from opsml_image.review import decisions
from opsml_image.review.decisions import SaveNote
from opsml_image.review.items import EditRefused, ReviewItem, read_item
from opsml_image.review.tables import Status
from opsml_image.store.editing import Change, Prepared
from opsml_image.store.schema import Scope

__all__ = ["refusal", "StatusWriter"]


def refusal(item: ReviewItem, user: str, *, reviewer: bool, now: float) -> str | None:
    """Why ``user`` (``reviewer``: they may review) may not change the image now; None when they may."""
    name = f"{item.key[0]}/{item.key[1]}"
    if item.status == Status.APPROVED:
        if reviewer:
            return f"{name} is approved: reopen it (Reopen for editing) before changing it"
        return f"{name} is approved: ask a reviewer to reopen it before changing it"
    if item.status == Status.SUBMITTED:
        if reviewer:
            return None
        return f"{name} waits for review: only reviewers and admins may change it until it is decided"
    holder = item.leased_to(now)
    if holder is None or holder == user:
        return None
    if item.taken_from == user:
        return f"{name} is leased to {holder} now: your lease expired and the image was handed to them"
    return f"{name} is leased to {holder}, who is annotating it: it cannot be changed by anyone else now"


class StatusWriter:
    """The review side of one save, written in the store's edit transaction (a
    :class:`~opsml_image.store.unit.Companion` of :meth:`WorkStore.edit_with
    <opsml_image.store.WorkStore.edit_with>`): the rule checked on the image's item, locked, before the image
    is written (:class:`EditRefused` refuses the whole edit), then its status moved
    (:func:`~opsml_image.review.decisions.record_save`) with the version the save made.

    The common save, on the author's own live lease of an image in progress, is one conditional statement
    that checks and renews at once (:func:`~opsml_image.review.decisions.save_on_own_lease`). One writer per
    save: ``now`` and ``until`` (the renewed lease's end) are its moment.
    """

    def __init__(self, scope: Scope, user: str, *, reviewer: bool, now: float, until: float) -> None:
        self.scope, self.user, self.reviewer, self.now, self.until = scope, user, reviewer, now, until
        self._item: ReviewItem | None = None
        self._note: SaveNote | None = None

    def check(self, conn: Connection, edit: Prepared) -> None:
        """Refuse (:class:`EditRefused`) what the rule forbids ``user`` on the image now."""
        self._item, self._note = None, None
        n_boxes = len(edit.after.boxes) if edit.after is not None else 0
        if decisions.save_on_own_lease(conn, self.scope, edit.key, self.user, self.now, self.until, n_boxes):
            self._note = SaveNote(Status.IN_PROGRESS)
            return
        self._item = read_item(conn, self.scope, edit.key, lock=True)
        item = self._item or ReviewItem(edit.key, Status.UNLABELED)
        reason = refusal(item, self.user, reviewer=self.reviewer, now=self.now)
        if reason is not None:
            raise EditRefused(reason)

    def write(self, conn: Connection, change: Change) -> SaveNote:
        """Move the status after the image was written (at ``change.version``); what the author is told."""
        if self._note is not None:
            return self._note
        n_boxes = len(change.after.boxes) if change.after is not None else 0
        return decisions.record_save(
            conn, self.scope, change.key, self._item, self.user, self.now, self.until,
            reviewer=self.reviewer, version=change.version, n_boxes=n_boxes,
        )  # fmt: skip
