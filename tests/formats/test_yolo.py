"""YOLO: golden labels, precision, stem collisions, Roboflow/Ultralytics layouts, refusals, supervision oracle."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import yolo
from opsml_image.formats.base import FormatError, write_folder

GOLDEN = Path(__file__).parent / "golden" / "yolo_export"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _dataset(tmp_path: Path, make_image, splits: dict[str, list[tuple[str, tuple[int, int], list[Box]]]], **extra):
    images, found = {}, {}
    for split, items in splits.items():
        found[split] = []
        for name, size, boxes in items:
            images[(split, name)] = make_image(tmp_path / "src" / split / name, size=size)
            found[split].append(ImageAnnotation(name, split, boxes=boxes, **extra))
    return ImageDataset(image_dir=write_folder(tmp_path / "ds", found, ["car", "house", "tree"], images))


# ------------------------------------------------------------------------------------------------ lines


def to_line(box: Box, width: int, height: int) -> str:
    """The label file of an image holding ``box`` alone, without its line end."""
    text = yolo.encode(ImageAnnotation("a.png", boxes=[box]), width, height)
    assert text.endswith("\n") and text.count("\n") == 1
    return text[:-1]


def from_line(line: str, width: int, height: int) -> Box:
    (box,) = yolo.decode(line, width, height).boxes
    return box


def test_line_conversion_round_trips():
    box = Box(10, 20, 30, 40, 2)
    assert to_line(box, 200, 100) == "2 0.125 0.4 0.15 0.4"
    assert from_line("2 0.125 0.4 0.15 0.4", 200, 100) == box


def test_a_label_file_is_one_line_a_box_and_decodes_to_the_annotation():
    boxes = [Box(10, 20, 30, 40, 2), Box(0, 0, 200, 100, 0)]
    text = yolo.encode(ImageAnnotation("a.png", boxes=boxes), 200, 100)
    assert text == "2 0.125 0.4 0.15 0.4\n0 0.5 0.5 1 1\n"
    back = yolo.decode(text, 200, 100, "a.png", "validation")
    assert (back.file_name, back.split, back.boxes) == ("a.png", "validation", boxes)


def test_encode_refuses_a_box_it_cannot_write_or_hands_it_over():
    annotation = ImageAnnotation("a.png", boxes=[Box(30, 1, 20, 5, 0), Box(1, 1, 2, 2, 3), Box(1, 1, 2, 2, 1)])
    with pytest.raises(ValueError, match=r"box \[30.0, 1.0, 20.0, 5.0\] in 40x30: box reaches outside"):
        yolo.encode(annotation, 40, 30)
    refused: list[tuple[str, str]] = []
    text = yolo.encode(annotation, 40, 30, 2, lambda box, where, reason: refused.append((where, reason)))
    assert text == "1 0.05 0.066666666667 0.05 0.066666666667\n"
    assert refused == [
        ("box [30.0, 1.0, 20.0, 5.0] in 40x30", "box reaches outside the image (YOLO coordinates lie in 0..1)"),
        ("box [1.0, 1.0, 2.0, 2.0]", "category 3 has no name"),
    ]


def test_decode_names_the_bad_line_or_hands_it_over():
    text = "0 0.5 0.5 0.1 0.1\n\n1 0.5 0.5\n2 0.5 0.5 0.1 0.1\n"
    with pytest.raises(ValueError, match="line 3: expected 'class cx cy w h'"):
        yolo.decode(text, 100, 100)
    refused: list[tuple[int, str]] = []
    back = yolo.decode(text, 100, 100, classes=2, refuse=lambda number, reason: refused.append((number, reason)))
    assert [b.category for b in back.boxes] == [0]
    assert [number for number, _ in refused] == [3, 4] and refused[1][1] == "class 2 is not in names (0..1)"


def test_a_thousandth_of_a_pixel_on_4000_px_survives():
    box = Box(3999.0, 1000.0, 0.001, 0.001, 1)
    line = to_line(box, 4000, 3000)
    back = from_line(line, 4000, 3000)
    assert back.w > 0 and back.h > 0
    assert max(abs(a - b) for a, b in zip(back.as_bbox(), box.as_bbox(), strict=True)) < 1e-4


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 8000),
    st.integers(1, 8000),
    st.floats(0, 1, allow_nan=False),
    st.floats(0, 1, allow_nan=False),
    st.floats(1e-6, 1, allow_nan=False),
    st.floats(1e-6, 1, allow_nan=False),
)
def test_round_trip_within_1e_4_px_and_no_box_becomes_empty(width, height, fx, fy, fw, fh):
    w, h = max(fw * width, 1e-3), max(fh * height, 1e-3)
    x, y = min(fx * width, width - w), min(fy * height, height - h)
    if x < 0 or y < 0:
        return
    box = Box(x, y, w, h, 0)
    back = from_line(to_line(box, width, height), width, height)
    assert back.w > 0 and back.h > 0
    assert max(abs(a - b) for a, b in zip(back.as_bbox(), box.as_bbox(), strict=True)) < 1e-4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 0.5 0.5", "expected 'class cx cy w h'"),
        ("0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2", r"a segmentation polygon \(4 points\)"),
        ("x 0.5 0.5 0.1 0.1", "an integer class and 4 numbers"),
        ("0 0.5 0.5 0 0.1", "must be finite numbers > 0"),
        ("0 0.5 0.5 nan 0.1", "must be finite numbers > 0"),
        ("0 0.95 0.5 0.2 0.1", "reaches outside the image"),
        ("-1 0.5 0.5 0.1 0.1", "class -1 is negative"),
    ],
)
def test_bad_lines_say_what_is_wrong(line, message):
    with pytest.raises(ValueError, match=message):
        yolo.decode(line, 100, 100)


def test_label_path_follows_ultralytics():
    assert yolo.label_path(Path("d/images/train/a.jpg")) == Path("d/labels/train/a.txt")
    assert yolo.label_path(Path("d/train/images/a.jpg")) == Path("d/train/labels/a.txt")
    assert yolo.label_path(Path("d/images/x/images/a.png")) == Path("d/images/x/labels/a.txt")
    assert yolo.label_path(Path("d/pics/a.jpg")) == Path("d/pics/a.txt")


# ------------------------------------------------------------------------------------------------ export


def test_export_matches_the_hand_written_golden_folder(tmp_path, make_image):
    dataset = _dataset(
        tmp_path,
        make_image,
        {
            "train": [
                (
                    "a.png",
                    (4000, 2000),
                    [Box(100, 200, 300, 400, 2), Box(0, 0, 4000, 2000, 0), Box(0, 1000, 0.001, 0.001, 1)],
                )
            ],
            "validation": [("b.png", (64, 48), [])],
        },
    )
    report = yolo.export(dataset, tmp_path / "out")
    assert (report.images, report.boxes, report.skipped, report.warnings) == (2, 3, [], [])
    written = _tree(tmp_path / "out")
    assert {k: v for k, v in written.items() if not k.startswith("images/")} == _tree(GOLDEN)
    assert sorted(k for k in written if k.startswith("images/")) == ["images/train/a.png", "images/val/b.png"]


def test_stem_collisions_are_renamed_with_a_warning_and_keep_their_boxes(tmp_path, make_image):
    dataset = _dataset(
        tmp_path,
        make_image,
        {"train": [("same.jpg", (40, 30), [Box(1, 1, 5, 5, 0)]), ("same.png", (40, 30), [Box(2, 2, 6, 6, 1)])]},
    )
    report = yolo.export(dataset, tmp_path / "out")
    assert report.warnings == ["train/same.png written as same_png.png: its label file would collide with another"]
    assert (tmp_path / "out" / "labels" / "train" / "same_png.txt").read_text() == "1 0.125 0.166666666667 0.15 0.2\n"
    yolo.import_dataset(tmp_path / "out", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back").annotations()
    assert [b.category for b in back[("train", "same.jpg")].boxes] == [0]
    assert [b.category for b in back[("train", "same_png.png")].boxes] == [1]


def test_export_warns_about_what_yolo_cannot_hold(tmp_path):
    report = yolo.export(ImageDataset(image_dir=DEMO_DIR), tmp_path / "out")
    assert report.warnings == [
        "12 captions not written: YOLO has no captions",
        "10 images' image categories not written: YOLO has none",
    ]
    config = yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())
    assert "path" not in config and config["names"] == {0: "car", 1: "house", 2: "tree"}


def test_export_refuses_a_box_outside_the_image_and_skips_it_on_request(tmp_path, make_image):
    dataset = _dataset(tmp_path, make_image, {"train": [("a.png", (40, 30), [Box(30, 1, 20, 5, 0), Box(1, 1, 5, 5, 1)])]})
    with pytest.raises(FormatError, match=r"train/a.png box \[30.0, 1.0, 20.0, 5.0\] in 40x30: box reaches outside"):
        yolo.export(dataset, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    report = yolo.export(dataset, tmp_path / "out", skip_invalid=True)
    assert report.boxes == 1 and report.skipped_counts() == {
        "box reaches outside the image (YOLO coordinates lie in 0..1)": 1
    }


# ------------------------------------------------------------------------------------------------ import


def _roboflow(root: Path, make_image, yaml_text: str) -> Path:
    for split in ("train", "valid"):
        make_image(root / split / "images" / f"{split}_1.jpg", size=(100, 50))
        (root / split / "labels").mkdir(parents=True)
        (root / split / "labels" / f"{split}_1.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.25 0.25 0.1 0.1\n")
    (root / "README.roboflow.txt").write_text("exported from roboflow")
    (root / "data.yaml").write_text(yaml_text)
    return root


@pytest.mark.parametrize(
    "yaml_text",
    [
        "train: ../train/images\nval: ../valid/images\nnc: 2\nnames: ['cat', 'dog']\n",
        "train: train/images\nval: valid/images\nnames: ['cat', 'dog']\n",
        "path: .\ntrain: train/images\nval: valid/images\nnames: {0: cat, 1: dog}\n",
    ],
)
def test_roboflow_layouts_import_every_box(tmp_path, make_image, yaml_text):
    source = _roboflow(tmp_path / "rf", make_image, yaml_text)
    report = yolo.import_dataset(source, tmp_path / "ds")
    assert (report.images, report.boxes, report.skipped) == (2, 4, [])
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert list(dataset.splits) == ["train", "validation"] and dataset.category_names() == ["cat", "dog"]
    boxes = dataset.annotations()[("train", "train_1.jpg")].boxes
    assert [(b.as_bbox(), b.category) for b in boxes] == [([40.0, 15.0, 20.0, 20.0], 0), ([20.0, 10.0, 10.0, 5.0], 1)]
    assert dataset.validate().ok


def test_label_files_that_match_no_image_are_an_error(tmp_path, make_image):
    source = _roboflow(tmp_path / "rf", make_image, "train: train/images\nval: valid/images\nnames: [cat, dog]\n")
    for split in ("train", "valid"):
        (source / split / "labels" / f"{split}_1.txt").rename(source / split / "labels" / "other.txt")
    with pytest.raises(FormatError, match="1 label files in .*labels but none matched an image"):
        yolo.import_dataset(source, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_labels_in_a_place_nothing_looks_are_an_error(tmp_path, make_image):
    make_image(tmp_path / "y" / "train" / "images" / "a.jpg")
    (tmp_path / "y" / "annotations" / "train").mkdir(parents=True)
    (tmp_path / "y" / "annotations" / "train" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "y" / "data.yaml").write_text("train: train/images\nnames: [cat]\n")
    with pytest.raises(FormatError, match=r"1 label files \(e.g. annotations/train/a.txt\) but none matched"):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")


def test_an_orphan_label_is_refused_or_listed(tmp_path, make_image):
    source = _roboflow(tmp_path / "rf", make_image, "train: train/images\nval: valid/images\nnames: [cat, dog]\n")
    (source / "train" / "labels" / "lost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(FormatError, match="lost.txt: no image for this label file"):
        yolo.import_dataset(source, tmp_path / "ds")
    report = yolo.import_dataset(source, tmp_path / "ds", skip_invalid=True)
    assert report.skipped_counts() == {"no image for this label file": 1} and report.boxes == 4


def test_two_images_sharing_a_label_file_are_refused(tmp_path, make_image):
    make_image(tmp_path / "y" / "images" / "train" / "same.jpg")
    make_image(tmp_path / "y" / "images" / "train" / "same.png")
    (tmp_path / "y" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "y" / "labels" / "train" / "same.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "y" / "data.yaml").write_text("train: images/train\nnames: [cat]\n")
    with pytest.raises(FormatError, match="same.png and .*same.jpg: both would use the label file same.txt"):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("0 0.5 0.5 0.1\n", r"a.txt:1: expected 'class cx cy w h'"),
        ("0 0.5 0.5 0.1 0.1\n5 0.5 0.5 0.1 0.1\n", r"a.txt:2: class 5 is not in names \(0..0\)"),
        ("0 0.5 0.5 1.5 0.1\n", r"a.txt:1: the box reaches outside the image"),
    ],
)
def test_a_bad_label_line_names_file_and_line(tmp_path, make_image, label, message):
    make_image(tmp_path / "y" / "images" / "train" / "a.jpg")
    (tmp_path / "y" / "labels" / "train").mkdir(parents=True)
    (tmp_path / "y" / "labels" / "train" / "a.txt").write_text(label)
    (tmp_path / "y" / "data.yaml").write_text("train: images/train\nnames: [cat]\n")
    with pytest.raises(FormatError, match=message):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_bad_data_yaml_is_named(tmp_path):
    (tmp_path / "y").mkdir()
    with pytest.raises(FormatError, match="no data.yaml"):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")
    (tmp_path / "y" / "data.yaml").write_text("train: images/train\nnc: 3\nnames: [a, b]\n")
    with pytest.raises(FormatError, match="data.yaml: nc: is 3 but names lists 2 classes"):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")
    (tmp_path / "y" / "data.yaml").write_text("train: ../../etc\nnames: [a]\n")
    with pytest.raises(FormatError, match="data.yaml: train: folder '../../etc' "):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")


def test_demo_round_trips_through_yolo(tmp_path):
    dataset = ImageDataset(image_dir=DEMO_DIR)
    yolo.export(dataset, tmp_path / "yolo")
    report = yolo.import_dataset(tmp_path / "yolo", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back")
    assert (report.images, report.boxes) == (12, 59) and list(back.splits) == ["train", "validation"]
    assert back.validate().ok
    original, again = dataset.annotations(), back.annotations()
    assert set(original) == set(again)
    for key, view in original.items():
        assert [(b.as_bbox(), b.category) for b in again[key].boxes] == [(b.as_bbox(), b.category) for b in view.boxes]


# ------------------------------------------------------------------------------------------------ oracle


def test_supervision_reads_our_export_with_identical_boxes_and_names(tmp_path):
    sv = pytest.importorskip("supervision")
    dataset = ImageDataset(image_dir=DEMO_DIR)
    yolo.export(dataset, tmp_path / "out")
    loaded = sv.DetectionDataset.from_yolo(
        images_directory_path=str(tmp_path / "out" / "images" / "train"),
        annotations_directory_path=str(tmp_path / "out" / "labels" / "train"),
        data_yaml_path=str(tmp_path / "out" / "data.yaml"),
    )
    names = dataset.category_names()
    assert loaded.classes == names
    views = dataset.annotations("train")
    assert len(loaded) == len(views)
    for path, _, detections in loaded:
        view = views[("train", Path(path).name)]
        expected = [v for b in view.boxes for v in (b.x, b.y, b.x + b.w, b.y + b.h)]
        assert detections.xyxy.ravel().tolist() == pytest.approx(expected, abs=1e-3)
        assert [names[c] for c in detections.class_id] == [names[b.category] for b in view.boxes]


def test_image_list_files_are_refused_by_name(tmp_path):
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "data.yaml").write_text("train: train.txt\nnames: [a]\n")
    with pytest.raises(FormatError, match="data.yaml: train: 'train.txt': image list files are not read"):
        yolo.import_dataset(tmp_path / "y", tmp_path / "ds")


def test_export_without_categories_file_names_classes_by_id_and_says_so(tmp_path, make_image):
    make_image(tmp_path / "ds" / "a.png", size=(40, 30))
    (tmp_path / "ds" / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "objects": {"bbox": [[1, 1, 4, 4]], "categories": [1]}}\n'
    )
    report = yolo.export(ImageDataset(image_dir=tmp_path / "ds"), tmp_path / "out")
    assert report.warnings == ["no categories.json: classes are named by their ids"]
    assert yaml.safe_load((tmp_path / "out" / "data.yaml").read_text())["names"] == {0: "0", 1: "1"}


def test_images_under_an_images_subfolder_get_the_label_ultralytics_looks_for(tmp_path, make_image):
    dataset = _dataset(tmp_path, make_image, {"train": [("images/a.png", (40, 30), [Box(1, 1, 5, 5, 0)])]})
    yolo.export(dataset, tmp_path / "out")
    image = tmp_path / "out" / "images" / "train" / "images" / "a.png"
    assert image.exists() and yolo.label_path(image).read_text() == "0 0.0875 0.116666666667 0.125 0.166666666667\n"
    yolo.import_dataset(tmp_path / "out", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back").annotations()
    assert [b.as_bbox() for b in back[("train", "images/a.png")].boxes] == [[1.0, 1.0, 5.0, 5.0]]
