"""The edit rule (who may change an image in which review status), role by status, checked inside a save's
transaction (the board's writer), and reopening an approved image (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from opsml_image.annotation import Box
from opsml_image.review import EditRefused, ReviewBoard, ReviewError, ReviewItem, SaveNote, Status
from opsml_image.review.editing import refusal
from opsml_image.store import WorkStore
from tests.review.conftest import Clock

NOW = 1_800_000_000.0
KEY = ("train", "t01.png")
LIVE, EXPIRED = NOW + 600, NOW - 1

#: (status, lease holder, lease until) -> the item
STATES: dict[str, ReviewItem] = {
    "unlabeled": ReviewItem(KEY, Status.UNLABELED),
    "in progress, leased to ana": ReviewItem(
        KEY, Status.IN_PROGRESS, "ana", lease_user="ana", lease_until=LIVE
    ),
    "in progress, ana's lease expired": ReviewItem(
        KEY, Status.IN_PROGRESS, "ana", lease_user="ana", lease_until=EXPIRED
    ),
    "unlabeled, leased to ana": ReviewItem(KEY, Status.UNLABELED, lease_user="ana", lease_until=LIVE),
    "submitted by ana": ReviewItem(KEY, Status.SUBMITTED, "ana"),
    "rejected, ana's": ReviewItem(KEY, Status.REJECTED, "ana", "rita"),
    "approved": ReviewItem(KEY, Status.APPROVED, "ana", "rita"),
}
#: who -> (name, may review)
USERS = {"ana (annotator)": ("ana", False), "bob (annotator)": ("bob", False),
         "rita (reviewer)": ("rita", True), "boss (admin)": ("boss", True), "local (single-user admin)": ("local", True)}  # fmt: skip

#: state -> the users who may edit (the others are refused)
ALLOWED = {
    "unlabeled": set(USERS),
    "in progress, leased to ana": {"ana (annotator)"},
    "in progress, ana's lease expired": set(USERS),
    "unlabeled, leased to ana": {"ana (annotator)"},
    "submitted by ana": {"rita (reviewer)", "boss (admin)", "local (single-user admin)"},
    "rejected, ana's": set(USERS),
    "approved": set(),
}


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("who", list(USERS))
def test_who_may_edit_in_which_status(state: str, who: str) -> None:
    name, reviewer = USERS[who]
    got = refusal(STATES[state], name, reviewer=reviewer, now=NOW)
    if who in ALLOWED[state]:
        assert got is None, (state, who, got)
        return
    assert got is not None and got.startswith("train/t01.png "), (state, who)
    if state == "approved":
        assert ("reopen it (Reopen for editing)" if reviewer else "ask a reviewer to reopen it") in got
    elif state == "submitted by ana":
        assert "waits for review: only reviewers and admins may change it" in got
    else:
        assert "is leased to ana" in got and "[" not in got and "](" not in got  # a name, no link


def test_a_takeover_is_said_to_the_first_annotator() -> None:
    item = ReviewItem(KEY, Status.IN_PROGRESS, "ana", lease_user="bob", lease_until=LIVE, taken_from="ana")
    got = refusal(item, "ana", reviewer=False, now=NOW)
    assert got == "train/t01.png is leased to bob now: your lease expired and the image was handed to them"


def test_reopen_an_approved_image(board: ReviewBoard, work: Callable[..., int], clock: Clock) -> None:
    work(KEY, "ana")
    board.submit(KEY, "ana")
    board.decide(KEY, "rita", True, board.item(KEY).rev)
    assert board.edit_refusal(KEY, "ana", reviewer=False) is not None
    assert board.edit_refusal(KEY, "rita", reviewer=True) is not None
    clock.advance(1)
    reopened = board.reopen(KEY, "rita")
    assert reopened.status == Status.IN_PROGRESS and reopened.annotator == "ana"
    assert reopened.lease_user is None
    assert board.edit_refusal(KEY, "ana", reviewer=False) is None
    with board.store.engine.connect() as conn:
        events = conn.execute(
            sa.text('SELECT action, "user" FROM review_event WHERE file_name = :n ORDER BY id'), {"n": KEY[1]}
        ).all()
    assert [tuple(e) for e in events][-1] == ("reopen", "rita")
    with pytest.raises(ReviewError, match="is in progress, not approved: there is nothing to reopen"):
        board.reopen(KEY, "rita")
    with pytest.raises(ReviewError, match="is unlabeled, not approved"):
        board.reopen(("train", "t02.png"), "rita")


def test_submitting_an_approved_image_says_a_reviewer_may_reopen_it(
    board: ReviewBoard, work: Callable[..., int]
) -> None:
    work(KEY, "ana")
    board.submit(KEY, "ana")
    board.decide(KEY, "rita", True, board.item(KEY).rev)
    with pytest.raises(ReviewError, match="approved already; a reviewer may reopen it"):
        board.submit(KEY, "ana")


def test_the_writer_checks_the_rule_and_moves_the_status_in_the_save(
    board: ReviewBoard, store: WorkStore, clock: Clock
) -> None:
    """``WorkStore.edit_with(board.writer(...))``: a refused edit raises EditRefused and stores nothing; an
    allowed one stores the image and its status together (SQLite and PostgreSQL)."""
    item = board.next_image("ana")
    assert item is not None
    key = item.key
    annotation = store.get(*key)
    assert annotation is not None
    annotation.boxes = [Box(1, 1, 4, 4, 1)]
    change, note = store.edit_with(board.writer("ana", reviewer=False), key, annotation, store.version(*key))
    assert note == SaveNote(Status.IN_PROGRESS) and board.item(key).n_boxes == 1
    assert change.version == store.version(*key)
    before, status = store.history(100, key=key), board.item(key)
    for user, reviewer in (("bob", False), ("rita", True)):
        with pytest.raises(EditRefused, match="is leased to ana"):
            store.edit_with(board.writer(user, reviewer=reviewer), key, annotation, change.version, user=user)
    assert store.history(100, key=key) == before and board.item(key) == status
    board.submit(key, "ana")
    annotation.boxes = [Box(1, 1, 4, 4, 1), Box(5, 5, 4, 4, 0)]
    corrected, note = store.edit_with(board.writer("rita", reviewer=True), key, annotation, change.version)
    assert note.correction and board.item(key).submitted_version == corrected.version
    clock.advance(1)
    assert board.decide(key, "rita", True, board.item(key).rev).status == Status.APPROVED
