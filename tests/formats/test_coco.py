"""COCO: hand-written golden file, identity round trip, split import, refusals naming the item, oracles."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import coco
from opsml_image.formats.base import FormatError, Refusals

GOLDEN = Path(__file__).parent / "golden"


def _golden() -> dict:
    return json.loads((GOLDEN / "coco_instances.json").read_text())


def _images_for(coco_dict: dict, folder: Path, make_image) -> Path:
    for image in coco_dict["images"]:
        make_image(folder / image["file_name"], size=(image.get("width", 64), image.get("height", 48)))
    return folder


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(data))
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _same_coco(a: dict, b: dict) -> None:
    """Equal on everything COCO holds (annotations compared by id: COCO does not order them)."""
    assert {k: v for k, v in a.items() if k != "annotations"} == {k: v for k, v in b.items() if k != "annotations"}
    assert sorted(a["annotations"], key=lambda x: x["id"]) == sorted(b["annotations"], key=lambda x: x["id"])


# ------------------------------------------------------------------------------------------------ golden


def test_golden_import_writes_the_hand_written_metadata(tmp_path, make_image):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    report = coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    assert (report.images, report.boxes, report.skipped) == (3, 4, [])
    expected = [json.loads(line) for line in (GOLDEN / "coco_instances.metadata.jsonl").read_text().splitlines()]
    written = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    assert written == expected
    assert json.loads((folder / "categories.json").read_text()) == ["person", "train", "toothbrush"]
    meta = json.loads((folder / coco.SIDECAR).read_text())
    assert [c["id"] for c in meta["categories"]] == [1, 7, 90]
    assert meta["splits"]["train"]["licenses"] == _golden()["licenses"]
    assert ImageDataset(image_dir=folder).validate().ok


def test_coco_to_ours_to_coco_is_the_identity(tmp_path, make_image):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    report = coco.export(ImageDataset(image_dir=folder), tmp_path / "again.json")
    assert (report.images, report.boxes) == (3, 4)
    _same_coco(json.loads((tmp_path / "again.json").read_text()), _golden())


def test_edits_after_import_keep_ids_and_number_new_ones_after_them(tmp_path, make_image):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    dataset = ImageDataset(image_dir=folder)
    dataset.set_category_names([*dataset.category_names(), "zebra"])
    annotations = list(dataset.annotations().values())
    annotations[2].boxes.append(Box(1, 1, 5, 5, 3))
    data = coco.encode(annotations, dataset.category_names(), coco._split_meta(coco.read_meta(folder), "train"))
    assert data["categories"][-1] == {"id": 91, "name": "zebra"}
    new = [a for a in data["annotations"] if a["image_id"] == 252219]
    assert new == [
        {"id": 900100581905, "image_id": 252219, "category_id": 91, "bbox": [1.0, 1.0, 5.0, 5.0], "area": 25.0, "iscrowd": 0}
    ]


# ------------------------------------------------------------------------------------------------ splits


def _split_files(tmp_path: Path, make_image) -> tuple[Path, Path]:
    train = {
        "images": [{"id": 1, "file_name": "t1.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}],
        "categories": [{"id": 1, "name": "car"}, {"id": 3, "name": "truck"}],
    }
    val = {
        "images": [{"id": 1, "file_name": "v1.png", "width": 64, "height": 48}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [3, 3, 5, 5], "area": 25, "iscrowd": 0},
        ],
        "categories": [{"id": 3, "name": "truck"}, {"id": 2, "name": "bus"}],
    }
    make_image(tmp_path / "imgs" / "train" / "t1.png")
    make_image(tmp_path / "imgs" / "val" / "v1.png")
    return _write(tmp_path / "ann" / "instances_train.json", train), _write(tmp_path / "ann" / "instances_val.json", val)


def test_split_import_unifies_ids_in_one_root_categories_file(tmp_path, make_image):
    train, val = _split_files(tmp_path, make_image)
    report = coco.import_dataset([train, val], tmp_path / "ds", coco.CocoOptions(images=tmp_path / "imgs"))
    assert (report.images, report.boxes) == (2, 3)
    dataset = ImageDataset(image_dir=tmp_path / "ds")
    assert list(dataset.splits) == ["train", "validation"]
    assert dataset.category_names() == ["car", "bus", "truck"]
    assert not list((tmp_path / "ds").glob("*/categories.json"))
    trucks = [b.category for a in dataset.annotations().values() for b in a.boxes if b.extra["area"] == 100]
    assert trucks == [2, 2]  # "truck" is one id in both splits
    assert dataset.validate().ok
    again = json.loads(coco.to_json_bytes(dataset, "validation"))
    _same_coco(again, json.loads(val.read_text()) | {"categories": again["categories"]})
    assert {c["id"]: c["name"] for c in again["categories"]} == {1: "car", 2: "bus", 3: "truck"}


def test_split_import_into_the_images_folder_writes_each_split_there(tmp_path, make_image):
    train, val = _split_files(tmp_path, make_image)
    coco.import_dataset([train, val], tmp_path / "imgs")
    assert (tmp_path / "imgs" / "val" / "metadata.jsonl").exists()
    assert (tmp_path / "imgs" / "categories.json").exists()
    assert ImageDataset(image_dir=tmp_path / "imgs").validate().ok


def test_one_id_with_two_names_across_splits_is_refused(tmp_path, make_image):
    train, val = _split_files(tmp_path, make_image)
    data = json.loads(val.read_text())
    data["categories"][0]["name"] = "lorry"
    _write(val, data)
    with pytest.raises(FormatError, match=r"instances_val.json: id 3: named 'lorry' here but 'truck' in .*instances_train"):
        coco.import_dataset([train, val], tmp_path / "ds", coco.CocoOptions(images=tmp_path / "imgs"))
    assert not (tmp_path / "ds").exists()


def test_split_names_come_from_file_or_folder_names():
    assert coco.split_of(Path("annotations/instances_val2017.json")) == "validation"
    assert coco.split_of(Path("valid/_annotations.coco.json")) == "validation"
    assert coco.split_of(Path("train.json")) == "train"
    assert coco.split_of(Path("x/coco.json")) is None


def test_export_writes_every_split_into_a_folder_or_asks_for_one(tmp_path):
    dataset = ImageDataset(image_dir=DEMO_DIR)
    with pytest.raises(FormatError, match="choose a split: train, validation"):
        coco.export(dataset, tmp_path / "all.json")
    report = coco.export(dataset, tmp_path / "all")
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["train.json", "validation.json"]
    assert (report.images, report.boxes) == (12, 59)


# ------------------------------------------------------------------------------------------------ refusals


def _bad(kind: str) -> tuple[dict, str]:
    data = _golden()
    if kind == "missing image id":
        data["annotations"][0]["image_id"] = 5
        return data, r"annotation id 1768: image_id 5 is not in images"
    if kind == "duplicate image id":
        data["images"][1]["id"] = 397133
        return data, r"image id 397133 \(000000037777.jpg\): duplicate image id"
    if kind == "zero-area box":
        data["annotations"][1]["bbox"] = [30, 10, 0, 30]
        return data, r"annotation id 1769: bbox width and height must be > 0"
    if kind == "three-number bbox":
        data["annotations"][1]["bbox"] = [30, 10, 12]
        return data, r"annotation id 1769: bbox must be 4 numbers"
    if kind == "unknown category":
        data["annotations"][3]["category_id"] = 9
        return data, r"annotation id 2001: category_id 9 is not in categories"
    if kind == "duplicate category name":
        data["categories"][2]["name"] = "person"
        return data, r"id 90: name 'person' is also id 1"
    if kind == "unsafe file name":
        data["images"][2]["file_name"] = "../x.jpg"
        return data, r"image id 252219 \(../x.jpg\): the path lies outside the imported files"
    if kind == "missing image file":
        data["images"][2]["file_name"] = "gone.jpg"
        return data, r"image id 252219 \(gone.jpg\): not found in"
    raise AssertionError(kind)


KINDS = [
    "missing image id",
    "duplicate image id",
    "zero-area box",
    "three-number bbox",
    "unknown category",
    "duplicate category name",
    "unsafe file name",
    "missing image file",
]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_names_the_item_and_writes_nothing(tmp_path, make_image, kind):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    data, message = _bad(kind)
    source = _write(tmp_path / "bad.json", data)
    before = _tree(folder)
    with pytest.raises(FormatError, match=message):
        coco.import_dataset(source, folder)
    with pytest.raises(FormatError, match=message):
        coco.import_dataset(source, tmp_path / "new", coco.CocoOptions(images=folder))
    assert _tree(folder) == before
    assert not (tmp_path / "new").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "images"]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "duplicate category name"])
def test_skip_invalid_leaves_out_and_lists_the_bad_item(tmp_path, make_image, kind):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    data, message = _bad(kind)
    report = coco.import_dataset(_write(tmp_path / "bad.json", data), tmp_path / "new", coco.CocoOptions(images=folder), skip_invalid=True)
    assert report.skipped and any(
        re.search(message.split(": ", 1)[-1], f"{s.item}: {s.reason}") for s in report.skipped
    )
    dataset = ImageDataset(image_dir=tmp_path / "new")
    assert dataset.stats().boxes == report.boxes
    assert report.boxes + sum(1 for s in report.skipped if "annotation" in s.item) <= 4
    assert dataset.validate().ok


def test_a_results_file_is_refused_with_a_clear_message(tmp_path):
    results = _write(tmp_path / "results.json", [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}])
    with pytest.raises(FormatError, match="a COCO results file .* not a dataset"):
        coco.import_dataset(results, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


def test_not_json_and_not_coco_are_refused(tmp_path):
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(FormatError, match="x.json: not valid JSON"):
        coco.import_dataset(tmp_path / "x.json", tmp_path / "ds")
    _write(tmp_path / "y.json", {"annotations": []})
    with pytest.raises(FormatError, match="y.json: not a COCO detection file"):
        coco.import_dataset(tmp_path / "y.json", tmp_path / "ds")


def test_import_never_replaces_existing_metadata(tmp_path, make_image):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    (folder / "metadata.jsonl").write_text('{"file_name": "000000252219.jpg"}\n')
    with pytest.raises(FormatError, match="metadata.jsonl: exists already"):
        coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    assert (folder / "metadata.jsonl").read_text() == '{"file_name": "000000252219.jpg"}\n'


def test_export_refuses_an_image_it_cannot_size_and_skips_it_on_request(tmp_path):
    root = shutil.copytree(DEMO_DIR, tmp_path / "demo")
    (root / "validation" / "scene_010.jpg").unlink()
    dataset = ImageDataset(image_dir=root)
    with pytest.raises(FormatError, match="scene_010.jpg: image not found"):
        coco.export(dataset, tmp_path / "val.json", split="validation")
    assert not (tmp_path / "val.json").exists()
    report = coco.export(dataset, tmp_path / "val.json", split="validation", skip_invalid=True)
    assert [s.item for s in report.skipped] == ["scene_010.jpg"]
    assert report.images == 2


def test_export_refuses_malformed_boxes_instead_of_dropping_them(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    (root / "metadata.jsonl").write_text(
        '{"file_name": "a.png", "width": 10, "height": 10, "objects": {"bbox": [[1, 1, 0, 2], [1, 1, 2, 2]], "categories": [0, 0]}}\n'
    )
    (root / "categories.json").write_text('["car"]')
    with pytest.raises(FormatError, match=r"a.png \(1 boxes\): malformed box"):
        coco.export(ImageDataset(image_dir=root), tmp_path / "x.json")


# ------------------------------------------------------------------------------------------------ oracles


def test_no_export_of_a_dataset_made_here_writes_category_id_0(tmp_path):
    """datumaro (CVAT) reads COCO category 0 as background: every box of the first class lost its label."""
    report = coco.export(ImageDataset(image_dir=DEMO_DIR), tmp_path / "out")
    for path in (tmp_path / "out").iterdir():
        data = json.loads(path.read_text())
        assert min(c["id"] for c in data["categories"]) == 1
        assert 0 not in {a["category_id"] for a in data["annotations"]}
    assert report.boxes == 59


def test_pycocotools_reads_every_box_and_name(tmp_path):
    pycoco = pytest.importorskip("pycocotools.coco")
    dataset = ImageDataset(image_dir=DEMO_DIR)
    coco.export(dataset, tmp_path / "train.json", split="train")
    api = pycoco.COCO(str(tmp_path / "train.json"))
    views = dataset.annotations("train")
    names = dataset.category_names()
    assert len(api.getImgIds()) == len(views)
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == names
    for image in api.loadImgs(api.getImgIds()):
        view = views[("train", image["file_name"])]
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        assert [a["bbox"] for a in anns] == [b.as_bbox() for b in view.boxes]
        assert [api.loadCats(a["category_id"])[0]["name"] for a in anns] == [names[b.category] for b in view.boxes]


def test_pycocotools_reads_the_imported_golden_masks_back(tmp_path, make_image):
    mask = pytest.importorskip("pycocotools.mask")
    pycoco = pytest.importorskip("pycocotools.coco")
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    coco.export(ImageDataset(image_dir=folder), tmp_path / "again.json")
    api = pycoco.COCO(str(tmp_path / "again.json"))
    crowd = api.loadAnns(900100581904)[0]
    assert crowd["iscrowd"] == 1 and int(mask.area(api.annToRLE(crowd))) == 56
    assert api.annToMask(api.loadAnns(1768)[0]).sum() > 0


def test_supervision_reads_our_export_with_identical_boxes_and_names(tmp_path):
    sv = pytest.importorskip("supervision")
    dataset = ImageDataset(image_dir=DEMO_DIR)
    coco.export(dataset, tmp_path / "val.json", split="validation")
    loaded = sv.DetectionDataset.from_coco(str(DEMO_DIR / "validation"), str(tmp_path / "val.json"))
    assert loaded.classes == dataset.category_names()
    for path, _, detections in loaded:
        view = dataset.annotations("validation")[("validation", Path(path).name)]
        expected = [v for b in view.boxes for v in (b.x, b.y, b.x + b.w, b.y + b.h)]
        assert detections.xyxy.ravel().tolist() == pytest.approx(expected)
        assert [loaded.classes[c] for c in detections.class_id] == [
            dataset.category_names()[b.category] for b in view.boxes
        ]


def test_hugging_face_loads_the_imported_golden_folder(tmp_path, make_image):
    datasets = pytest.importorskip("datasets")
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    loaded = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train", cache_dir=str(tmp_path / "hf"))
    assert len(loaded) == 3
    rows = {row["id"]: row for row in loaded.remove_columns("image")}
    assert rows[397133]["objects"]["iscrowd"] == [0, 0, 1]
    assert rows[397133]["coco_url"].endswith("000000397133.jpg")


# ------------------------------------------------------------------------------------------------ round trips

_coords = st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False)
_sizes = st.floats(min_value=0.01, max_value=500, allow_nan=False, allow_infinity=False)
_boxes = st.builds(
    lambda x, y, w, h, c, crowd: Box(x, y, w, h, c, {"iscrowd": crowd} if crowd is not None else {}),
    _coords,
    _coords,
    _sizes,
    _sizes,
    st.integers(0, 2),
    st.one_of(st.none(), st.integers(0, 1)),
)
_annotations = st.lists(
    st.builds(
        lambda i, boxes, caption, cats: ImageAnnotation(
            f"img_{i}.png", caption=caption, categories=cats, boxes=boxes, extra={"width": 1000, "height": 1000}
        ),
        st.integers(0, 10_000),
        st.lists(_boxes, max_size=5),
        st.one_of(st.none(), st.text(min_size=1, max_size=20)),
        st.lists(st.integers(0, 2), max_size=3, unique=True),
    ),
    max_size=8,
    unique_by=lambda a: a.file_name,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_annotations)
def test_ours_to_coco_to_ours_keeps_every_box_and_value(annotations):
    names = ["car", "house", "tree"]
    data = json.loads(json.dumps(coco.encode(annotations, names)))
    assert all(c["id"] > 0 for c in data["categories"])
    back = coco.decode(data, coco.read_categories([("x", data)]))
    assert [a.file_name for a in back] == [a.file_name for a in annotations]
    for before, after in zip(annotations, back, strict=True):
        assert after.caption == before.caption
        assert after.categories == before.categories
        assert [b.as_bbox() + [b.category, b.extra.get("iscrowd", 0)] for b in after.boxes] == [
            b.as_bbox() + [b.category, b.extra.get("iscrowd", 0)] for b in before.boxes
        ]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_annotations, st.integers(1, 10**12))
def test_coco_to_ours_to_coco_is_the_identity_for_any_ids(annotations, first_id):
    names = ["car", "house", "tree"]
    data = coco.encode(annotations, names)
    for i, image in enumerate(data["images"]):
        image["id"] = first_id + 7 * i
        image["license"] = i % 3
    ids = {old["id"]: first_id + 7 * i for i, old in enumerate(coco.encode(annotations, names)["images"])}
    for j, ann in enumerate(data["annotations"]):
        ann["image_id"] = ids[ann["image_id"]]
        ann["id"] = 10**9 - j
    data = json.loads(json.dumps(data))
    meta = {"categories": copy.deepcopy(data["categories"]), "info": data["info"], "licenses": data["licenses"]}
    back = coco.decode(data, coco.read_categories([("x", data)]), refusals=Refusals("x"))
    _same_coco(json.loads(json.dumps(coco.encode(back, names, meta))), data)


def test_a_source_category_0_is_kept_with_a_warning(tmp_path, make_image):
    data = _golden()
    data["categories"][0]["id"] = 0
    for ann in data["annotations"]:
        if ann["category_id"] == 1:
            ann["category_id"] = 0
    folder = _images_for(data, tmp_path / "images", make_image)
    coco.import_dataset(_write(tmp_path / "zero.json", data), folder)
    report = coco.export(ImageDataset(image_dir=folder), tmp_path / "again.json")
    assert report.warnings == ["category id 0 kept from the source: datumaro and CVAT read id 0 as background"]
    _same_coco(json.loads((tmp_path / "again.json").read_text()), data)


# ------------------------------------------------------------------------------------------ Roboflow


def test_roboflow_layout_is_an_option_of_the_export_and_imports_back(tmp_path):
    from typer.testing import CliRunner

    from opsml_image.cli import app

    dataset = ImageDataset(image_dir=DEMO_DIR)
    report = coco.export(dataset, tmp_path / "rf", coco.CocoOptions(layout="roboflow"))
    assert (report.images, report.boxes, report.skipped) == (12, 59, [])
    for split in ("train", "validation"):
        data = json.loads((tmp_path / "rf" / split / coco.ROBOFLOW_FILE).read_text())
        assert sorted(i["file_name"] for i in data["images"]) == sorted(
            p.name for p in (DEMO_DIR / split).iterdir() if p.suffix in (".jpg", ".png")
        )
        assert all((tmp_path / "rf" / split / i["file_name"]).is_file() for i in data["images"])
    files = [str(tmp_path / "rf" / s / coco.ROBOFLOW_FILE) for s in ("train", "validation")]
    back = CliRunner().invoke(app, ["import", "coco", *files, str(tmp_path / "back")])
    assert back.exit_code == 0 and "12 images, 59 boxes" in back.output, back.output
    restored = ImageDataset(image_dir=tmp_path / "back")
    assert list(restored.splits) == ["train", "validation"] and restored.validate().ok
    assert restored.category_names() == dataset.category_names()
    out = CliRunner().invoke(app, ["export", "coco", str(DEMO_DIR), str(tmp_path / "cli"), "--layout", "roboflow"])
    assert out.exit_code == 0 and (tmp_path / "cli" / "validation" / coco.ROBOFLOW_FILE).is_file(), out.output


def test_roboflow_layout_of_one_split_skips_a_missing_image(tmp_path, make_image):
    folder = _images_for(_golden(), tmp_path / "images", make_image)
    coco.import_dataset(GOLDEN / "coco_instances.json", folder)
    gone = _golden()["images"][0]["file_name"]
    (folder / gone).unlink()
    dataset = ImageDataset(image_dir=folder)
    options = coco.CocoOptions(layout="roboflow")
    with pytest.raises(FormatError, match=re.escape(f"{gone}: image file not found")):
        coco.export(dataset, tmp_path / "rf", options, split="train")
    assert not (tmp_path / "rf").exists()
    report = coco.export(dataset, tmp_path / "rf", options, split="train", skip_invalid=True)
    assert [s.item for s in report.skipped] == [gone] and report.images == 2
    data = json.loads((tmp_path / "rf" / "train" / coco.ROBOFLOW_FILE).read_text())
    assert gone not in [i["file_name"] for i in data["images"]]
    assert {a["image_id"] for a in data["annotations"]} <= {i["id"] for i in data["images"]}
