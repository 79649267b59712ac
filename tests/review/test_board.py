"""Review on one store (SQLite and PostgreSQL): hand-out order, the status cycle, decisions and their races,
lease expiry and takeover, reviewer corrections, reopening, assignment, counts and the export."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from opsml_image.review import AlreadyDecided, ReviewBoard, ReviewError, StaleReview, Status
from opsml_image.store import WorkStore
from tests.review.conftest import Clock

TRAIN = [("train", f"t{i:02d}.png") for i in range(6)]
VALIDATION = [("validation", f"v{i:02d}.png") for i in range(2)]


def test_two_annotators_get_different_images_unannotated_first(board: ReviewBoard) -> None:
    first = board.next_image("ana")
    second = board.next_image("bob")
    assert first is not None and second is not None
    assert first.key != second.key
    assert first.lease_user == "ana" and second.lease_user == "bob"
    # t00 has a box already: the unannotated images go first
    assert first.key == TRAIN[1] and second.key == TRAIN[2]
    assert board.item(first.key).status == Status.UNLABELED


def test_next_again_resumes_own_lease_and_next_from_current_moves_on(board: ReviewBoard) -> None:
    first = board.next_image("ana")
    assert first is not None
    assert board.next_image("ana").key == first.key  # type: ignore[union-attr]
    moved = board.next_image("ana", current=first.key)
    assert moved is not None and moved.key != first.key
    assert board.item(first.key).lease_user is None  # nothing saved on it: released


def test_hands_out_every_image_once_then_none(board: ReviewBoard, work: Callable[..., int]) -> None:
    seen = []
    while (item := board.next_image("ana")) is not None:
        work(item.key, "ana")
        board.submit(item.key, "ana")
        seen.append(item.key)
    assert sorted(seen) == sorted(TRAIN + VALIDATION)
    assert board.status_counts()[Status.SUBMITTED] == 8


def test_full_cycle_reject_fix_approve(board: ReviewBoard, work: Callable[..., int]) -> None:
    item = board.next_image("ana")
    assert item is not None
    key = item.key
    work(key, "ana", boxes=2)
    assert board.item(key).status == Status.IN_PROGRESS and board.item(key).annotator == "ana"
    board.submit(key, "ana")
    assert board.queue()[0].key == key and board.queue_count() == 1
    got = board.item(key)
    with pytest.raises(ReviewError, match="comment"):
        board.decide(key, "rita", approve=False, rev=got.rev, comment=" ", tags=["loose box"])
    with pytest.raises(ReviewError, match="issue tag"):
        board.decide(key, "rita", approve=False, rev=got.rev, comment="too loose")
    with pytest.raises(ReviewError, match="unknown issue tag"):
        board.decide(key, "rita", approve=False, rev=got.rev, comment="x", tags=["ugly"])
    board.decide(key, "rita", approve=False, rev=got.rev, comment="box 2 too loose", tags=["loose box"])
    rejected = board.item(key)
    assert rejected.status == Status.REJECTED and rejected.feedback == "box 2 too loose"
    assert board.queue_count() == 0
    # bob never gets ana's rejected image; ana gets it first, with the comment
    assert board.next_image("bob").key != key  # type: ignore[union-attr]
    back = board.next_image("ana")
    assert back is not None and back.key == key and back.feedback == "box 2 too loose"
    work(key, "ana", boxes=1)
    assert board.item(key).status == Status.IN_PROGRESS and board.item(key).feedback == "box 2 too loose"
    board.submit(key, "ana")
    board.decide(key, "rita", approve=True, rev=board.item(key).rev)
    assert board.item(key).status == Status.APPROVED and board.approved_keys() == [key]
    annotators, reviewers = board.team_stats()
    ana = next(a for a in annotators if a.user == "ana")
    assert (ana.submitted, ana.images, ana.boxes, ana.approved, ana.rejected) == (2, 1, 1, 1, 1)
    assert ana.approval_rate == 0.5 and ana.rejections_by_tag == {"loose box": 1}
    assert [(r.user, r.approved, r.rejected) for r in reviewers] == [("rita", 1, 1)]
    assert board.reviewers() == ["rita"]
    assert {row["action"] for row in board.daily_progress()} == {"submit", "approve", "reject"}


def test_two_reviewers_one_decision_wins(board: ReviewBoard, work: Callable[..., int]) -> None:
    key = TRAIN[1]
    work(key, "ana")
    board.submit(key, "ana")
    rev = board.item(key).rev
    board.decide(key, "rita", approve=True, rev=rev)
    with pytest.raises(AlreadyDecided, match="rita already approved"):
        board.decide(key, "remy", approve=False, rev=rev, comment="no", tags=["extra box"])
    assert board.item(key).reviewer == "rita"


def test_decision_on_an_image_changed_after_submission_is_stale(
    board: ReviewBoard, store: WorkStore, work: Callable[..., int]
) -> None:
    key = TRAIN[1]
    work(key, "ana")
    board.submit(key, "ana")
    rev = board.item(key).rev
    annotation = store.get(*key)
    assert annotation is not None
    annotation.caption = "changed behind review's back"
    store.save(annotation, store.version(*key), user="someone")  # e.g. a fix applied from Validate
    with pytest.raises(StaleReview, match="changed after it was submitted"):
        board.decide(key, "rita", approve=True, rev=rev)
    assert board.item(key).status == Status.SUBMITTED


def test_annotator_editing_a_submitted_image_withdraws_it(
    board: ReviewBoard, work: Callable[..., int]
) -> None:
    key = TRAIN[1]
    work(key, "ana")
    board.submit(key, "ana")
    rev = board.item(key).rev
    work(key, "ana", boxes=3)
    assert board.item(key).status == Status.IN_PROGRESS
    with pytest.raises(AlreadyDecided, match="in progress now"):
        board.decide(key, "rita", approve=True, rev=rev)


def test_reviewer_correction_is_theirs_and_keeps_it_decidable(
    board: ReviewBoard, store: WorkStore, work: Callable[..., int]
) -> None:
    key = TRAIN[1]
    work(key, "ana")
    board.submit(key, "ana")
    work(key, "rita", boxes=2, reviewer=True)
    item = board.item(key)
    assert item.status == Status.SUBMITTED and item.annotator == "ana" and item.n_boxes == 2
    assert store.history(1, key=key)[0].user == "rita"
    board.decide(key, "rita", approve=True, rev=item.rev)
    _, reviewers = board.team_stats()
    assert reviewers[0].corrections == 1


def test_editing_an_approved_image_reopens_it(board: ReviewBoard, work: Callable[..., int]) -> None:
    key = TRAIN[1]
    work(key, "ana")
    board.submit(key, "ana")
    board.decide(key, "rita", approve=True, rev=board.item(key).rev)
    note = board.on_save(key, "bob", reviewer=False, version=99, n_boxes=1)
    assert note.reopened and board.item(key).status == Status.IN_PROGRESS
    assert board.approved_keys() == []


def test_expired_lease_taken_over_and_reported_to_the_first_annotator(
    board: ReviewBoard, clock: Clock, work: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_IMAGE_LEASE_MINUTES", "10")
    item = board.next_image("ana")
    assert item is not None
    first = item.key
    work(first, "ana")  # in progress, leased to ana
    for key in TRAIN + VALIDATION:
        if key != first:
            board.submit(key, "ana")
    assert board.next_image("bob") is None  # everything is ana's or submitted
    clock.advance(11)
    taken = board.next_image("bob")
    assert taken is not None and taken.key == first and taken.taken_from == "ana"
    with pytest.raises(ReviewError, match="being annotated by bob"):
        board.submit(first, "ana")
    version = work(first, "ana")
    note = board.on_save(first, "ana", reviewer=False, version=version, n_boxes=1)
    assert note.taken_over_by == "bob"


def test_lease_minutes_read_from_the_environment(
    board: ReviewBoard, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_IMAGE_LEASE_MINUTES", "2")
    item = board.next_image("ana")
    assert item is not None and item.lease_until == pytest.approx(clock.now + 120)
    monkeypatch.setenv("OPSML_IMAGE_LEASE_MINUTES", "soon")
    with pytest.raises(ReviewError, match="OPSML_IMAGE_LEASE_MINUTES must be a number"):
        board.next_image("bob")


def test_assigned_images_go_to_their_assignee_only(board: ReviewBoard) -> None:
    assert board.assign_split("validation", "bob", by="admin") == 2
    assert board.assign([TRAIN[3]], "bob", by="admin") == 1
    with pytest.raises(KeyError, match="no split 'nope'"):
        board.assign([("nope", "x.png")], "bob", by="admin")
    got_bob = {board.next_image("bob").key for _ in range(1)}  # type: ignore[union-attr]
    assert got_bob <= set(VALIDATION) | {TRAIN[3]}
    ana = []
    while (item := board.next_image("ana", current=ana[-1] if ana else None)) is not None:
        if item.key in ana:
            break
        ana.append(item.key)
        board.submit(item.key, "ana")
    assert not set(ana) & (set(VALIDATION) | {TRAIN[3]})
    assert len(ana) == 5


def test_summary_counts_and_export(board: ReviewBoard, work: Callable[..., int]) -> None:
    work(TRAIN[1], "ana")
    board.submit(TRAIN[1], "ana")
    work(TRAIN[2], "bob")
    counts = board.status_counts()
    assert counts[Status.SUBMITTED] == 1 and counts[Status.IN_PROGRESS] == 1
    assert counts[Status.UNLABELED] == 6 and sum(counts.values()) == 8
    assert board.user_counts() == {"ana": {"submitted": 1}, "bob": {"in_progress": 1}}
    lines = list(board.export_lines())
    assert len(lines) == 8
    line = next(x for x in lines if x["file_name"] == "t01.png")
    assert line["status"] == "submitted" and line["annotator"] == "ana" and line["submitted_at"]
    assert next(x for x in lines if x["file_name"] == "t03.png")["status"] == "unlabeled"


def test_queue_filters(board: ReviewBoard, clock: Clock, work: Callable[..., int]) -> None:
    from opsml_image.review import QueueFilter

    work(TRAIN[1], "ana")  # boxes of class 1
    board.submit(TRAIN[1], "ana")
    work(VALIDATION[1], "bob")
    board.submit(VALIDATION[1], "bob")
    clock.advance(1)  # the queue is oldest submission first
    board.submit(TRAIN[0], "bob")  # class 0, submitted as imported
    assert board.queue_count() == 3
    assert [i.key for i in board.queue(QueueFilter(annotator="bob"))] == [VALIDATION[1], TRAIN[0]]
    assert [i.key for i in board.queue(QueueFilter(split="validation"))] == [VALIDATION[1]]
    assert [i.key for i in board.queue(QueueFilter(category=0))] == [TRAIN[0]]
    assert board.queue_count(QueueFilter(category=1, annotator="ana")) == 1
    with pytest.raises(ReviewError, match="already waiting"):
        board.submit(TRAIN[0], "bob")


def test_images_added_before_the_frontier_are_still_handed_out(
    board: ReviewBoard, store: WorkStore, dataset_dir_image: Callable[[str], None]
) -> None:
    handed = []
    for user in ("ana", "bob", "ana", "cleo"):  # cleo starts late: from the others' frontier
        item = board.next_image(user)
        assert item is not None and item.key not in handed
        board.submit(item.key, user)
        handed.append(item.key)
    dataset_dir_image("a_new.png")  # sorts before every image handed out so far
    assert store.add_images("train", ["a_new.png"]) == 1
    while (item := board.next_image("bob")) is not None:
        board.submit(item.key, "bob")
        handed.append(item.key)
    assert len(handed) == len(set(handed)) == 9 and ("train", "a_new.png") in handed
