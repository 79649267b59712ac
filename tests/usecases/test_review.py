"""Use case: review through the app's use-case layer — roles checked, a save moving the status, submit and
the next image, decisions as outcomes, assignment by admins, the Team tables and CSV, the approved-only
registration (consistent folder, review tags) and the CLI (summary, export, register --approved-only)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml_image.auth import LOCAL_ADMIN, Role, User
from opsml_image.cli import app as cli
from opsml_image.dataset import ImageDataset
from opsml_image.registry import CardRegistry
from opsml_image.review import Status
from opsml_image.usecases import annotate
from opsml_image.usecases import review as uc
from opsml_image.usecases.register import RegisterForm
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace
from tests.review.conftest import build

ANA = User("ana", Role.ANNOTATOR)
BOB = User("bob", Role.ANNOTATOR)
RITA = User("rita", Role.REVIEWER)
ADMIN = User("boss", Role.ADMIN)
FORM = RegisterForm(name="reviewed", team="vision", contact="ann@example.com")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "OPSML_IMAGE_STORE_URI"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def ws(home: Path, tmp_path: Path) -> Iterator[Workspace]:
    build(tmp_path / "data")
    workspace = open_workspace(tmp_path / "data", flush_delay=0.05)
    yield workspace
    workspace.close()


def draw(ws: Workspace, key: tuple[str, str], user: User, boxes: int = 1) -> annotate.Outcome:
    view = annotate.open_image(ws, key)
    assert view is not None
    edited = view.annotation.__class__(**{**view.annotation.__dict__})
    edited.boxes = [annotate.Box(1 + i, 1, 4, 4, 1) for i in range(boxes)]
    return annotate._save(ws, view, edited, "boxes", user=user)


def test_save_submit_next_and_decide(ws: Workspace) -> None:
    first = uc.next_image(ws, ANA)
    other = uc.next_image(ws, BOB)
    assert first and other and first != other
    assert draw(ws, first, ANA).saved
    assert uc.item(ws, first).status == Status.IN_PROGRESS
    done = uc.submit(ws, ANA, first)
    assert done.ok and done.next_key not in (None, first, other)
    again = uc.submit(ws, ANA, first)
    assert not again.ok and "already waiting" in again.message
    with pytest.raises(Exception, match="only reviewers and admins may review"):
        uc.queue(ws, ANA)
    items, total = uc.queue(ws, RITA)
    assert total == 1 and items[0].key == first
    refused = uc.decide(ws, RITA, first, approve=False, rev=items[0].rev, comment="")
    assert refused.status == "refused" and "comment" in refused.message
    assert uc.decide(ws, ANA, first, approve=True, rev=items[0].rev).status == "refused"
    rejected = uc.decide(ws, RITA, first, False, items[0].rev, "box too loose", ["loose box"])
    assert rejected.ok
    late = uc.decide(ws, ADMIN, first, True, items[0].rev)
    assert late.status == "taken" and "rita already rejected" in late.message
    assert uc.next_image(ws, ANA, current=done.next_key) == first  # her rejected image first
    assert uc.item(ws, first).feedback == "box too loose"


def test_stale_decision_and_reopen_reported(ws: Workspace) -> None:
    """An annotator's edit no longer withdraws a submission nor reopens an approved image: both are refused
    (the edit rule) and a reviewer reopens; a decision on an image changed after its submission outside the
    rule (a fix from Validate) is stale."""
    key = ("train", "t01.png")
    assert draw(ws, key, ANA).saved
    assert uc.submit(ws, ANA, key, take_next=False).ok
    submitted = uc.item(ws, key)
    version = ws.store.version(*key)
    refused = draw(ws, key, ANA, boxes=2)  # her own submission: not taken back by editing it
    assert refused.status == "refused" and "waits for review" in refused.message
    assert uc.item(ws, key) == submitted and ws.store.version(*key) == version  # nothing stored
    annotation = ws.store.get(*key)
    assert annotation is not None
    annotation.caption = "a fix applied from Validate"  # no review rule on this path
    ws.store.save(annotation, version)
    stale = uc.decide(ws, RITA, key, True, submitted.rev)
    assert stale.status == "stale" and "changed after it was submitted" in stale.message
    assert draw(ws, key, RITA, boxes=2).saved  # a reviewer's correction: submitted at the new version
    assert uc.decide(ws, RITA, key, True, uc.item(ws, key).rev).ok
    approved, version = uc.item(ws, key), ws.store.version(*key)
    for user in (BOB, ANA):
        closed = draw(ws, key, user, boxes=3)
        assert closed.status == "refused" and "is approved: ask a reviewer to reopen it" in closed.message
    assert uc.item(ws, key) == approved and ws.store.version(*key) == version
    assert uc.reopen(ws, RITA, key).startswith("Reopened t01.png")
    outcome = draw(ws, key, BOB, boxes=3)
    assert outcome.saved and "reopened" not in outcome.message  # reopened by rita, not by this edit
    item = uc.item(ws, key)
    assert (item.status, item.annotator, item.lease_user) == (Status.IN_PROGRESS, "bob", "bob")
    assert uc.decide(ws, RITA, key, True, approved.rev).status == "taken"  # an old decision page: not again


def test_reviewer_correction_recorded_as_theirs(ws: Workspace) -> None:
    key = ("train", "t02.png")
    draw(ws, key, ANA)
    uc.submit(ws, ANA, key, take_next=False)
    draw(ws, key, RITA, boxes=2)
    assert ws.store.history(1, key=key)[0].user == "rita"
    item = uc.item(ws, key)
    assert item.status == Status.SUBMITTED and item.annotator == "ana"
    assert uc.decide(ws, RITA, key, True, item.rev).ok


def test_assignment_is_for_admins(ws: Workspace) -> None:
    with pytest.raises(UserError, match="Only admins"):
        uc.assign(ws, RITA, "bob", split="validation")
    assert uc.assign(ws, ADMIN, "bob", split="validation") == "Assigned 2 image(s) to bob."
    assert "1 image(s)" in uc.assign(ws, ADMIN, "bob", keys=[("train", "t03.png")])
    with pytest.raises(UserError, match="no split"):
        uc.assign(ws, ADMIN, "bob", split="nope")
    assert uc.next_image(ws, BOB)[0] in ("validation", "train")  # type: ignore[index]
    assert uc.item(ws, uc.next_image(ws, BOB)).assigned_to == "bob"  # type: ignore[arg-type]


def test_team_tables_and_csv(ws: Workspace) -> None:
    for key, user in ((("train", "t01.png"), ANA), (("train", "t02.png"), BOB)):
        draw(ws, key, user, boxes=2)
        uc.submit(ws, user, key, take_next=False)
    uc.decide(ws, RITA, ("train", "t01.png"), True, uc.item(ws, ("train", "t01.png")).rev)
    rev = uc.item(ws, ("train", "t02.png")).rev
    uc.decide(ws, RITA, ("train", "t02.png"), False, rev, "missing the car", ["missing box", "wrong class"])
    tables = uc.team_tables(ws, RITA)
    by_user = {row["user"]: row for row in tables.annotators}
    assert by_user["ana"]["approval_rate"] == 1.0 and by_user["bob"]["approval_rate"] == 0.0
    assert by_user["ana"]["boxes"] == 2 and by_user["ana"]["submitted"] == 1
    assert tables.reviewers == [
        {"user": "rita", "decisions": 2, "approved": 1, "rejected": 1, "corrections": 0}
    ]
    assert {(r["tag"], r["rejections"]) for r in tables.rejections} == {
        ("missing box", 1),
        ("wrong class", 1),
    }
    assert tables.status["approved"] == 1 and tables.status["rejected"] == 1
    lines = tables.csv().splitlines()
    assert lines[0].startswith("role,user,submitted") and any(
        line.startswith("reviewer,rita") for line in lines
    )
    with pytest.raises(Exception, match="may review"):
        uc.team_tables(ws, ANA)


def _approve(ws: Workspace, keys: list[tuple[str, str]]) -> None:
    for key in keys:
        draw(ws, key, ANA, boxes=2)
        uc.submit(ws, ANA, key, take_next=False)
        assert uc.decide(ws, RITA, key, True, uc.item(ws, key).rev).ok


def test_register_approved_only(ws: Workspace, home: Path) -> None:
    approved = [("train", "t01.png"), ("validation", "v01.png")]
    _approve(ws, approved)
    draw(ws, ("train", "t02.png"), ANA)
    uc.submit(ws, ANA, ("train", "t02.png"), take_next=False)
    registry = CardRegistry("data")
    try:
        card = uc.register_approved(ws, registry, FORM, user=ADMIN)
        assert card.facts is not None and card.facts.images == 2 and card.facts.boxes == 4
        assert card.tags["review.approved"] == "2" and card.tags["review.submitted"] == "1"
        assert card.tags["review.reviewers"] == "rita" and card.tags["review.scope"] == "approved-only"
        restored = home / "restored"
        registry.download_data(card, restored)
        got = ImageDataset(image_dir=restored).annotations()
        assert sorted(got) == sorted(approved)
        assert all(len(a.boxes) == 2 for a in got.values())
        with pytest.raises(Exception, match="only admins may register"):
            uc.register_approved(ws, registry, FORM, user=RITA)
    finally:
        registry.close()
    assert not list((home / "scratch").iterdir())  # the copy is gone


def test_register_approved_only_with_nothing_approved_is_refused(ws: Workspace, home: Path) -> None:
    registry = CardRegistry("data")
    try:
        with pytest.raises(UserError, match="no approved images"):
            uc.register_approved(ws, registry, FORM, user=LOCAL_ADMIN)
    finally:
        registry.close()


def test_cli_summary_export_and_register_approved_only(ws: Workspace, home: Path, tmp_path: Path) -> None:
    _approve(ws, [("train", "t01.png")])
    draw(ws, ("train", "t03.png"), BOB)
    ws.flusher.stop()
    runner = CliRunner()
    folder = str(ws.path)
    result = runner.invoke(cli, ["review", "summary", folder, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["status"]["approved"] == 1 and found["status"]["in_progress"] == 1
    assert found["status"]["unlabeled"] == 6 and found["users"]["bob"] == {"in_progress": 1}
    result = runner.invoke(cli, ["review", "summary", folder])
    assert result.exit_code == 0 and "approved" in result.output and "bob: in progress 1" in result.output
    out = tmp_path / "review.jsonl"
    result = runner.invoke(cli, ["review", "export", folder, str(out)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 8
    t01 = next(line for line in lines if line["file_name"] == "t01.png")
    assert (t01["status"], t01["annotator"], t01["reviewer"]) == ("approved", "ana", "rita")
    result = runner.invoke(
        cli,
        [
            "register",
            folder,
            "--name",
            "reviewed",
            "--team",
            "vision",
            "--email",
            "a@b.co",
            "--approved-only",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 images" in result.output and "approved 1" in result.output and "reviewers rita" in result.output
    result = runner.invoke(cli, ["review", "summary", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "Traceback" not in result.output
