"""Who may change an image in which review status: the one rule every save from the use cases goes through.

- An image leased to someone (a live lease) is theirs: anybody else is refused, reviewers and admins too.
- A submitted image waits for review: reviewers and admins may correct it, annotators are refused.
- An approved image is closed: everyone is refused until a reviewer or admin reopens it
  (:func:`opsml_image.review.decisions.reopen`).
- Any other image (unlabeled, in progress without a live lease, rejected) may be changed by anyone who may
  annotate.

The messages name people as plain words (the pages show them as text, never as Markdown).
"""

from __future__ import annotations

from opsml_image.review.items import ReviewItem
from opsml_image.review.tables import Status

__all__ = ["refusal"]


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
