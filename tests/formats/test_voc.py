"""Pascal VOC: the devkit's 1-based convention (hand-written golden file), supervision as the oracle,
round trips (demo dataset and hypothesis), and refusals that name the item and leave nothing behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from formats_sample import SIZE, make_dataset, two_split_dataset, view
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import voc
from opsml_image.formats.base import FormatError
from opsml_image.formats.classes import ClassIds

GOLDEN = Path(__file__).parent / "golden" / "voc_000001.xml"
GOLDEN_BOXES = [
    ([0.0, 0.0, 10.0, 10.0], "cat", {"pose": "Left", "truncated": True, "difficult": False}),
    ([20.0, 8.0, 44.0, 40.0], "dog", {"pose": "Unspecified", "truncated": False, "difficult": True}),
    (
        [2.5, 3.25, 5.0, 6.0],
        "cat",
        {"pose": "Frontal", "truncated": False, "difficult": False, "color": "black"},
    ),
]


def golden_annotation() -> ImageAnnotation:
    names = ["cat", "dog"]
    return ImageAnnotation(
        "000001.png", boxes=[Box(*bbox, category=names.index(n), extra=e) for bbox, n, e in GOLDEN_BOXES]
    )


def voc_folder(root: Path, xml: bytes, image: str = "000001.png", voc_id: str = "000001") -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / f"{voc_id}.xml").write_bytes(xml)
    write_image(root / "JPEGImages" / image, size=SIZE)
    return root


def test_encode_writes_the_golden_file() -> None:
    assert voc.encode(golden_annotation(), 64, 48, ["cat", "dog"]) == GOLDEN.read_bytes()


def test_golden_file_imports_with_devkit_coordinates(tmp_path: Path) -> None:
    source = voc_folder(tmp_path / "voc", GOLDEN.read_bytes())
    report = voc.import_dataset(source, tmp_path / "ds")
    assert (report.images, report.boxes, report.skipped) == (1, 3, [])
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert dataset.category_names() == ["cat", "dog"]
    (annotation,) = dataset.annotations().values()
    color = ["", "", "black"]
    assert [(b.as_bbox(), b.category, b.extra) for b in annotation.boxes] == [
        (bbox, ["cat", "dog"].index(n), {**e, "color": c})
        for (bbox, n, e), c in zip(GOLDEN_BOXES, color, strict=True)
    ]
    assert dataset.validate().ok


def test_supervision_reads_the_export_with_identical_boxes_and_names(tmp_path: Path) -> None:
    sv = pytest.importorskip("supervision")
    dataset = ImageDataset(image_dir=DEMO_DIR)
    report = voc.export(dataset, tmp_path / "voc")
    assert (report.images, report.boxes, report.skipped) == (12, 59, [])
    assert any("captions" in w for w in report.warnings)
    loaded = sv.DetectionDataset.from_pascal_voc(
        images_directory_path=str(tmp_path / "voc" / "JPEGImages"),
        annotations_directory_path=str(tmp_path / "voc" / "Annotations"),
    )
    ours = view(dataset)
    assert len(loaded) == len(ours)
    for path, _, detections in loaded:
        expected = next(v for (_, name), v in ours.items() if name == Path(path).name)
        got = [
            ([float(x0), float(y0), float(x1 - x0), float(y1 - y0)], loaded.classes[c])
            for (x0, y0, x1, y1), c in zip(
                detections.xyxy.tolist(), detections.class_id.tolist(), strict=True
            )
        ]
        assert got == expected


def test_demo_round_trip_keeps_splits_names_and_boxes(tmp_path: Path) -> None:
    dataset = ImageDataset(image_dir=DEMO_DIR)
    voc.export(dataset, tmp_path / "voc")
    assert (tmp_path / "voc/ImageSets/Main/val.txt").read_text().split() == [
        Path(name).stem for _, name in dataset.annotations("validation")
    ]
    report = voc.import_dataset(tmp_path / "voc", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back")
    assert list(back.splits) == ["train", "validation"]
    assert back.category_names() == dataset.category_names()
    assert view(back) == {k: v for k, v in view(dataset).items()}
    assert (report.images, report.boxes) == (12, 59)


def test_sub_folders_and_splits_round_trip(tmp_path: Path) -> None:
    dataset = two_split_dataset(tmp_path / "ds")
    voc.export(dataset, tmp_path / "voc")
    assert (tmp_path / "voc/Annotations/sub/b.xml").is_file()
    assert (tmp_path / "voc/ImageSets/Main/train.txt").read_text() == "a\nsub/b\ne\n"
    voc.import_dataset(tmp_path / "voc", tmp_path / "back")
    assert view(ImageDataset(image_dir=tmp_path / "back")) == view(dataset)


def test_imported_folder_loads_in_hugging_face(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    voc.export(two_split_dataset(tmp_path / "ds"), tmp_path / "voc")
    voc.import_dataset(tmp_path / "voc", tmp_path / "back")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "back"))
    assert loaded["train"][0]["objects"]["difficult"] == [False, False]
    assert loaded["train"][0]["objects"]["pose"] == ["Unspecified", "Unspecified"]


coordinate = st.floats(0, 1000, allow_nan=False).map(lambda v: round(v, 3))


@st.composite
def boxes(draw: st.DrawFn) -> Box:
    x, y = draw(coordinate), draw(coordinate)
    w, h = draw(st.floats(0.001, 1000)), draw(st.floats(0.001, 1000))
    extra = {"pose": draw(st.sampled_from(["Left", "Unspecified"])), "difficult": draw(st.booleans())}
    return Box(x, y, w, h, draw(st.integers(0, 2)), extra)


@settings(max_examples=60, deadline=None)
@given(st.lists(boxes(), max_size=6))
def test_xml_round_trip_is_exact_within_1e9(found: list[Box]) -> None:
    names = ["a", "b & <c>", "ünïcode"]
    xml = voc.encode(ImageAnnotation("x.png", boxes=found), 2000, 2000, names)
    parsed = voc.decode(xml, ClassIds(names)).annotation
    assert parsed.file_name == "x.png"
    assert [names[o.category] for o in parsed.boxes] == [names[b.category] for b in found]
    for obj, box in zip(parsed.boxes, found, strict=True):
        assert obj.x == pytest.approx(box.x, abs=1e-9) and obj.w == pytest.approx(box.w, abs=1e-9)
        assert obj.y == pytest.approx(box.y, abs=1e-9) and obj.h == pytest.approx(box.h, abs=1e-9)
        assert obj.extra["difficult"] is box.extra["difficult"] and obj.extra["pose"] == box.extra["pose"]


BAD = [
    (b"<annotation><object>", "not valid XML"),
    (b'<!DOCTYPE a [<!ENTITY e "x">]><annotation>&e;</annotation>', "not valid XML"),
    (b"<other/>", "root element must be <annotation>"),
    (b"<annotation><object><name>cat</name></object></annotation>", "object 1 (cat): <bndbox> is missing"),
    (b"<annotation><object><bndbox/></object></annotation>", "object 1: <name> is missing"),
    (
        b"<annotation><object><name>cat</name><bndbox><xmin>20</xmin><ymin>1</ymin><xmax>10</xmax>"
        b"<ymax>5</ymax></bndbox></object></annotation>",
        "object 1 (cat): empty or reversed box",
    ),
    (
        b"<annotation><object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>nan</xmax>"
        b"<ymax>5</ymax></bndbox></object></annotation>",
        "<xmax> must be a finite number",
    ),
    (
        b"<annotation><object><name>cat</name><difficult>maybe</difficult><bndbox><xmin>1</xmin>"
        b"<ymin>1</ymin><xmax>2</xmax><ymax>5</ymax></bndbox></object></annotation>",
        "<difficult>: must be 0 or 1",
    ),
]


@pytest.mark.parametrize(("xml", "message"), BAD)
def test_bad_xml_is_refused_naming_the_element(xml: bytes, message: str) -> None:
    with pytest.raises(FormatError, match="000001.xml") as error:
        voc.decode(xml, source="Annotations/000001.xml")
    assert message in str(error.value)


def box_xml(xmax: int) -> bytes:
    return (
        b"<annotation><filename>000001.png</filename><object><name>cat</name><bndbox><xmin>1</xmin>"
        b"<ymin>1</ymin><xmax>%d</xmax><ymax>5</ymax></bndbox></object></annotation>" % xmax
    )


def test_import_refuses_a_box_outside_the_image_and_writes_nothing(tmp_path: Path) -> None:
    source = voc_folder(tmp_path / "voc", box_xml(65))
    with pytest.raises(
        FormatError, match=r"Annotations/000001.xml: object 1 \(cat\): box lies outside the 64x48"
    ):
        voc.import_dataset(source, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["voc"]


def test_skip_invalid_imports_the_rest_and_reports(tmp_path: Path) -> None:
    source = voc_folder(tmp_path / "voc", box_xml(64))
    (source / "Annotations" / "000002.xml").write_bytes(box_xml(10).replace(b"000001.png", b"missing.png"))
    (source / "Annotations" / "000003.xml").write_bytes(b"<annotation>")
    with pytest.raises(FormatError, match="000002.xml: <filename>: no image 'missing.png'"):
        voc.import_dataset(source, tmp_path / "ds")
    report = voc.import_dataset(source, tmp_path / "ds", skip_invalid=True)
    assert (report.images, report.boxes) == (1, 1)
    assert [s.item for s in report.skipped] == [
        "Annotations/000002.xml: <filename>",
        "Annotations/000003.xml",
    ]
    assert "skipped 2" in report.summary()


def test_image_sets_choose_splits_and_refuse_missing_ids(tmp_path: Path) -> None:
    source = voc_folder(tmp_path / "voc", box_xml(64))
    main = source / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("000001\n")
    (main / "val.txt").write_text("000009\n")
    with pytest.raises(FormatError, match="ImageSets/Main/val.txt line 1: no Annotations/000009.xml"):
        voc.import_dataset(source, tmp_path / "ds")
    (main / "val.txt").write_text("../../secret\n")
    with pytest.raises(FormatError, match="val.txt line 1: the path lies outside the imported files"):
        voc.import_dataset(source, tmp_path / "ds")
    (main / "val.txt").write_text("")
    (source / "Annotations" / "000002.xml").write_bytes(box_xml(10))
    report = voc.import_dataset(source, tmp_path / "ds")
    assert report.images == 1 and "1 annotation files are in no ImageSets/Main list" in report.warnings[0]


def test_labelmap_sets_the_order_and_refuses_unknown_classes(tmp_path: Path) -> None:
    source = voc_folder(tmp_path / "voc", GOLDEN.read_bytes())
    (source / "labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbackground:0,0,0::\ndog:1,2,3::\ncat:::\n"
    )
    voc.import_dataset(source, tmp_path / "ds")
    assert ImageDataset(image_dir=tmp_path / "ds").category_names() == ["dog", "cat"]
    (source / "labelmap.txt").write_text("dog:::\n")
    with pytest.raises(FormatError, match=r"object 1 \(cat\): class is not in labelmap.txt"):
        voc.import_dataset(source, tmp_path / "ds2")


def test_export_refuses_stem_collisions_and_missing_images(tmp_path: Path) -> None:
    dataset = make_dataset(
        tmp_path / "ds",
        {"train": [ImageAnnotation("a.png"), ImageAnnotation("a.jpg"), ImageAnnotation("b.png")]},
        ["cat"],
    )
    with pytest.raises(FormatError, match="train/a.jpg: same VOC id 'a' as train/a.png"):
        voc.export(dataset, tmp_path / "voc")
    assert not (tmp_path / "voc").exists()
    (tmp_path / "ds" / "b.png").unlink()
    report = voc.export(dataset, tmp_path / "voc", skip_invalid=True)
    assert report.images == 1
    assert report.skipped_counts() == {
        "same VOC id 'a' as train/a.png (one XML per file stem)": 1,
        **{s.reason: 1 for s in report.skipped if s.item == "train/b.png"},
    }


def test_export_refuses_a_non_empty_destination(tmp_path: Path) -> None:
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "keep.txt").write_text("mine")
    with pytest.raises(FormatError, match="not empty"):
        voc.export(two_split_dataset(tmp_path / "ds"), tmp_path / "voc")
    assert [p.name for p in (tmp_path / "voc").iterdir()] == ["keep.txt"]


def test_export_of_one_split(tmp_path: Path) -> None:
    report = voc.export(two_split_dataset(tmp_path / "ds"), tmp_path / "voc", split="validation")
    assert report.images == 1 and (tmp_path / "voc/ImageSets/Main/val.txt").read_text() == "c\n"
    shutil.rmtree(tmp_path / "voc")
    with pytest.raises(FormatError, match="no split 'nope'"):
        voc.export(two_split_dataset(tmp_path / "ds2"), tmp_path / "voc", split="nope")


def test_attributes_of_mixed_types_become_text_so_hugging_face_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    source = voc_folder(tmp_path / "voc", GOLDEN.read_bytes())
    other = GOLDEN.read_bytes().replace(b"<value>black</value>", b"<value>12</value>")
    (source / "Annotations" / "000002.xml").write_bytes(other.replace(b"000001.png", b"000002.png"))
    write_image(source / "JPEGImages" / "000002.png", size=SIZE)
    report = voc.import_dataset(source, tmp_path / "ds")
    assert report.warnings == ["box field 'color' is missing on some boxes or mixes types: kept as text"]
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "ds"))["train"]
    assert [row["objects"]["color"] for row in loaded] == [["", "", "black"], ["", "", "12"]]


def test_a_voc2007_style_file_imports_and_names_what_it_leaves_out(tmp_path: Path) -> None:
    xml = (Path(__file__).parent / "golden" / "voc2007_000005.xml").read_bytes()
    (tmp_path / "voc" / "Annotations").mkdir(parents=True)
    (tmp_path / "voc" / "Annotations" / "000005.xml").write_bytes(xml)
    write_image(tmp_path / "voc" / "JPEGImages" / "000005.jpg", size=(500, 375))
    report = voc.import_dataset(tmp_path / "voc", tmp_path / "ds")
    assert report.warnings == ["ignored <object/part> in 1 files"]
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert dataset.category_names() == ["chair", "person"]
    (annotation,) = dataset.annotations().values()
    assert [(b.as_bbox(), b.category, b.extra) for b in annotation.boxes] == [
        ([262.0, 210.0, 62.0, 129.0], 0, {"pose": "Rear", "truncated": False, "difficult": False}),
        ([0.0, 0.0, 500.0, 375.0], 1, {"pose": "Unspecified", "truncated": True, "difficult": True}),
    ]
