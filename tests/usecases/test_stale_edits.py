"""Use case: two people on one image lose nothing silently. An edit of a version someone else changed since is
refused as stale, naming who; a drawing's refused new boxes come back with the outcome and are added again
onto the current version (itself a versioned edit); dashed outlines of kept boxes are never read as boxes."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml_image.annotation import Box
from opsml_image.auth import Role, User
from opsml_image.canvas_geometry import boxes_from_drawing
from opsml_image.usecases import annotate as uc
from opsml_image.usecases import review
from opsml_image.usecases.workspace import Workspace, open_workspace
from tests.review.conftest import build

ANA = User("ana", Role.REVIEWER)  # reviewers correcting a submitted image: no lease stands in the way
REX = User("rex", Role.REVIEWER)
BO = User("bo", Role.ANNOTATOR)
KEY = ("train", "t01.png")  # 32 x 24, no boxes


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "OPSML_IMAGE_STORE_URI"):
        monkeypatch.delenv(name, raising=False)
    build(tmp_path / "data")
    workspace = open_workspace(tmp_path / "data", flush_delay=0.05)
    assert review.submit(workspace, BO, KEY, take_next=False).ok  # two reviewers correct bo's submission
    yield workspace
    workspace.close()


def view_of(ws: Workspace) -> uc.ImageView:
    view = uc.open_image(ws, KEY)
    assert view is not None
    return view


def drawn(canvas: uc.CanvasView, *boxes: tuple[float, float, float, float]) -> dict:
    """The canvas's drawing with ``boxes`` (image pixels) drawn on it, as the browser sends it."""
    objects = [dict(o) for o in canvas.drawing["objects"]]
    for x, y, w, h in boxes:
        left, top, width, height = canvas.fit.box_to_canvas((x, y, w, h))
        objects.append({"type": "LabeledRect", "label": "car", "left": left, "top": top, "width": width,
                        "height": height, "originX": "left", "originY": "top", "scaleX": 1, "scaleY": 1})  # fmt: skip
    return {"objects": objects}


def saves(ws: Workspace) -> int:
    return len(ws.store.history(1000, key=KEY))


def test_a_stale_drawing_is_refused_kept_and_added_again(ws: Workspace) -> None:
    names = ["car", "tree"]
    seen_by_ana, seen_by_rex = view_of(ws), view_of(ws)  # both opened version v
    canvas_a = uc.canvas_view(seen_by_ana, names, (320, 240))
    canvas_r = uc.canvas_view(seen_by_rex, names, (320, 240))
    first = uc.apply_drawing(ws, seen_by_ana, canvas_a, drawn(canvas_a, (2, 2, 8, 8)), 0, user=ANA)
    assert first.saved and first.message == "Saved t01.png: 1 box(es) added" and saves(ws) == 1
    assert first.version == view_of(ws).version

    stale = uc.apply_drawing(ws, seen_by_rex, canvas_r, drawn(canvas_r, (20, 10, 6, 6)), 0, user=REX)
    assert stale.status == "stale" and saves(ws) == 1  # refused: nothing stored
    assert stale.message.startswith("Not saved: ana changed train/t01.png after you opened it")
    assert [b.as_bbox() for b in ws.store.get(*KEY).boxes] == [[2, 2, 8, 8]]  # type: ignore[union-attr]
    assert [b.as_bbox() for b in stale.added] == [[20, 10, 6, 6]]

    again = uc.add_boxes(ws, view_of(ws), stale.added, user=REX)  # onto the current version: one save
    assert again.saved and again.message == "Saved t01.png: 1 box(es) added again" and saves(ws) == 2
    assert [b.as_bbox() for b in ws.store.get(*KEY).boxes] == [[2, 2, 8, 8], [20, 10, 6, 6]]  # type: ignore[union-attr]
    assert uc.add_boxes(ws, view_of(ws), stale.added, user=REX).status == "unchanged"  # not twice
    assert saves(ws) == 2


def test_stale_edits_of_every_kind_are_refused(ws: Workspace) -> None:
    assert uc.add_boxes(ws, view_of(ws), [Box(2, 2, 5, 5, 0), Box(30, 20, 5, 5, 1)], user=ANA).saved
    seen = view_of(ws)  # rex reads this version; ana saves once more
    assert uc.set_caption(ws, seen, "ana's caption", user=ANA).saved
    count = saves(ws)
    edits = {
        "caption": lambda v: uc.set_caption(ws, v, "rex's caption", user=REX),
        "image categories": lambda v: uc.set_image_categories(ws, v, [1], user=REX),
        "copy previous": lambda v: uc.copy_previous_boxes(ws, v, user=REX),
        "undo": lambda v: uc.restore(ws, v, dataclasses.replace(v.annotation, boxes=[]), "undo", user=REX),
        "add boxes": lambda v: uc.add_boxes(ws, v, [Box(3, 3, 4, 4, 1)], user=REX),
        "relabel": lambda v: uc.relabel_box(ws, v, 0, 1, user=REX),
        "delete": lambda v: uc.delete_box(ws, v, 0, user=REX),
        "clip": lambda v: uc.clip_box(ws, v, 1, user=REX),  # 30 + 5 > 32: outside
    }
    for what, edit in edits.items():
        outcome = edit(seen)
        assert outcome.status == "stale" and "ana changed train/t01.png" in outcome.message, what
    assert saves(ws) == count and ws.store.get(*KEY).caption == "ana's caption"  # type: ignore[union-attr]
    assert uc.set_caption(ws, view_of(ws), "rex's caption", user=REX).saved  # the current version: saved


def test_the_same_person_in_another_window_is_named_so(ws: Workspace) -> None:
    old = view_of(ws)
    assert uc.set_caption(ws, old, "one", user=ANA).saved
    stale = uc.set_caption(ws, old, "two", user=ANA)
    assert (
        stale.status == "stale" and "train/t01.png was changed elsewhere after you opened it" in stale.message
    )


def test_dashed_outlines_are_shown_but_never_read_back_as_boxes(ws: Workspace) -> None:
    canvas = uc.canvas_view(view_of(ws), ["car"], (320, 240))
    shown = uc.with_outlines(canvas, [Box(4, 4, 8, 8, 0)])
    assert [o["type"] for o in shown.drawing["objects"]] == ["Rect"]
    assert shown.drawing["objects"][0]["strokeDashArray"] and not shown.drawing["objects"][0]["selectable"]
    assert canvas.drawing["objects"] == []  # the canvas itself unchanged
    assert boxes_from_drawing(shown.drawing, shown.fit, lambda label: 0) == []
