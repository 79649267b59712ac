"""AppTest of review in team mode: the Review page (queue, Reject needs a comment and a tag, Approve, the
next image opening, a stale decision refused, annotators refused), and Annotate's review parts (a leased image
without a file, Submit for review, the reviewer's comment on a rejected image)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import TEAM_PASSWORD, open_app
from opsml_image.auth import Accounts
from opsml_image.dataset import ImageDataset
from opsml_image.review import ReviewBoard, Status
from opsml_image.store import WorkStore

PASSWORD = TEAM_PASSWORD


@pytest.fixture
def board(app_demo: Path) -> Iterator[ReviewBoard]:
    store = WorkStore.open(ImageDataset(image_dir=app_demo))
    store.sync()
    yield ReviewBoard(store)
    store.close()


def log_in(name: str, page: str) -> AppTest:
    at = open_app()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click().run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    shown = [*at.error, *at.success, *at.info, *at.warning, *at.caption, *at.text]
    return " ".join(str(e.value) for e in shown).replace("\\", "")


def submitted(board: ReviewBoard, *names: str, user: str = "anna") -> None:
    for name in names:
        board.submit(("train", name), user)


def test_review_page_reject_needs_comment_then_next_opens_then_approve(team: Accounts, board: ReviewBoard):
    submitted(board, "scene_001.jpg", "scene_002.jpg")
    at = log_in("rex", "pages/review.py")
    assert at.title[0].value == "Review"
    assert "2 image(s) wait for review" in texts(at)
    assert "train/scene_001.jpg · by anna" in texts(at)
    at.button(key="review_reject").click().run()
    assert "a rejection needs a comment" in texts(at)
    at.text_area(key="review_comment").input("the house box is loose")
    at.button(key="review_reject").click().run()
    assert "at least one issue tag" in texts(at)
    at.session_state["review_tags"] = ["loose box"]
    at.text_area(key="review_comment").input("the house box is loose")
    at.button(key="review_reject").click().run()
    assert not at.exception, at.exception
    assert "Rejected scene_001.jpg." in texts(at)
    item = board.item(("train", "scene_001.jpg"))
    assert (item.status, item.reviewer, item.comment, item.tags) == (
        Status.REJECTED, "rex", "the house box is loose", ("loose box",),
    )  # fmt: skip
    assert "train/scene_002.jpg · by anna" in texts(at)  # the next image opened
    assert at.text_area(key="review_comment").value == ""
    at.button(key="review_approve").click().run()
    assert "Approved scene_002.jpg." in texts(at)
    assert board.item(("train", "scene_002.jpg")).status == Status.APPROVED
    assert "Nothing waits for review" in texts(at)


def test_decision_on_an_image_changed_meanwhile_is_refused(team: Accounts, board: ReviewBoard):
    submitted(board, "scene_003.jpg")
    at = log_in("ada", "pages/review.py")
    store = board.store
    annotation = store.get("train", "scene_003.jpg")
    assert annotation is not None
    annotation.caption = "edited after submission"
    store.save(annotation, store.version("train", "scene_003.jpg"), user="someone")
    at.button(key="review_approve").click().run()
    assert "changed after it was submitted" in texts(at)
    assert board.item(("train", "scene_003.jpg")).status == Status.SUBMITTED


def test_queue_filter_by_annotator(team: Accounts, board: ReviewBoard):
    submitted(board, "scene_001.jpg")
    submitted(board, "scene_002.jpg", user="bob")
    at = log_in("rex", "pages/review.py")
    at.selectbox(key="review_annotator").select("bob").run()
    assert "1 image(s) wait for review" in texts(at)
    assert "train/scene_002.jpg · by bob" in texts(at)


def test_annotators_cannot_review(team: Accounts, board: ReviewBoard):
    submitted(board, "scene_001.jpg")
    at = log_in("anna", "pages/review.py")
    assert "scene_001" not in texts(at)
    assert "This page is not available to you" in texts(at) or "for reviewers and admins" in texts(at)
    assert all(b.key != "review_approve" for b in at.button)


def test_annotate_hands_out_a_leased_image_and_submits(team: Accounts, board: ReviewBoard):
    at = log_in("anna", "pages/annotate.py")
    split, name = at.query_params["split"], at.query_params["file"]
    split = split[0] if isinstance(split, list) else split
    name = name[0] if isinstance(name, list) else name
    item = board.item((split, name))
    assert item.lease_user == "anna"
    assert "Review status: unlabeled · leased to anna" in texts(at)
    at.button(key="annotate_submit").click().run()
    assert not at.exception, at.exception
    assert board.item((split, name)).status == Status.SUBMITTED
    following = tuple(at.query_params[k] for k in ("split", "file"))
    following = tuple(v[0] if isinstance(v, list) else v for v in following)
    assert following != (split, name) and board.item(following).lease_user == "anna"  # type: ignore[arg-type]


def test_annotate_shows_the_reviewers_comment_on_a_rejected_image(team: Accounts, board: ReviewBoard):
    key = ("train", "scene_006.jpg")
    board.submit(key, "anna")
    board.decide(
        key, "rex", approve=False, rev=board.item(key).rev, comment="add the car", tags=["missing box"]
    )
    at = log_in("anna", "pages/annotate.py")
    assert at.query_params["file"] in ("scene_006.jpg", ["scene_006.jpg"])  # her rejected image first
    warnings = [str(w.value).replace("\\", "") for w in at.warning]
    assert any("Rejected by rex (missing box): add the car" in w for w in warnings)
