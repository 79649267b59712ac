"""The shared format pieces: error wording, reports, skip-or-stop, and folders that appear whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.formats.base import (
    FormatError,
    Refusals,
    Report,
    Skipped,
    image_size,
    staged_folder,
    write_folder,
)


def test_format_error_names_file_item_and_reason():
    error = FormatError("in/coco.json", "image id 7 (a.png)", "duplicate image id")
    assert str(error) == "in/coco.json: image id 7 (a.png): duplicate image id"
    assert (error.source, error.item, error.reason) == ("in/coco.json", "image id 7 (a.png)", "duplicate image id")
    assert str(FormatError("x.json", None, "not valid JSON")) == "x.json: not valid JSON"
    assert isinstance(error, ValueError)


def test_report_counts_skips_by_reason(tmp_path):
    report = Report(
        images=3,
        boxes=1200,
        skipped=[Skipped("a", "bad bbox"), Skipped("b", "missing image"), Skipped("c", "bad bbox")],
        warnings=["captions not written"],
        path=tmp_path,
    )
    assert report.skipped_counts() == {"bad bbox": 2, "missing image": 1}
    assert report.summary() == (
        f"3 images, 1,200 boxes → {tmp_path}; skipped 3 (2 bad bbox; 1 missing image); 1 warning"
    )
    assert Report(images=1, path=tmp_path).summary() == f"1 images, 0 boxes → {tmp_path}"


def test_refusals_stop_or_skip():
    with pytest.raises(FormatError, match=r"^src.json: annotations\[3\]: bbox must be 4 numbers$"):
        Refusals("src.json").refuse("annotations[3]", "bbox must be 4 numbers")
    skipping = Refusals("src.json", skip_invalid=True)
    skipping.refuse("annotations[3]", "bbox must be 4 numbers")
    skipping.warn("no captions")
    skipping.warn("no captions")
    assert skipping.skipped == [Skipped("annotations[3]", "bbox must be 4 numbers")]
    assert skipping.warnings == ["no captions"]


def test_staged_folder_appears_whole_or_not_at_all(tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(RuntimeError), staged_folder(dest) as staging:
        (staging / "half.txt").write_text("x")
        raise RuntimeError("failed half way")
    assert list(tmp_path.iterdir()) == []  # neither dest nor the temp folder is left
    with staged_folder(dest) as staging:
        (staging / "whole.txt").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (dest / "whole.txt").read_text() == "x"


def test_staged_folder_refuses_a_non_empty_destination_but_takes_an_empty_one(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(FormatError, match="not empty"), staged_folder(tmp_path / "full"):
        pass
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()
    with staged_folder(tmp_path / "empty") as staging:
        (staging / "a").write_text("a")
    assert (tmp_path / "empty" / "a").exists()


def _annotation(name: str, split: str = "train") -> ImageAnnotation:
    return ImageAnnotation(name, split, boxes=[Box(1, 2, 3, 4, 0, {"iscrowd": 1})])


def test_write_folder_flat_for_a_lone_train_split(tmp_path, make_image):
    image = make_image(tmp_path / "src" / "a.png")
    dest = write_folder(tmp_path / "ds", {"train": [_annotation("a.png")]}, ["car"], {("train", "a.png"): image})
    assert sorted(p.name for p in dest.iterdir()) == ["a.png", "categories.json", "metadata.jsonl"]
    dataset = ImageDataset(image_dir=dest)
    assert dataset.category_names() == ["car"]
    assert dataset.annotations()[("train", "a.png")].boxes == [Box(1, 2, 3, 4, 0, {"iscrowd": 1})]
    assert dataset.validate().ok


def test_write_folder_uses_split_folders_and_one_root_categories_file(tmp_path, make_image):
    images = {
        ("train", "a.png"): make_image(tmp_path / "src" / "a.png"),
        ("validation", "b.png"): make_image(tmp_path / "src" / "b.png"),
    }
    splits = {"train": [_annotation("a.png")], "validation": [_annotation("b.png", "validation")]}
    dest = write_folder(tmp_path / "ds", splits, ["car"], images, {"extra.json": b"{}"})
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "categories.json",
        "extra.json",
        "train",
        "train/a.png",
        "train/metadata.jsonl",
        "validation",
        "validation/b.png",
        "validation/metadata.jsonl",
    ]
    assert list(ImageDataset(image_dir=dest).splits) == ["train", "validation"]


def test_write_folder_refuses_two_records_for_one_file_before_writing(tmp_path):
    with pytest.raises(FormatError, match="a.png: two records for one image file"):
        write_folder(tmp_path / "ds", {"train": [_annotation("a.png"), _annotation("a.png")]}, [])
    assert not (tmp_path / "ds").exists()


def test_write_folder_missing_image_is_named_and_nothing_is_left(tmp_path):
    with pytest.raises(FormatError, match="gone.png: image file not found"):
        write_folder(tmp_path / "ds", {"train": [_annotation("a.png")]}, [], {("train", "a.png"): tmp_path / "gone.png"})
    assert list(tmp_path.iterdir()) == []


def test_write_folder_in_place_never_replaces_metadata(tmp_path, make_image):
    make_image(tmp_path / "imgs" / "a.png")
    write_folder(tmp_path / "imgs", {"train": [_annotation("a.png")]}, ["car"], in_place=True)
    assert ImageDataset(image_dir=tmp_path / "imgs").validate().ok
    before = (tmp_path / "imgs" / "metadata.jsonl").read_bytes()
    with pytest.raises(FormatError, match="metadata.jsonl: exists already"):
        write_folder(tmp_path / "imgs", {"train": [ImageAnnotation("a.png")]}, ["car"], in_place=True)
    assert (tmp_path / "imgs" / "metadata.jsonl").read_bytes() == before


def test_image_size_prefers_the_recorded_size(tmp_path, make_image):
    path = make_image(tmp_path / "a.png", size=(30, 20))
    assert image_size(ImageAnnotation("a.png"), path) == (30, 20)
    assert image_size(ImageAnnotation("a.png", extra={"width": 7, "height": 5}), tmp_path / "gone.png") == (7, 5)
    assert "not found" in str(image_size(ImageAnnotation("gone.png"), tmp_path / "gone.png"))


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc", "cvat", "labelstudio"])
def test_exports_refuse_unreadable_metadata_lines_by_number(tmp_path: Path, fmt: str):
    """A broken line (bad JSON, a NUL, a lone surrogate) is never left out silently: it stops the export,
    or with skip_invalid is listed with its line number."""
    import importlib

    from PIL import Image

    from opsml_image.dataset import ImageDataset
    from opsml_image.formats.base import FormatError

    data = tmp_path / "data"
    data.mkdir()
    Image.new("RGB", (32, 24)).save(data / "a.png")
    (data / "categories.json").write_text('["thing"]')
    (data / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "objects": {"bbox": [[1.0, 1.0, 4.0, 4.0]], "categories": [0]}}\n'
        '{"file_name": "b\\u0000.png"}\n'
        "{broken\n"
    )
    module = importlib.import_module(f"opsml_image.formats.{fmt}")
    dest = tmp_path / ("out.json" if fmt == "coco" else "out")
    with pytest.raises(FormatError, match=r"metadata.jsonl:2"):
        module.export(ImageDataset(image_dir=data), dest)
    report = module.export(ImageDataset(image_dir=data), tmp_path / ("again.json" if fmt == "coco" else "again"),
                           skip_invalid=True)  # fmt: skip
    assert sorted(s.item for s in report.skipped) == ["metadata.jsonl:2", "metadata.jsonl:3"]
    assert report.images == 1
