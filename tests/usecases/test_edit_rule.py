"""Use case: every save of Annotate follows the review rule — someone else's lease, a submitted image
(annotators), an approved one (everyone until a reviewer reopens it) are refused with a readable reason and
nothing stored; single-user mode edits freely except approved images."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml_image.annotation import Box
from opsml_image.auth import LOCAL_ADMIN, Role, User
from opsml_image.review import Status
from opsml_image.usecases import annotate
from opsml_image.usecases import review as uc
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace
from tests.review.conftest import build

ANA = User("ana", Role.ANNOTATOR)
BOB = User("bob", Role.ANNOTATOR)
RITA = User("rita", Role.REVIEWER)
BOSS = User("boss", Role.ADMIN)
KEY = ("train", "t01.png")


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "OPSML_IMAGE_STORE_URI"):
        monkeypatch.delenv(name, raising=False)
    build(tmp_path / "data")
    workspace = open_workspace(tmp_path / "data", flush_delay=0.05)
    yield workspace
    workspace.close()


def draw(ws: Workspace, user: User, boxes: int = 1, key: tuple[str, str] = KEY) -> annotate.Outcome:
    """Save ``boxes`` boxes on the image as ``user`` through the use case, as the page does."""
    view = annotate.open_image(ws, key)
    assert view is not None
    edited = dataclasses.replace(view.annotation, boxes=[Box(1 + i, 1, 4, 4, 1) for i in range(boxes)])
    return annotate._save(ws, view, edited, "boxes", user=user)


def saves(ws: Workspace) -> int:
    return len(ws.store.history(1000, key=KEY))


def approved(ws: Workspace) -> None:
    assert draw(ws, ANA).saved
    assert uc.submit(ws, ANA, KEY, take_next=False).ok
    assert uc.decide(ws, RITA, KEY, True, uc.item(ws, KEY).rev).ok


def test_another_annotators_lease_is_refused_and_their_work_kept(ws: Workspace) -> None:
    key = uc.next_image(ws, ANA)
    assert key is not None
    assert draw(ws, ANA, boxes=2, key=key).saved
    before, count = ws.store.get(*key), len(ws.store.history(1000, key=key))
    for user in (BOB, RITA, BOSS):  # reviewers and admins too: the image is being annotated
        outcome = draw(ws, user, boxes=1, key=key)
        assert outcome.status == "refused", user
        assert outcome.message == (
            f"Not saved: {key[0]}/{key[1]} is leased to ana, who is annotating it: it cannot be changed by "
            "anyone else now."
        )
        assert "lease expired" not in outcome.message
    assert ws.store.get(*key) == before and len(ws.store.history(1000, key=key)) == count
    assert uc.item(ws, key).lease_user == "ana" and uc.item(ws, key).annotator == "ana"


def test_a_submitted_image_is_for_reviewers_and_admins(ws: Workspace) -> None:
    assert draw(ws, ANA).saved
    assert uc.submit(ws, ANA, KEY, take_next=False).ok
    count = saves(ws)
    for user in (ANA, BOB):
        outcome = draw(ws, user, boxes=3)
        assert outcome.status == "refused" and "waits for review" in outcome.message
    assert saves(ws) == count and uc.item(ws, KEY).status == Status.SUBMITTED  # not withdrawn
    assert draw(ws, RITA, boxes=2).saved  # a correction: still submitted, decidable
    assert uc.item(ws, KEY).status == Status.SUBMITTED and saves(ws) == count + 1
    assert uc.decide(ws, RITA, KEY, True, uc.item(ws, KEY).rev).ok


def test_an_approved_image_is_closed_until_a_reviewer_reopens_it(ws: Workspace) -> None:
    approved(ws)
    count = saves(ws)
    for user in (ANA, BOB, RITA, BOSS, LOCAL_ADMIN):
        outcome = annotate.set_caption(ws, annotate.open_image(ws, KEY), "changed", user=user)  # type: ignore[arg-type]
        assert outcome.status == "refused", user
        assert "is approved" in outcome.message and "reopen" in outcome.message
    assert saves(ws) == count and uc.item(ws, KEY).status == Status.APPROVED
    with pytest.raises(UserError, match="only reviewers and admins"):
        uc.reopen(ws, ANA, KEY)
    assert uc.reopen(ws, RITA, KEY) == "Reopened t01.png: it can be edited again and needs a new review."
    assert draw(ws, BOB, boxes=2).saved
    item = uc.item(ws, KEY)
    assert item.status == Status.IN_PROGRESS and item.lease_user == "bob"
    with pytest.raises(UserError, match="not approved"):
        uc.reopen(ws, RITA, KEY)


def test_single_user_mode_edits_freely_except_approved_images(ws: Workspace) -> None:
    for caption in ("one", "two"):  # unlabeled, then in progress (its own lease)
        view = annotate.open_image(ws, KEY)
        assert view is not None and annotate.set_caption(ws, view, caption, user=LOCAL_ADMIN).saved
    assert uc.submit(ws, LOCAL_ADMIN, KEY, take_next=False).ok
    view = annotate.open_image(ws, KEY)
    assert view is not None and annotate.set_caption(ws, view, "three", user=LOCAL_ADMIN).saved  # an admin
    assert uc.item(ws, KEY).status == Status.IN_PROGRESS  # its own submission: taken back to work on
    assert uc.submit(ws, LOCAL_ADMIN, KEY, take_next=False).ok
    assert uc.decide(ws, LOCAL_ADMIN, KEY, True, uc.item(ws, KEY).rev).ok
    view = annotate.open_image(ws, KEY)
    assert view is not None
    refused = annotate.set_caption(ws, view, "four", user=LOCAL_ADMIN)
    assert refused.status == "refused" and "reopen it (Reopen for editing)" in refused.message
    uc.reopen(ws, LOCAL_ADMIN, KEY)
    view = annotate.open_image(ws, KEY)
    assert view is not None and annotate.set_caption(ws, view, "four", user=LOCAL_ADMIN).saved
    assert ws.store.get(*KEY).caption == "four"  # type: ignore[union-attr]


def test_an_expired_lease_is_free_again(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSML_IMAGE_LEASE_MINUTES", "0.002")  # 0.12 s
    key = uc.next_image(ws, ANA)
    assert key is not None and draw(ws, ANA, key=key).saved
    assert uc.edit_refusal(ws, BOB, key) is not None
    time.sleep(0.3)
    assert uc.edit_refusal(ws, BOB, key) is None
    assert draw(ws, BOB, boxes=2, key=key).saved
    assert uc.item(ws, key).annotator == "bob"


def test_an_unknown_split_is_refused_readably(ws: Workspace) -> None:
    assert uc.edit_refusal(ws, ANA, ("nosuch", "x.png")) is not None
    assert annotate.open_image(ws, ("nosuch", "x.png")) is None


def test_a_refused_drawing_makes_no_class(ws: Workspace) -> None:
    key = uc.next_image(ws, ANA)
    assert key is not None and draw(ws, ANA, key=key).saved
    view = annotate.open_image(ws, key)
    assert view is not None
    canvas = annotate.canvas_view(view, ["car", "tree"], (320, 240))
    objects = [*canvas.drawing["objects"], {**canvas.drawing["objects"][0], "label": "bicycle", "left": 1}]
    outcome = annotate.apply_drawing(ws, view, canvas, {"objects": objects}, 0, user=RITA)  # may edit classes
    assert outcome.status == "refused" and "is leased to ana" in outcome.message
    assert ws.store.category_names() == ["car", "tree"]


def test_a_lease_taken_after_the_page_checked_refuses_the_save(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lease handed to someone else after ana's page found the image free refuses her save, naming the
    takeover, and nothing is stored. The rule is checked in the save's own transaction, so no hand-out slips in
    between the check and the save either (tests/store/test_unit_of_work.py)."""
    monkeypatch.setenv("OPSML_IMAGE_LEASE_MINUTES", "0.002")  # 0.12 s
    key = uc.next_image(ws, ANA)
    assert key is not None and draw(ws, ANA, key=key).saved
    for other in [(s, f"{s[0]}{i:02d}.png") for s, n in (("train", 6), ("validation", 2)) for i in range(n)]:
        if other != key:
            assert uc.submit(ws, BOSS, other, take_next=False).ok
    time.sleep(0.3)  # ana's lease expired
    view = annotate.open_image(ws, key)
    assert view is not None and uc.edit_refusal(ws, ANA, key) is None  # her page: free to edit
    monkeypatch.setenv("OPSML_IMAGE_LEASE_MINUTES", "15")
    assert uc.next_image(ws, BOB) == key  # taken over meanwhile
    before, count = ws.store.get(*key), saves_of(ws, key)
    edited = dataclasses.replace(view.annotation, boxes=[Box(2, 2, 4, 4, 1)])
    outcome = annotate._save(ws, view, edited, "boxes", user=ANA)
    assert outcome.status == "refused" and outcome.message == (
        f"Not saved: {key[0]}/{key[1]} is leased to bob now: your lease expired and the image was handed to "
        "them."
    )
    assert ws.store.get(*key) == before and saves_of(ws, key) == count
    item = uc.item(ws, key)
    assert (item.lease_user, item.annotator, item.taken_from) == ("bob", "ana", "ana")


def saves_of(ws: Workspace, key: tuple[str, str]) -> int:
    return len(ws.store.history(1000, key=key))
