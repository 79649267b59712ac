"""CVAT for images 1.1: a golden file in CVAT's own export style, round trips (golden, demo, hypothesis),
and refusals that name the image and leave nothing behind."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from formats_sample import SIZE, two_split_dataset, view
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import cvat
from opsml_image.formats.base import FormatError

GOLDEN = Path(__file__).parent / "golden" / "cvat_annotations.xml"


def cvat_folder(root: Path, xml: bytes, names: tuple[str, ...] = ("street_1.jpg", "street_2.jpg")) -> Path:
    root.mkdir(parents=True)
    (root / "annotations.xml").write_bytes(xml)
    for name in names:
        write_image(root / "images" / name, size=SIZE)
    return root


def test_golden_file_imports_boxes_attributes_and_tags(tmp_path: Path) -> None:
    report = cvat.import_dataset(cvat_folder(tmp_path / "cvat", GOLDEN.read_bytes()), tmp_path / "ds")
    assert (report.images, report.boxes, report.skipped) == (2, 2, [])
    assert report.warnings == ["left out <polygon>: 1"] + [
        f"attribute {key!r} is missing on some boxes or mixes types: kept as text"
        for key in ("doors", "model", "parked")
    ]
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert dataset.category_names() == ["car", "tree", "daytime"]
    first = dataset.annotations()[("train", "street_1.jpg")]
    assert first.categories == [2]
    assert [(b.as_bbox(), b.category, b.extra) for b in first.boxes] == [
        (
            [10.5, 20.0, 19.75, 20.0],
            0,
            {"occluded": False, "z_order": 0, "model": "van", "parked": "true", "doors": "4"},
        ),
        (
            [0.0, 0.0, 64.0, 48.0],
            1,
            {"occluded": True, "z_order": 1, "model": "", "parked": "", "doors": ""},
        ),
    ]
    assert dataset.annotations()[("train", "street_2.jpg")].boxes == []
    assert dataset.validate().ok


def test_golden_round_trip_is_the_identity(tmp_path: Path) -> None:
    cvat.import_dataset(cvat_folder(tmp_path / "cvat", GOLDEN.read_bytes()), tmp_path / "ds")
    first = ImageDataset(image_dir=tmp_path / "ds")
    report = cvat.export(first, tmp_path / "out")
    assert report.warnings == [] and (tmp_path / "out/images/street_1.jpg").is_file()
    root = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    car = root.find("meta/task/labels/label")
    assert car is not None and car.findtext("name") == "car"
    assert {a.findtext("name"): a.findtext("input_type") for a in car.findall("attributes/attribute")} == {
        "model": "text",
        "parked": "text",
        "doors": "text",
    }
    box = root.find("image/box")
    assert box is not None
    assert {k: box.get(k) for k in ("label", "xtl", "ytl", "xbr", "ybr", "occluded", "z_order")} == {
        "label": "car",
        "xtl": "10.5",
        "ytl": "20",
        "xbr": "30.25",
        "ybr": "40",
        "occluded": "0",
        "z_order": "0",
    }
    cvat.import_dataset(tmp_path / "out", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back")
    assert back.category_names() == first.category_names()
    assert back.annotations() == first.annotations()


def test_attributes_on_every_box_keep_their_declared_types(tmp_path: Path) -> None:
    tree = GOLDEN.read_bytes().index(b'<box label="tree"')
    xml = GOLDEN.read_bytes()[:tree] + GOLDEN.read_bytes()[GOLDEN.read_bytes().index(b"</box>", tree) + 6 :]
    report = cvat.import_dataset(cvat_folder(tmp_path / "cvat", xml), tmp_path / "ds")
    assert report.warnings == ["left out <polygon>: 1"]
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    (box,) = dataset.annotations()[("train", "street_1.jpg")].boxes
    assert box.extra == {"occluded": False, "z_order": 0, "model": "van", "parked": True, "doors": 4}
    cvat.export(dataset, tmp_path / "out")
    root = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    car = root.find("meta/task/labels/label")
    assert car is not None
    types = {
        a.findtext("name"): (a.findtext("input_type"), a.findtext("values"))
        for a in car.findall("attributes/attribute")
    }
    assert types == {"model": ("text", ""), "parked": ("checkbox", "false"), "doors": ("number", "4\n4\n1")}
    cvat.import_dataset(tmp_path / "out", tmp_path / "back")
    assert ImageDataset(image_dir=tmp_path / "back").annotations() == dataset.annotations()


def test_demo_round_trip_keeps_splits_tags_and_boxes(tmp_path: Path) -> None:
    dataset = ImageDataset(image_dir=DEMO_DIR)
    report = cvat.export(dataset, tmp_path / "cvat")
    assert (report.images, report.boxes) == (12, 59)
    assert report.warnings == ["CVAT for images cannot hold captions (images): 12 left out"]
    assert (tmp_path / "cvat/images/Validation").is_dir()
    cvat.import_dataset(tmp_path / "cvat", tmp_path / "back")
    back = ImageDataset(image_dir=tmp_path / "back")
    assert list(back.splits) == ["train", "validation"]
    assert view(back) == view(dataset)
    assert [a.categories for a in back.annotations().values()] == [
        a.categories for a in dataset.annotations().values()
    ]


def test_imported_folder_loads_in_hugging_face(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cvat.import_dataset(cvat_folder(tmp_path / "cvat", GOLDEN.read_bytes()), tmp_path / "ds")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "ds"))["train"]
    row = next(r for r in loaded if r["objects"])
    assert row["objects"]["model"] == ["van", ""] and row["objects"]["doors"] == ["4", ""]


finite = st.floats(0, 5000, allow_nan=False, allow_infinity=False)


@st.composite
def documents(draw: st.DrawFn) -> cvat.CvatDocument:
    labels = [cvat.CvatLabel("car", {"flag": "checkbox", "n": "number"}), cvat.CvatLabel('a "b" & <c>')]
    images = []
    for i in range(draw(st.integers(1, 3))):
        boxes = []
        for _ in range(draw(st.integers(0, 4))):
            x, y = draw(finite), draw(finite)
            w, h = draw(st.floats(1e-3, 5000)), draw(st.floats(1e-3, 5000))
            extra = {"occluded": draw(st.booleans()), "z_order": draw(st.integers(-5, 5))}
            label = draw(st.sampled_from([0, 1]))
            if label == 0:
                extra |= {"flag": draw(st.booleans()), "n": draw(st.integers(-(10**6), 10**6))}
            boxes.append(Box(x, y, w, h, label, extra))
        annotation = ImageAnnotation(f"img {i}.png", categories=[0], boxes=boxes)
        images.append(cvat.CvatImage(i, 10_000, 10_000, None, annotation))
    return cvat.CvatDocument(labels, images)


@settings(max_examples=60, deadline=None)
@given(documents())
def test_xml_round_trip(document: cvat.CvatDocument) -> None:
    parsed = cvat.decode(cvat.encode(document))
    assert [label.name for label in parsed.labels] == [label.name for label in document.labels]
    for got, want in zip(parsed.images, document.images, strict=True):
        assert (got.id, got.annotation.file_name, got.annotation.categories) == (
            want.id,
            want.annotation.file_name,
            want.annotation.categories,
        )
        for a, b in zip(got.annotation.boxes, want.annotation.boxes, strict=True):
            assert (a.category, a.extra) == (b.category, b.extra)
            assert (a.x, a.y) == (b.x, b.y)
            assert a.w == pytest.approx(b.w, rel=1e-12, abs=1e-9) and a.h == pytest.approx(
                b.h, rel=1e-12, abs=1e-9
            )


def doc(image_body: str, labels: str = "<label><name>car</name></label>") -> bytes:
    return (
        f"<annotations><version>1.1</version><meta><task><labels>{labels}</labels></task></meta>"
        f'<image id="0" name="street_1.jpg" width="64" height="48">{image_body}</image></annotations>'
    ).encode()


BOX = '<box label="car" occluded="0" xtl="1" ytl="1" xbr="5" ybr="5" z_order="0"{extra}>{body}</box>'
BAD = [
    (b"<annotations><image>", "not valid XML"),
    (b'<!DOCTYPE a [<!ENTITY e "x">]><annotations>&e;</annotations>', "not valid XML"),
    (b"<annotation/>", "the root element must be <annotations>"),
    (b"<annotations><version>2.0</version></annotations>", "CVAT for images 1.1 expected"),
    (
        doc('<box label="bus" xtl="1" ytl="1" xbr="5" ybr="5"/>'),
        "image 0 (street_1.jpg) box 1: label 'bus' is not declared",
    ),
    (doc('<box label="car" xtl="9" ytl="1" xbr="5" ybr="5"/>'), "box 1 (car): empty or reversed box"),
    (
        doc('<box label="car" xtl="x" ytl="1" xbr="5" ybr="5"/>'),
        "box 1 (car): attribute 'xtl' must be a finite number",
    ),
    (doc(BOX.format(extra=' rotation="30"', body="")), "rotated by 30°"),
    (
        doc(BOX.format(extra="", body='<attribute name="z_order">3</attribute>')),
        "attribute name 'z_order' is empty, reserved",
    ),
    (
        doc(
            BOX.format(extra="", body='<attribute name="parked">yes</attribute>'),
            "<label><name>car</name><attributes><attribute><name>parked</name>"
            "<input_type>checkbox</input_type></attribute></attributes></label>",
        ),
        "attribute 'parked': checkbox value must be true or false",
    ),
    (doc('<tag label="night"/>'), "image 0 (street_1.jpg) tag: label 'night' is not declared"),
    (doc("").replace(b"street_1.jpg", b"../up.jpg"), "the path lies outside the imported files"),
    (doc("").replace(b'width="64"', b'width="wide"'), "attribute 'width' must be an integer"),
]


@pytest.mark.parametrize(("xml", "message"), BAD)
def test_bad_xml_is_refused_naming_the_item(xml: bytes, message: str) -> None:
    with pytest.raises(FormatError, match="annotations.xml") as error:
        cvat.decode(xml, "annotations.xml")
    assert message in str(error.value)


def test_import_refuses_and_writes_nothing_or_skips_and_reports(tmp_path: Path) -> None:
    xml = doc(BOX.format(extra="", body="")).replace(
        b"</annotations>",
        b'<image id="1" name="gone.jpg" width="64" height="48"/>'
        b'<image id="2" name="street_2.jpg" width="64" height="48" subset="Holdout"/>'
        b'<image id="3" name="street_1.jpg" width="64" height="48"><box label="car" xtl="60" ytl="1" xbr="70" ybr="5"/>'
        b"</image></annotations>",
    )
    source = cvat_folder(tmp_path / "cvat", xml)
    with pytest.raises(FormatError, match=r"image 1 \(gone.jpg\): image not found or unreadable"):
        cvat.import_dataset(source, tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cvat"]
    report = cvat.import_dataset(source, tmp_path / "ds", skip_invalid=True)
    assert (report.images, report.boxes) == (1, 1)
    assert [s.item for s in report.skipped] == [
        "image 1 (gone.jpg)",
        "image 2 (street_2.jpg)",
        "image 3 (street_1.jpg)",
    ]
    assert "subset 'Holdout' is not train, validation or test" in report.skipped[1].reason
    assert "a second image named 'street_1.jpg'" in report.skipped[2].reason


def test_box_outside_its_image_is_refused(tmp_path: Path) -> None:
    xml = doc('<box label="car" xtl="60" ytl="1" xbr="70" ybr="5"/>')
    with pytest.raises(
        FormatError, match=r"image 0 \(street_1.jpg\): a car box lies outside the 64x48 image"
    ):
        cvat.import_dataset(cvat_folder(tmp_path / "cvat", xml), tmp_path / "ds")


def test_export_of_one_split_and_refusal_of_a_used_destination(tmp_path: Path) -> None:
    dataset = two_split_dataset(tmp_path / "ds")
    report = cvat.export(dataset, tmp_path / "val", split="validation")
    root = ET.parse(tmp_path / "val" / "annotations.xml").getroot()
    assert [i.get("subset") for i in root.findall("image")] == ["Validation"] and report.images == 1
    assert (tmp_path / "val/images/c.png").is_file()
    with pytest.raises(FormatError, match="not empty"):
        cvat.export(dataset, tmp_path / "val")


def test_without_meta_labels_boxes_come_first_then_tags_in_order_of_appearance(tmp_path: Path) -> None:
    xml = (
        b"<annotations><version>1.1</version>"
        b'<image id="0" name="street_1.jpg" width="64" height="48"><tag label="night"/>'
        b'<box label="car" xtl="1" ytl="1" xbr="5" ybr="5"/></image>'
        b'<image id="1" name="street_2.jpg" width="64" height="48"><box label="bus" xtl="1" ytl="1" xbr="5" ybr="5"/>'
        b"</image></annotations>"
    )
    document = cvat.decode(xml)
    assert not document.declared and [label.name for label in document.labels] == ["night", "car", "bus"]
    cvat.import_dataset(cvat_folder(tmp_path / "cvat", xml), tmp_path / "ds")
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert dataset.category_names() == ["car", "bus", "night"]
    first = dataset.annotations()[("train", "street_1.jpg")]
    assert (first.categories, [b.category for b in first.boxes]) == ([2], [0])
    assert [b.category for b in dataset.annotations()[("train", "street_2.jpg")].boxes] == [1]


def test_export_with_subsets_writes_one_file_a_split_for_datumaro_and_the_combined_one(
    tmp_path: Path,
) -> None:
    dataset = two_split_dataset(tmp_path / "ds")
    cvat.export(dataset, tmp_path / "out")
    combined = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    assert combined.findtext("meta/task/subsets") == "Train\nValidation"
    assert len(combined.findall("image")) == 4
    for stem, count in (("train", 3), ("validation", 1)):
        part = ET.parse(tmp_path / "out" / f"{stem}.xml").getroot()
        # datumaro keeps only the images whose subset is the file's stem
        assert [i.get("subset") for i in part.findall("image")] == [stem] * count
    for layout in ("combined", "per-subset"):
        folder = tmp_path / f"in-{layout}"
        cvat.export(dataset, folder)
        if layout == "per-subset":
            (folder / "annotations.xml").unlink()
        report = cvat.import_dataset(folder, tmp_path / f"back-{layout}")
        assert (report.images, report.skipped) == (4, [])
        assert view(ImageDataset(image_dir=tmp_path / f"back-{layout}")) == view(dataset)


def test_one_per_subset_file_keeps_its_subset(tmp_path: Path) -> None:
    root = cvat_folder(tmp_path / "cvat", doc(""))
    (root / "annotations.xml").rename(root / "val.xml")
    report = cvat.import_dataset(root / "val.xml", tmp_path / "ds")
    assert report.images == 1
    assert list(ImageDataset(image_dir=tmp_path / "ds").annotations()) == [("validation", "street_1.jpg")]


def test_a_file_without_version_is_a_counted_warning(tmp_path: Path) -> None:
    xml = doc("").replace(b"<version>1.1</version>", b"")
    report = cvat.import_dataset(cvat_folder(tmp_path / "cvat", xml), tmp_path / "ds")
    assert report.warnings == ["1 file without <version>: read as CVAT for images 1.1"]
