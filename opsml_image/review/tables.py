"""The review tables and statuses. The tables live in the working store's database beside its own and are
declared with them (:mod:`opsml_image.store.tables`), so they exist from the store's first opening.

``review_item`` holds one row per image that review has touched (an image without a row is *unlabeled*):
its status, annotator, reviewer, lease, assignment and last decision. ``review_event`` is the history
(leases, saves, submissions, decisions, reopenings, corrections, assignments) the Team page and the export
read. ``review_frontier`` keeps each annotator's place in the hand-out of never-touched images. All are keyed
by the store's dataset id, so several folders share one PostgreSQL database.
"""

from __future__ import annotations

from enum import StrEnum

from opsml_image.store.tables import EVENT, FRONTIER, ITEM

__all__ = ["Status", "ISSUE_TAGS", "ITEM", "EVENT", "FRONTIER"]


class Status(StrEnum):
    """Where an image is in review: ``unlabeled → in_progress → submitted → approved | rejected``."""

    UNLABELED = "unlabeled"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


#: The issue tags a rejection names (at least one).
ISSUE_TAGS: tuple[str, ...] = ("wrong class", "missing box", "loose box", "extra box")
