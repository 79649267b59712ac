"""Team review of a dataset folder: a status per image, leases that hand out work without collisions,
submit / approve / reject with comments and issue tags, assignment, and statistics.

Kept in the working store's database (tables ``review_*``, keyed by the store's dataset id), never in
``metadata.jsonl``, so the folder stays a dataset Hugging Face loads::

    board = ReviewBoard(store)                       # store: an open WorkStore
    item = board.next_image("ana")                   # leased to ana (None when nothing is left)
    change, note = store.edit_with(board.writer("ana", reviewer=False), item.key, annotation, version)
    # one transaction: the edit rule (EditRefused), the image, its history, its status (note: SaveNote)
    board.submit(item.key, "ana")
    got = board.item(item.key)                       # ReviewItem: status, annotator, rev, comment, ...
    board.decide(item.key, "rita", approve=False, rev=got.rev, comment="box too loose", tags=["loose box"])

Statuses: ``unlabeled → in_progress → submitted → approved | rejected`` (:class:`Status`). Leases last
``OPSML_IMAGE_LEASE_MINUTES`` (default 15) of inactivity. Modules: :mod:`~opsml_image.review.tables`,
:mod:`~opsml_image.review.editing` (the edit rule and the save's status writer),
:mod:`~opsml_image.review.items`, :mod:`~opsml_image.review.leases`, :mod:`~opsml_image.review.decisions`,
:mod:`~opsml_image.review.reading`, :mod:`~opsml_image.review.approved` (the approved-only folder),
:mod:`~opsml_image.review.board` (the facade).
"""

from opsml_image.review.board import ReviewBoard
from opsml_image.review.decisions import SaveNote
from opsml_image.review.editing import StatusWriter
from opsml_image.review.items import (
    AlreadyDecided,
    EditRefused,
    ReviewError,
    ReviewItem,
    StaleReview,
    lease_minutes,
)
from opsml_image.review.reading import AnnotatorStats, QueueFilter, ReviewerStats
from opsml_image.review.tables import ISSUE_TAGS, Status

__all__ = [
    "ReviewBoard",
    "ReviewItem",
    "ReviewError",
    "AlreadyDecided",
    "StaleReview",
    "EditRefused",
    "SaveNote",
    "StatusWriter",
    "QueueFilter",
    "AnnotatorStats",
    "ReviewerStats",
    "Status",
    "ISSUE_TAGS",
    "lease_minutes",
]
