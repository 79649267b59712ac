"""AppTest of the Annotate page: a drawing injected into the canvas lands in the store in image pixels."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_SCRIPT, link_outside
from opsml_image.canvas_geometry import canvas_size
from opsml_image.dataset import ImageDataset
from opsml_image.store import WorkStore


def open_annotate(split: str = "train", file_name: str = "scene_001.jpg") -> AppTest:
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=30)
    at.switch_page("pages/annotate.py")
    at.query_params["split"] = split
    at.query_params["file"] = file_name
    at.run()
    assert not at.exception, at.exception
    return at


def image_id(split: str = "train", file_name: str = "scene_001.jpg") -> str:
    """The short id Annotate keys an image's widgets with (never its file name)."""
    return hashlib.blake2s(f"{split}\0{file_name}".encode()).hexdigest()[:12]


def stored(data: Path, split: str, file_name: str):
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        return store.get(split, file_name)


def rect(left, top, width, height, label, **extra):
    return {"type": "LabeledRect", "label": label, "left": left, "top": top, "width": width, "height": height,
            "originX": "left", "originY": "top", "scaleX": 1, "scaleY": 1, **extra}  # fmt: skip


def state(at: AppTest):  # noqa: ANN201 - an AnnotateState
    """The page's state (one object under one key)."""
    return at.session_state["annotate"]


def given(at: AppTest):  # noqa: ANN201 - (canvas key, CanvasView)
    """What the canvas was given: its key and board."""
    memo = state(at).canvas
    return memo.key, memo.board


def canvas_rev(at: AppTest) -> int:
    return state(at).rev


def inject(at: AppTest, objects: list[dict]) -> None:
    key, _board = given(at)
    at.session_state[key] = {"drawing": {"raw": {"objects": objects}, "data": None}, "backgroundFit": None}
    at.run()
    assert not at.exception, at.exception


def current_objects(at: AppTest) -> list[dict]:
    _key, board = given(at)
    return [dict(o) for o in board.drawing["objects"]]


def canvas_scale(at: AppTest) -> tuple[float, float]:
    _key, board = given(at)
    return board.fit.scale_x, board.fit.scale_y


def test_page_shows_canvas_boxes_and_progress(app_demo: Path):
    at = open_annotate()
    assert at.title[0].value == "Annotate"
    keys = [e.key for e in at.get("bidi_component")]
    assert keys == ["annotate_viewport", f"canvas:{image_id()}:1:616x462@0.000,0.000,640.000", "annotate_boxlink"]
    objects = current_objects(at)
    before = stored(app_demo, "train", "scene_001.jpg")
    assert len(objects) == len(before.boxes) == 5
    assert objects[0]["label"] == "house"
    assert any("annotated" in (p.text or "") for p in at.sidebar.get("progress"))
    assert any(" annotated · image 1" in m.value for m in at.main.markdown)
    assert not at.error


def test_box_link_has_each_box_in_canvas_pixels_and_colour(app_demo: Path):
    at = open_annotate()
    link = at.get("bidi_component")[-1]
    objects = current_objects(at)
    data = json.loads(link.proto.json)
    assert data is not None and data["prefix"] == "annotate_box_" and data["width"] == 616
    assert [r["rect"] for r in data["rows"]] == [
        [round(o["left"], 1), round(o["top"], 1), round(o["width"], 1), round(o["height"], 1)]
        for o in objects
    ]
    assert [r["color"] for r in data["rows"]] == [o["stroke"] for o in objects]


def test_drawn_box_is_saved_in_image_pixels(app_demo: Path):
    at = open_annotate()  # scene_001.jpg is 640x480, shown on a 616x462 canvas (the fallback column width)
    assert canvas_size((640, 480), 616, 560) == (616, 462)
    sx, sy = canvas_scale(at)
    assert (sx, sy) == (616 / 640, 462 / 480)
    objects = current_objects(at)
    objects.append(rect(75 * sx, 75 * sy, 150 * sx, 75 * sy, "car"))
    inject(at, objects)
    after = stored(app_demo, "train", "scene_001.jpg")
    assert len(after.boxes) == 6
    new = after.boxes[-1]
    assert (new.x, new.y, new.w, new.h, new.category) == (75.0, 75.0, 150.0, 75.0, 0)
    assert [b for b in after.boxes[:5]] == stored_original_boxes()
    assert any("Saved" in str(t.value) for t in at.toast)


def stored_original_boxes():
    line = (Path(__file__).resolve().parents[2] / "opsml_image/demo_data/train/metadata.jsonl").read_text()
    record = json.loads(line.splitlines()[0])
    from opsml_image.annotation import Box

    return [
        Box(*map(float, b), c)
        for b, c in zip(record["objects"]["bbox"], record["objects"]["categories"], strict=True)
    ]


def give_extras(data: Path, extra: dict) -> list:
    """Give scene_001.jpg's first box per-box values, as a COCO import leaves them; returns the boxes."""
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        store.sync()
        first = store.get("train", "scene_001.jpg")
        assert first is not None
        boxes = list(first.boxes)
        boxes[0] = dataclasses.replace(boxes[0], extra=extra)
        store.save(dataclasses.replace(first, boxes=boxes), store.version("train", "scene_001.jpg"))
    return boxes


def test_a_box_moved_on_the_canvas_keeps_its_coco_id_and_drops_its_stale_area(app_demo: Path):
    boxes = give_extras(app_demo, {"id": 41, "area": 5.0, "segmentation": [[1, 1, 2, 2, 3, 1]]})
    at = open_annotate()
    objects = current_objects(at)
    objects[0]["left"] += 10
    inject(at, objects)
    moved = stored(app_demo, "train", "scene_001.jpg").boxes[0]
    assert moved.extra == {"id": 41} and moved.x != boxes[0].x


def test_resized_box_uses_scale(app_demo: Path):
    at = open_annotate()
    objects = current_objects(at)
    objects[0]["scaleX"] = 2.0  # resizing on the canvas changes scaleX, not width
    inject(at, objects)
    box = stored(app_demo, "train", "scene_001.jpg").boxes[0]
    original = stored_original_boxes()[0]
    assert (box.x, box.y, box.w, box.h) == pytest.approx(
        (original.x, original.y, 2 * original.w, original.h), abs=0.011
    )


def test_the_label_bar_picks_the_class_for_new_boxes(app_demo: Path):
    at = open_annotate()
    bar = [b for b in at.button if b.key and b.key.startswith("annotate_pick_")]
    assert [b.label for b in bar] == ["car", "house", "tree"]
    assert not at.main.selectbox  # three classes: the label bar alone (a menu only beyond the keys 1-9)
    at.button(key="annotate_pick_2").click().run()
    assert state(at).category == 2
    assert any("new boxes are drawn as **tree**" in m.value for m in at.markdown)
    inject(at, [*current_objects(at), rect(10, 10, 30, 30, "")])  # drawn with no label of its own
    assert stored(app_demo, "train", "scene_001.jpg").boxes[-1].category == 2


def test_relabel_and_delete_from_the_box_list(app_demo: Path):
    at = open_annotate()
    before = stored(app_demo, "train", "scene_001.jpg").boxes
    at.button(key=f"box_sel:{image_id()}:{canvas_rev(at)}:0").click().run()
    assert any("box 1 is selected" in m.value for m in at.markdown)
    at.button(key="annotate_pick_2").click().run()  # a class picked with a box selected relabels that box
    assert not at.exception
    after = stored(app_demo, "train", "scene_001.jpg").boxes
    assert after[0].category == 2 and after[1:] == before[1:]
    assert state(at).category == 2  # and is the class for new boxes
    rev = canvas_rev(at)
    at.button(key=f"box_del:{image_id()}:{rev}:1").click().run()
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 4


def test_the_class_dialog_adds_a_class(app_demo: Path):
    at = open_annotate()
    assert not at.main.text_input  # the dialog's inputs are loaded only when it opens
    at.button(key="annotate_classes").click().run()
    at.text_input(key="annotate_new_class").input("bicycle")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert not at.exception
    assert json.loads((app_demo / "categories.json").read_text()) == ["car", "house", "tree", "bicycle"]
    assert state(at).category == 3
    assert [b.label for b in at.button if b.key and b.key.startswith("annotate_pick_")][-1] == "bicycle"
    assert not at.main.text_input  # closed


def test_the_class_dialog_names_a_class_known_by_its_id(app_demo: Path):
    (app_demo / "categories.json").unlink()  # the seed's own format: ids, no names
    at = open_annotate()
    assert [b.label for b in at.button if b.key and b.key.startswith("annotate_pick_")] == ["0", "1", "2"]
    at.button(key="annotate_classes").click().run()
    at.text_input(key="annotate_name_1").input("house")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert json.loads((app_demo / "categories.json").read_text()) == ["0", "house"]
    at.button(key="annotate_classes").click().run()
    at.text_input(key="annotate_name_2").input("house")  # a name taken: said in the dialog, nothing written
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert any("already a class named 'house'" in e.value for e in at.error)
    assert json.loads((app_demo / "categories.json").read_text()) == ["0", "house"]


def test_label_typed_on_canvas_adds_a_class(app_demo: Path):
    at = open_annotate()
    objects = current_objects(at)
    objects[0]["label"] = "bicycle"
    inject(at, objects)
    assert json.loads((app_demo / "categories.json").read_text()) == ["car", "house", "tree", "bicycle"]
    assert stored(app_demo, "train", "scene_001.jpg").boxes[0].category == 3


def test_caption_and_image_categories(app_demo: Path):
    at = open_annotate()
    assert not at.text_area  # shown on demand
    at.button(key="annotate_more_0").click().run()
    rev = canvas_rev(at)
    at.text_area(key=f"caption:{image_id()}:{rev}").input("A quiet street").run()
    assert stored(app_demo, "train", "scene_001.jpg").caption == "A quiet street"
    rev = canvas_rev(at)
    at.multiselect(key=f"imgcats:{image_id()}:{rev}").set_value([0]).run()
    assert stored(app_demo, "train", "scene_001.jpg").categories == [0]


def test_navigation_and_copy_previous(app_demo: Path):
    at = open_annotate()
    at.button(key="nav_next").click().run()
    assert at.query_params["file"] == ["scene_002.jpg"] or at.query_params["file"] == "scene_002.jpg"
    before = len(stored(app_demo, "train", "scene_002.jpg").boxes)
    at.button(key="nav_copy").click().run()
    assert not at.exception
    assert len(stored(app_demo, "train", "scene_002.jpg").boxes) == before + 5
    at.button(key="nav_prev").click().run()
    assert "scene_001.jpg" in str(at.query_params["file"])


def test_copied_boxes_are_new_objects_without_the_source_annotation_id(app_demo: Path):
    give_extras(app_demo, {"id": 41, "iscrowd": 0})
    at = open_annotate("train", "scene_002.jpg")
    at.button(key="nav_copy").click().run()
    copied = [b for b in stored(app_demo, "train", "scene_002.jpg").boxes if b.extra]
    assert [b.extra for b in copied] == [{"iscrowd": 0}]


def test_a_message_is_shown_again_by_the_runs_of_the_next_seconds(app_demo: Path):
    at = open_annotate("train", "scene_002.jpg")
    at.button(key="nav_copy").click().run()
    message = r"Saved scene\_002.jpg\: 5 boxes copied from scene\_001.jpg"  # file names shown as text
    assert [t.value for t in at.toast] == [message]
    at.run()  # the run a remounted canvas asks for at once: it must not lose the toast
    assert [t.value for t in at.toast] == [message]
    at.session_state["annotate_flash_recent"] = [(0.0, "toast", message)]  # long ago
    at.run()
    assert not at.toast


def test_unknown_image_is_a_readable_error(app_demo: Path):
    at = open_annotate("train", "nope.jpg")
    assert "no image train/nope.jpg" in at.error[0].value


def test_missing_image_file_is_a_readable_error(app_demo: Path):
    (app_demo / "train" / "scene_003.jpg").unlink()
    at = open_annotate("train", "scene_003.jpg")
    assert any("cannot be shown" in e.value for e in at.error)


def test_copy_previous_onto_an_unreadable_image_is_a_readable_error(app_demo: Path):
    (app_demo / "train" / "scene_002.jpg").write_bytes(b"not an image")
    at = open_annotate("train", "scene_002.jpg")
    before = stored(app_demo, "train", "scene_002.jpg").boxes
    at.button(key="nav_copy").click().run()
    assert not at.exception
    assert any("No boxes copied" in e.value and r"scene\_002.jpg" in e.value for e in at.error), at.error
    assert stored(app_demo, "train", "scene_002.jpg").boxes == before


def test_an_image_linked_outside_the_folder_is_never_shown(app_demo: Path, tmp_path: Path):
    link_outside(app_demo, tmp_path)
    at = open_annotate("train", "scene_003.jpg")
    assert any("outside the dataset folder" in e.value for e in at.error), at.error
    assert [e.key for e in at.get("bidi_component")] == ["annotate_viewport"]  # no canvas, no pixels sent


def test_canvas_size_and_the_sections_below_the_box_list_are_buttons(app_demo: Path):
    at = open_annotate()
    assert [b.proto.type for b in at.button if b.key and b.key.startswith("annotate_canvas_size_")] == [
        "secondary", "primary", "secondary"
    ]  # fmt: skip
    at.button(key="annotate_canvas_size_0").click().run()  # Small: the canvas is at most 420 px high
    _key, board = given(at)
    assert board.size[1] <= 420 and at.button(key="annotate_canvas_size_0").proto.type == "primary"
    assert not at.text_area
    at.button(key="annotate_more_0").click().run()
    assert at.text_area and at.button(key="annotate_more_0").proto.type == "primary"
    at.button(key="annotate_more_0").click().run()  # a second click closes it
    assert not at.text_area


@pytest.mark.parametrize("name", ["img__001.jpg", "a photo, 2 (copy).jpg", "фото_日本__é.jpg"])
def test_any_file_name_can_be_annotated_and_keys_never_carry_it(app_demo: Path, name: str):
    from PIL import Image

    Image.new("RGB", (64, 48), (10, 120, 200)).save(app_demo / "train" / name)
    at = open_annotate("train", name)
    assert not at.error, [e.value for e in at.error]
    keys = [e.key for e in at.get("bidi_component")]
    assert keys[1].startswith(f"canvas:{image_id('train', name)}:")
    every = [w.key for w in at.button] + keys + [c.key for c in at.get("flex_container") if c.key]
    assert not [k for k in every if k and (name in k or "__" in k)], every
    inject(at, [*current_objects(at), rect(10, 10, 60, 40, "car")])
    assert len(stored(app_demo, "train", name).boxes) == 1
    at.button(key="nav_next").click().run()  # Next works from it
    assert not at.exception and at.query_params["file"] not in (name, [name])


def test_an_unknown_split_is_a_readable_error_without_a_traceback(
    app_demo: Path, caplog: pytest.LogCaptureFixture
):
    at = open_annotate("nosuch", "x.jpg")
    assert [e.value for e in at.error] == ["There is no image nosuch/x.jpg in this dataset."]
    assert "Traceback" not in caplog.text and "failed" not in caplog.text


def test_plain_shows_user_names_and_addresses_as_text():
    from pages._widgets import WORD_JOINER, plain

    assert plain("www.evil-link.test") == f"www{WORD_JOINER}.evil\\-link.test"
    assert plain("a@evil.test") == f"a{WORD_JOINER}@evil.test"
    # where \b sees no word start, GFM still links: after _ or a digit
    assert plain("_www.evil.test") == f"\\_www{WORD_JOINER}.evil.test"
    assert plain("x_http://evil.test/x") == f"x\\_http{WORD_JOINER}\\://evil.test/x"
    assert plain("9https://evil.test") == f"9https{WORD_JOINER}\\://evil.test"
    assert plain("awww.x and nohttp words") == "awww.x and nohttp words"  # no link there: left alone


def save_elsewhere(data: Path, box) -> None:  # noqa: ANN001 - a Box
    """Someone else adds ``box`` to scene_001.jpg (another session, straight through the store)."""
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        found = store.get("train", "scene_001.jpg")
        assert found is not None
        changed = dataclasses.replace(found, boxes=[*found.boxes, box])
        store.save(changed, store.version("train", "scene_001.jpg"), user="ana")


def history(data: Path) -> int:
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        return len(store.history(100, key=("train", "scene_001.jpg")))


def test_a_drawing_on_a_stale_canvas_is_refused_kept_and_added_again(app_demo: Path):
    from opsml_image.annotation import Box

    at = open_annotate()
    old = current_objects(at)  # what this canvas shows
    save_elsewhere(app_demo, Box(10, 10, 50, 40, 0))
    saves = history(app_demo)
    inject(at, [*old, rect(300, 200, 80, 60, "tree")])  # drawn on the old state
    assert any("ana changed train/scene\\_001.jpg after you opened it" in w.value for w in at.warning), (
        at.warning
    )
    after = stored(app_demo, "train", "scene_001.jpg").boxes
    assert len(after) == 6 and (after[-1].x, after[-1].y) == (10, 10)  # ana's box is kept, nothing of ours
    assert history(app_demo) == saves
    assert len(current_objects(at)) == 6 + 1  # the canvas now: the six boxes, and ours dashed
    assert current_objects(at)[-1]["type"] == "Rect"
    assert any("Your 1 new box(es) were not saved" in w.value.replace("\\", "") for w in at.warning)
    at.button(key="annotate_redo_boxes").click().run()
    boxes = stored(app_demo, "train", "scene_001.jpg").boxes
    assert len(boxes) == 7 and (boxes[5].x, boxes[5].y) == (10, 10) and boxes[6].category == 2
    assert history(app_demo) == saves + 1  # one action, one save
    assert not [b for b in at.button if b.key == "annotate_redo_boxes"]
    assert [o["type"] for o in current_objects(at)] == ["LabeledRect"] * 7


def test_a_stale_caption_is_kept_and_saved_again(app_demo: Path):
    at = open_annotate()
    at.button(key="annotate_more_0").click().run()
    with WorkStore.open(ImageDataset(image_dir=app_demo)) as store:
        found = store.get("train", "scene_001.jpg")
        store.save(
            dataclasses.replace(found, caption="ana's"), store.version("train", "scene_001.jpg"), user="ana"
        )
    saves = history(app_demo)
    rev = canvas_rev(at)
    at.text_area(key=f"caption:{image_id()}:{rev}").input("mine").run()
    assert stored(app_demo, "train", "scene_001.jpg").caption == "ana's" and history(app_demo) == saves
    assert any("Your caption was not saved: mine" in w.value.replace("\\", "") for w in at.warning)
    rev = canvas_rev(at)
    assert at.text_area(key=f"caption:{image_id()}:{rev}").value == "ana's"  # the field: as it is now
    at.button(key="annotate_redo_caption").click().run()
    assert stored(app_demo, "train", "scene_001.jpg").caption == "mine" and history(app_demo) == saves + 1


def test_buttons_act_on_the_version_they_were_drawn_from(app_demo: Path):
    from opsml_image.annotation import Box

    at = open_annotate()
    at.button(key="annotate_more_0").click().run()
    save_elsewhere(app_demo, Box(10, 10, 50, 40, 0))  # after this page was drawn
    saves = history(app_demo)
    rev = canvas_rev(at)
    at.button(key=f"box_del:{image_id()}:{rev}:0").click().run()  # delete box 1 as this page showed it
    assert any("ana changed train/scene\\_001.jpg" in w.value for w in at.warning)
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 6 and history(app_demo) == saves
    rev = canvas_rev(at)  # the page shows the image as it is now: that works
    at.button(key=f"box_del:{image_id()}:{rev}:5").click().run()
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 5 and history(app_demo) == saves + 1
    save_elsewhere(app_demo, Box(20, 20, 30, 30, 1))
    rev = canvas_rev(at)
    at.multiselect(key=f"imgcats:{image_id()}:{rev}").set_value([0]).run()  # stale: kept
    assert stored(app_demo, "train", "scene_001.jpg").categories == [1, 2]  # as the demo has them
    assert any("Your image categories were not saved: car" in w.value.replace("\\", "") for w in at.warning)
    at.button(key="annotate_redo_categories").click().run()
    assert stored(app_demo, "train", "scene_001.jpg").categories == [0] and history(app_demo) == saves + 3


def log_in(name: str, split: str | None = None, file_name: str | None = None) -> AppTest:
    """Log in (team mode) and open Annotate, on an image or without one."""
    from conftest import TEAM_PASSWORD, open_app

    at = open_app()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(TEAM_PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click().run()
    at.switch_page("pages/annotate.py")
    if split and file_name:
        at.query_params["split"], at.query_params["file"] = split, file_name
    at.run()
    assert not at.exception, at.exception
    return at


def review_item(data: Path, key: tuple[str, str]):  # noqa: ANN201 - a ReviewItem
    from opsml_image.review import ReviewBoard

    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        return ReviewBoard(store).item(key)


def test_reviewers_take_no_lease_and_reopen_an_approved_image(team, app_demo: Path):  # noqa: ANN001
    from opsml_image.review import ReviewBoard, Status

    at = log_in("rex")  # no file: the first unlabelled image, not handed out
    key = (
        "train",
        at.query_params["file"][0] if isinstance(at.query_params["file"], list) else at.query_params["file"],
    )
    assert review_item(app_demo, key).lease_user is None
    assert not [b for b in at.button if b.label == "Next for me"]
    with WorkStore.open(ImageDataset(image_dir=app_demo)) as store:
        board = ReviewBoard(store)
        board.submit(("train", "scene_002.jpg"), "anna")
        board.decide(("train", "scene_002.jpg"), "rex", True, board.item(("train", "scene_002.jpg")).rev)
    anna = log_in("anna", "train", "scene_002.jpg")
    assert any("is approved: ask a reviewer to reopen it" in i.value.replace("\\", "") for i in anna.info)
    assert not [b for b in anna.button if b.key == "annotate_reopen"]
    at = log_in("rex", "train", "scene_002.jpg")
    assert any("reopen it (Reopen for editing)" in i.value.replace("\\", "") for i in at.info)
    at.button(key="annotate_reopen").click().run()
    assert review_item(app_demo, ("train", "scene_002.jpg")).status == Status.IN_PROGRESS
    assert not at.info and not [b for b in at.button if b.key == "annotate_reopen"]
    at.button(key="nav_copy").click().run()  # an edit now saves
    assert any("boxes copied" in str(t.value) for t in at.toast)


def actions(data: Path) -> list[str]:
    """scene_001.jpg's history, oldest first: one action a save."""
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        return [c.action for c in reversed(store.history(100, key=("train", "scene_001.jpg")))]


def test_undo_and_redo_are_the_stores_history_one_save_each(app_demo: Path):
    """Two edits (a drawing, a deletion from the list) undone one after the other and redone: each step is one
    history entry, the undone states come from the store's history (extras included)."""
    give_extras(app_demo, {"id": 41, "segmentation": [[1, 1, 2, 2, 3, 1]]})
    original = stored(app_demo, "train", "scene_001.jpg").boxes
    at = open_annotate()
    inject(at, [*current_objects(at), rect(10, 10, 60, 40, "car")])
    at.button(key=f"box_del:{image_id()}:{canvas_rev(at)}:0").click().run()
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 5
    assert actions(app_demo)[-2:] == ["save", "save"] and len(state(at).undo) == 2
    saves = len(actions(app_demo))
    at.button(key="undo").click().run()  # the deletion
    assert stored(app_demo, "train", "scene_001.jpg").boxes[:5] == original  # its polygon too
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 6
    at.button(key="undo").click().run()  # the drawing: a step further back
    assert stored(app_demo, "train", "scene_001.jpg").boxes == original
    assert actions(app_demo)[saves:] == ["undo", "undo"]
    at.button(key="undo").click().run()
    assert any("Nothing to undo on this image" in w.value for w in at.warning)
    at.button(key="redo").click().run()
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 6
    at.button(key="redo").click().run()
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 5
    assert actions(app_demo)[saves:] == ["undo"] * 4  # a redo is the undo of an undo
    assert not at.exception and not at.error


def test_undo_is_refused_when_someone_else_changed_the_image_since(app_demo: Path):
    from opsml_image.annotation import Box

    at = open_annotate()
    inject(at, [*current_objects(at), rect(10, 10, 60, 40, "car")])
    save_elsewhere(app_demo, Box(300, 300, 20, 20, 1))  # ana's box, after mine
    at.run()
    saves = actions(app_demo)
    at.button(key="undo").click().run()
    assert actions(app_demo) == saves  # nothing stored
    assert len(stored(app_demo, "train", "scene_001.jpg").boxes) == 7  # my box and ana's both kept
    assert any("Not undone: ana changed scene" in w.value.replace("\\", "") for w in at.warning), at.warning
    assert state(at).target(("train", "scene_001.jpg")) is None  # my older edits of it are dropped


def test_modes_zoom_and_pan_change_only_the_state(app_demo: Path):
    """E and P toggle the modes (the canvas is disabled while panning); zoom buttons step the one Viewport;
    none of them saves."""
    at = open_annotate()
    saves = len(actions(app_demo))
    at.button(key="edit_key").click().run()
    assert state(at).mode == "edit" and at.button(key="edit_key").proto.type == "primary"
    assert any("1.0×, shown at 96% · Edit boxes: click a box" in c.value.replace("\\", "") for c in at.caption), [c.value for c in at.caption]
    at.button(key="pan_key").click().run()
    assert state(at).mode == "pan"
    canvas = at.get("bidi_component")[1]
    assert json.loads(canvas.proto.json)["disabled"] is True and not at.exception
    at.button(key="zoom_in").click().run()
    at.button(key="zoom_in").click().run()
    view = state(at).view
    assert view.zoom == 2.0 and view.region == (160.0, 120.0, 320.0, 240.0)
    _key, board = given(at)
    assert board.region == view.region and board.fit == view.fit  # the canvas is given the state's view
    at.button(key="zoom_100").click().run()
    assert state(at).view.fit.scale_x == pytest.approx(1.0)  # 1:1: one image pixel a canvas pixel
    at.button(key="zoom_fit").click().run()
    assert state(at).view.zoom == 1.0
    at.button(key="pan_key").click().run()
    assert state(at).mode == "draw" and len(actions(app_demo)) == saves
