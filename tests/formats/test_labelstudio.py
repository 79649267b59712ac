"""Label Studio JSON: a golden export written from its task format, percent ⇄ pixel within 1e-6 relative
(hypothesis), round trips of the demo dataset, and refusals that name the task and leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from formats_sample import SIZE, two_split_dataset, view
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import labelstudio
from opsml_image.formats.base import FormatError
from opsml_image.formats.classes import ClassIds

GOLDEN = Path(__file__).parent / "golden" / "labelstudio_tasks.json"


def ls_folder(root: Path, tasks: Any) -> Path:
    root.mkdir(parents=True)
    (root / "export.json").write_text(json.dumps(tasks) if not isinstance(tasks, str) else tasks)
    write_image(root / "8f3a2b1c-street_1.png", size=SIZE)
    write_image(root / "photos" / "street_2.png", size=SIZE)
    return root / "export.json"


def golden() -> list[dict[str, Any]]:
    return json.loads(GOLDEN.read_text())


def test_golden_export_imports_boxes_choices_and_caption(tmp_path: Path) -> None:
    report = labelstudio.import_dataset(ls_folder(tmp_path / "ls", golden()), tmp_path / "ds")
    assert (report.images, report.boxes, report.skipped) == (2, 3, [])
    assert sorted(report.warnings) == ["left out polygonlabels results: 1", "left out predictions (tasks): 1"]
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert dataset.category_names() == ["car", "tree", "daytime"]
    first = dataset.annotations()[("train", "8f3a2b1c-street_1.png")]
    assert (first.caption, first.categories) == ("a car under a tree", [2])
    assert [(b.as_bbox(), b.category) for b in first.boxes] == [
        ([16.0, 6.0, 32.0, 12.0], 0),
        ([0, 0, 64, 48], 1),
    ]
    (box,) = dataset.annotations()[("train", "photos/street_2.png")].boxes
    assert box.as_bbox() == pytest.approx([7.0, 10.0, 20.0, 20.0], rel=1e-9) and box.category == 0
    assert dataset.validate().ok


def test_demo_round_trip_keeps_splits_names_captions_and_categories(tmp_path: Path) -> None:
    dataset = ImageDataset(image_dir=DEMO_DIR)
    report = labelstudio.export(dataset, tmp_path / "ls")
    assert (report.images, report.boxes, report.warnings) == (12, 59, [])
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert tasks[0]["data"]["image"] == "/data/local-files/?d=images/train/scene_001.jpg"
    assert b'<Label value="car" />' in (tmp_path / "ls" / "label_config.xml").read_bytes()
    labelstudio.import_dataset(tmp_path / "ls", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back")
    assert list(back.splits) == ["train", "validation"] and back.category_names() == dataset.category_names()
    for (key, got), want in zip(back.annotations().items(), dataset.annotations().values(), strict=True):
        assert (got.caption, got.categories) == (want.caption, want.categories), key
        for a, b in zip(got.boxes, want.boxes, strict=True):
            assert a.category == b.category
            assert a.as_bbox() == pytest.approx(b.as_bbox(), rel=1e-6, abs=1e-9)


def test_export_warns_about_box_fields_and_exports_one_split(tmp_path: Path) -> None:
    dataset = two_split_dataset(tmp_path / "ds")
    report = labelstudio.export(dataset, tmp_path / "ls", split="validation")
    assert report.images == 1 and (tmp_path / "ls/images/c.png").is_file()
    labelstudio.import_dataset(tmp_path / "ls" / "tasks.json", tmp_path / "back")
    assert list(ImageDataset(image_dir=tmp_path / "back").splits) == ["validation"]
    assert view(ImageDataset(image_dir=tmp_path / "back")) == {
        k: v for k, v in view(dataset).items() if k[0] == "validation"
    }


size = st.integers(1, 8000)


@settings(max_examples=100, deadline=None)
@given(size, size, st.data())
def test_percent_round_trip_within_1e6_relative(width: int, height: int, data: st.DataObject) -> None:
    x = data.draw(st.floats(0, width - 1e-3))
    y = data.draw(st.floats(0, height - 1e-3))
    w = data.draw(st.floats(1e-3, width - x)) if width - x > 1e-3 else width - x
    h = data.draw(st.floats(1e-3, height - y)) if height - y > 1e-3 else height - y
    annotation = ImageAnnotation("a.png", boxes=[Box(x, y, w, h, 0)])
    task = labelstudio.encode(annotation, width, height, ["car"], task_id=1, image_url="a.png")
    notes = labelstudio.Notes()
    back = labelstudio.decode(json.loads(json.dumps(task)), width, height, ClassIds(["car"]), notes=notes)
    (box,) = back.boxes
    assert notes.resized == 0 and box.category == 0 and back.file_name == "a.png"
    for got, want in zip(box.as_bbox(), (x, y, w, h), strict=True):
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)


def with_result(**changes: Any) -> list[dict[str, Any]]:
    tasks = golden()
    tasks[0]["annotations"][0]["result"][0]["value"].update(changes)
    return tasks


BAD = [
    ("{not json", None, "not valid JSON"),
    ('"text"', None, "a JSON list of tasks"),
    ("[1]", "item 0", "a task must be a JSON object"),
    ('[{"id": 4, "data": {}}]', "task 4", "data.image (or one data value naming an image file) must be"),
    ('[{"id": 4, "data": {"a": "x.png", "b": "y.png"}}]', "task 4", "data.image (or one data value"),
    (with_result(rectanglelabels=["car", "tree"]), "task 11 result 1", "exactly one name"),
    (with_result(rectanglelabels=[]), "task 11 result 1", "exactly one name"),
    (with_result(rotation=30), "task 11 result 1", "value.rotation is 30"),
    (with_result(width=0), "task 11 result 1", "must be > 0"),
    (with_result(x="10"), "task 11 result 1", "value.x must be a finite number"),
    (with_result(x=90), "task 11 box 1 (car)", "lies outside the 64x48 image"),
]


@pytest.mark.parametrize(("tasks", "item", "message"), BAD)
def test_bad_export_is_refused_naming_the_task(
    tmp_path: Path, tasks: Any, item: str | None, message: str
) -> None:
    path = ls_folder(tmp_path / "ls", tasks)
    with pytest.raises(FormatError) as error:
        labelstudio.import_dataset(path, tmp_path / "ds")
    assert error.value.item == item and message in error.value.reason
    assert str(path) in str(error.value)
    assert not (tmp_path / "ds").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ls"]


def test_skip_invalid_imports_the_rest(tmp_path: Path) -> None:
    tasks = golden()
    tasks[1]["data"]["image"] = "/data/upload/3/nowhere.png"
    tasks.append({"id": 13, "data": {"image": "8f3a2b1c-street_1.png", "split": "holdout"}})
    tasks.append({"id": 14, "data": {"image": "8f3a2b1c-street_1.png"}})
    path = ls_folder(tmp_path / "ls", tasks)
    with pytest.raises(FormatError, match="task 12: image '/data/upload/3/nowhere.png' not found"):
        labelstudio.import_dataset(path, tmp_path / "ds")
    report = labelstudio.import_dataset(path, tmp_path / "ds", skip_invalid=True)
    assert report.images == 1
    assert [(s.item, s.reason.split(" ")[0]) for s in report.skipped] == [
        ("task 12", "image"),
        ("task 13", "data.split"),
        ("task 14", "a"),
    ]


def test_label_config_orders_classes_and_refuses_unknown_ones(tmp_path: Path) -> None:
    path = ls_folder(tmp_path / "ls", golden())
    (path.parent / "label_config.xml").write_bytes(labelstudio.label_config(["daytime", "tree", "car"]))
    labelstudio.import_dataset(path, tmp_path / "ds")
    assert ImageDataset(image_dir=tmp_path / "ds").category_names() == ["daytime", "tree", "car"]
    (path.parent / "label_config.xml").write_bytes(labelstudio.label_config(["tree", "daytime"]))
    with pytest.raises(FormatError, match="task 11: label 'car' is not in label_config.xml"):
        labelstudio.import_dataset(path, tmp_path / "ds2")


def test_candidates_try_the_longest_tail_first() -> None:
    assert labelstudio._candidates("/data/upload/3/x%20y.jpg") == [
        "data/upload/3/x y.jpg",
        "upload/3/x y.jpg",
        "3/x y.jpg",
        "x y.jpg",
    ]
    assert labelstudio._candidates("/data/local-files/?d=dir/../x.jpg") == ["dir/x.jpg", "x.jpg"]
    assert labelstudio._candidates("https://host/a/b.png?token=1") == ["a/b.png", "b.png"]


def test_export_refuses_a_box_outside_its_image(tmp_path: Path) -> None:
    from formats_sample import make_dataset

    dataset = make_dataset(
        tmp_path / "ds",
        {"train": [ImageAnnotation("a.png", boxes=[Box(60, 1, 10, 5, 0)]), ImageAnnotation("b.png")]},
        ["car"],
    )
    with pytest.raises(
        FormatError, match=r"train/a.png: box 1 = \[60, 1, 10, 5\] lies outside the 64x48 image"
    ):
        labelstudio.export(dataset, tmp_path / "ls")
    assert not (tmp_path / "ls").exists()
    report = labelstudio.export(dataset, tmp_path / "ls", skip_invalid=True)
    assert report.images == 1 and [s.item for s in report.skipped] == ["train/a.png"]


def test_another_image_key_and_legacy_completions(tmp_path: Path) -> None:
    tasks = golden()
    tasks[0]["data"] = {"img": tasks[0]["data"]["image"], "note": "kept out"}
    tasks[0]["completions"] = tasks[0].pop("annotations")
    report = labelstudio.import_dataset(ls_folder(tmp_path / "ls", tasks), tmp_path / "ds")
    assert (report.images, report.boxes) == (2, 3)
