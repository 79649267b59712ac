"""Hugging Face: import from ``datasets`` objects (ClassLabel, string and bare-id categories; dict-of-lists and
list-of-dicts objects; xywh/xyxy/cxcywh boxes), export with ``save_to_disk`` read back by ``load_from_disk``,
and refusals that name the row and leave nothing behind."""

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
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import hf
from opsml_image.formats.base import FormatError

datasets = pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def images(tmp_path: Path, count: int = 2) -> list[str]:
    return [str(write_image(tmp_path / "src" / f"img{i}.png", size=SIZE)) for i in range(count)]


def detection(tmp_path: Path, objects: list[Any], category: Any, **columns: list[Any]) -> Any:
    paths = images(tmp_path, len(objects))
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "objects": {
                "bbox": datasets.List(datasets.List(datasets.Value("float32"))),
                "category": datasets.List(category),
                "area": datasets.List(datasets.Value("float32")),
            },
            **{k: datasets.Value("string") for k in columns},
        }
    )
    return datasets.Dataset.from_dict({"image": paths, "objects": objects, **columns}, features=features)


CLASSES = datasets.ClassLabel(names=["cat", "dog"])
OBJECTS = [
    {"bbox": [[1, 2, 10, 20], [0, 0, 64, 48]], "category": [1, 0], "area": [200.0, 3072.0]},
    {"bbox": [], "category": [], "area": []},
]


def test_import_with_class_labels_keeps_names_extras_and_image_bytes(tmp_path: Path) -> None:
    source = detection(tmp_path, OBJECTS, CLASSES, caption=["two pets", "nothing"], source=["a", "b"])
    report = hf.import_dataset(source, tmp_path / "ds")
    assert (report.images, report.boxes, report.skipped, report.warnings) == (2, 2, [], [])
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert dataset.category_names() == ["cat", "dog"]
    first = dataset.annotations()[("train", "img0.png")]
    assert [(b.as_bbox(), b.category, b.extra) for b in first.boxes] == [
        ([1, 2, 10, 20], 1, {"area": 200.0}),
        ([0, 0, 64, 48], 0, {"area": 3072.0}),
    ]
    assert (first.caption, first.extra) == ("two pets", {"source": "a"})
    assert (tmp_path / "ds" / "img0.png").read_bytes() == (tmp_path / "src" / "img0.png").read_bytes()
    assert dataset.validate().ok


@pytest.mark.parametrize(
    ("bbox_format", "bbox"), [("xyxy", [1, 2, 11, 22]), ("cxcywh", [6, 12, 10, 20]), ("xywh", [1, 2, 10, 20])]
)
def test_bbox_formats(tmp_path: Path, bbox_format: str, bbox: list[float]) -> None:
    objects = [{"bbox": [bbox], "category": [0], "area": [0.0]}]
    hf.import_dataset(detection(tmp_path, objects, CLASSES), tmp_path / "ds", hf.HfOptions(bbox_format))
    (box,) = ImageDataset(image_dir=tmp_path / "ds").annotations()[("train", "img0.png")].boxes
    assert box.as_bbox() == [1, 2, 10, 20]


def test_string_categories_and_list_of_dicts(tmp_path: Path) -> None:
    paths = images(tmp_path)
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "objects": datasets.List(
                {"bbox": datasets.List(datasets.Value("float64")), "categories": datasets.Value("string")}
            ),
        }
    )
    rows = {
        "image": paths,
        "objects": [
            [{"bbox": [0, 0, 5, 5], "categories": "truck"}],
            [{"bbox": [1, 1, 2, 2], "categories": "bus"}],
        ],
    }
    source = datasets.DatasetDict({"val": datasets.Dataset.from_dict(rows, features=features)})
    hf.import_dataset(source, tmp_path / "ds")
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert list(dataset.splits) == ["validation"] and dataset.category_names() == ["truck", "bus"]
    assert view(dataset)[("validation", "img1.png")] == [([1, 1, 2, 2], "bus")]


def test_bare_ids_import_without_names_and_say_so(tmp_path: Path) -> None:
    report = hf.import_dataset(detection(tmp_path, OBJECTS, datasets.Value("int64")), tmp_path / "ds")
    assert report.warnings == [
        "no class names (no ClassLabel, no string categories): categories.json not written"
    ]
    assert not (tmp_path / "ds" / "categories.json").exists()
    assert [
        b.category for b in ImageDataset(image_dir=tmp_path / "ds").annotations()[("train", "img0.png")].boxes
    ] == [1, 0]


def test_export_loads_from_disk_with_class_labels_and_round_trips(tmp_path: Path) -> None:
    dataset = two_split_dataset(tmp_path / "ds")
    report = hf.export(dataset, tmp_path / "hf")
    assert (report.images, report.boxes) == (4, 4)
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert set(loaded) == {"train", "validation"}
    assert loaded["train"].features["objects"]["categories"].feature.names == ["cat", "dog"]
    row = loaded["train"][1]
    assert row["file_name"] == "sub/b.png" and row["objects"]["bbox"] == [[1, 2, 3, 4]]
    assert row["image"].size == SIZE
    hf.import_dataset(tmp_path / "hf", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back")
    assert back.category_names() == ["cat", "dog"]
    assert back.annotations() == dataset.annotations()


def test_demo_export_matches_what_imagefolder_loads(tmp_path: Path) -> None:
    dataset = ImageDataset(image_dir=DEMO_DIR)
    hf.export(dataset, tmp_path / "hf", split="validation")
    saved = datasets.load_from_disk(str(tmp_path / "hf"))["validation"]
    folder = datasets.load_dataset("imagefolder", data_dir=str(DEMO_DIR))["validation"]
    assert len(saved) == len(folder) == 3
    by_caption = {r["caption"]: r["objects"] for r in folder}
    for row in saved:
        assert row["objects"] == by_caption[row["caption"]]


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(1e-3, 1e4), st.floats(1e-3, 1e4))
def test_bbox_formats_agree(x: float, y: float, w: float, h: float) -> None:
    for bbox_format, bbox in (("xyxy", [x, y, x + w, y + h]), ("cxcywh", [x + w / 2, y + h / 2, w, h])):
        got = hf.to_xywh(bbox, bbox_format)
        assert got == pytest.approx((x, y, w, h), rel=1e-9, abs=1e-9)


def test_bad_rows_are_refused_naming_the_row_or_skipped(tmp_path: Path) -> None:
    objects = [
        {"bbox": [[1, 2, 10, 20]], "category": [1], "area": [0.0]},
        {"bbox": [[60, 2, 10, 20]], "category": [1], "area": [0.0]},
        {"bbox": [[1, 2, 0, 20]], "category": [1], "area": [0.0]},
    ]
    source = detection(tmp_path, objects, CLASSES)
    with pytest.raises(
        FormatError, match=r"Dataset: train\[1\]: object 1 bbox = \[60, 2, 10, 20\] lies outside the 64x48"
    ):
        hf.import_dataset(source, tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
    report = hf.import_dataset(source, tmp_path / "ds", skip_invalid=True)
    assert report.images == 1 and [s.item for s in report.skipped] == ["train[1]", "train[2]"]
    assert "object 1: empty or reversed box" in report.skipped[1].reason


def test_whole_dataset_refusals(tmp_path: Path) -> None:
    plain = datasets.Dataset.from_dict({"text": ["a"]})
    with pytest.raises(FormatError, match="needs an 'image' column"):
        hf.import_dataset(plain, tmp_path / "ds")
    odd = datasets.DatasetDict({"holdout": detection(tmp_path, OBJECTS, CLASSES)})
    with pytest.raises(FormatError, match="split 'holdout': is not train, validation or test"):
        hf.import_dataset(odd, tmp_path / "ds")
    with pytest.raises(FormatError, match="not a saved Hugging Face dataset"):
        hf.import_dataset(tmp_path / "nowhere", tmp_path / "ds")
    with pytest.raises(ValueError, match="bbox_format must be one of"):
        hf.import_dataset(plain, tmp_path / "ds", hf.HfOptions(bbox_format="yolo"))
    assert not (tmp_path / "ds").exists()


def test_null_object_fields_become_text_so_imagefolder_reads_them_right(tmp_path: Path) -> None:
    objects = [
        {"bbox": [[1, 2, 10, 20], [0, 0, 5, 5]], "category": [1, 0], "area": [None, 3.0]},
        {"bbox": [[1, 1, 2, 2]], "category": [0], "area": [2.0]},
    ]
    report = hf.import_dataset(detection(tmp_path, objects, CLASSES), tmp_path / "ds")
    assert report.warnings == ["objects field 'area' is null on some boxes or mixes types: kept as text"]
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "ds"))["train"]
    assert [row["objects"]["area"] for row in loaded] == [["", "3.0"], ["2.0"]]


def test_a_per_box_list_starting_with_null_is_misread_by_datasets_and_warned(tmp_path: Path) -> None:
    """The oracle shows the pyarrow behaviour the warning is about; the validator names the line and field."""
    for name in ("a.png", "b.png"):
        write_image(tmp_path / name, size=SIZE)
    lines = [
        {"file_name": "a.png", "objects": {"bbox": [[1.0, 1.0, 5.0, 5.0], [2.0, 2.0, 5.0, 5.0]],
                                           "categories": [0, 0], "id": [None, 5]}},
        {"file_name": "b.png", "objects": {"bbox": [[1.0, 1.0, 5.0, 5.0]], "categories": [0], "id": [7]}},
    ]  # fmt: skip
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path), cache_dir=str(tmp_path / "hf"))[
        "train"
    ]
    by_name = {Path(row["image"].filename).name: row["objects"]["id"] for row in loaded}
    right = {"a.png": [None, 5], "b.png": [7]}
    assert by_name != right, "datasets now reads a leading null right: the objects.null_first warning can go"
    report = ImageDataset(image_dir=tmp_path).validate()
    assert [(i.line, i.field, i.code) for i in report.issues] == [(1, "objects.id", "objects.null_first")]
    assert report.ok  # a warning: the folder is still valid
    lines[0]["objects"]["id"] = [5, None]  # a trailing null is read right
    (tmp_path / "metadata.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert not ImageDataset(image_dir=tmp_path).validate().issues


def test_a_split_whose_first_record_lacks_caption_and_categories_keeps_them(tmp_path: Path) -> None:
    dataset = two_split_dataset(tmp_path / "ds")
    metadata = tmp_path / "ds" / "train" / "metadata.jsonl"
    rows = [json.loads(line) for line in metadata.read_text().splitlines()]
    first = rows.pop(0)  # a.png, the only caption: now last, after records without caption or categories
    rows.append({**first, "categories": [1]})
    metadata.write_text("".join(json.dumps(row) + "\n" for row in rows))
    hf.export(ImageDataset(image_dir=tmp_path / "ds"), tmp_path / "out")
    loaded = datasets.load_from_disk(str(tmp_path / "out"))
    for name in ("train", "validation"):
        assert {"caption", "categories", "objects", "image", "file_name"} <= set(loaded[name].column_names)
    train = {row["file_name"]: row for row in loaded["train"]}
    assert train["a.png"]["caption"] == "two animals" and train["a.png"]["categories"] == [1]
    assert train["e.png"]["caption"] is None
    assert loaded["train"].features["categories"].feature.names == ["cat", "dog"]
    assert view(ImageDataset(image_dir=tmp_path / "ds")) == view(dataset)
