"""COCO export checked with pycocotools as the oracle; import gives back the same boxes and names."""

from __future__ import annotations

import pytest

from opsml_image import ImageDataset
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import coco


def test_export_loads_in_pycocotools_with_every_box(tmp_path):
    pycoco = pytest.importorskip("pycocotools.coco")
    dataset = ImageDataset(image_dir=DEMO_DIR)
    path = coco.export(dataset, tmp_path / "train.json", split="train")
    api = pycoco.COCO(str(path))
    views = dataset.annotations("train")
    assert len(api.getImgIds()) == len(views)
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == dataset.category_names()
    for image in api.loadImgs(api.getImgIds()):
        view = views[("train", image["file_name"])]
        anns = api.loadAnns(api.getAnnIds(imgIds=image["id"]))
        assert [a["bbox"] for a in anns] == [b.as_bbox() for b in view.boxes]
        assert [a["category_id"] for a in anns] == [b.category for b in view.boxes]


def test_import_makes_a_valid_folder_with_dense_ids(tmp_path, make_image):
    make_image(tmp_path / "a.png", size=(100, 100))
    make_image(tmp_path / "b.png", size=(100, 100))
    data = {
        "images": [
            {"id": 7, "file_name": "a.png", "width": 100, "height": 100},
            {"id": 9, "file_name": "b.png"},
        ],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 18, "bbox": [10, 10, 20, 20]},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [0, 0, 5, 5]},
            {"id": 3, "image_id": 7, "category_id": 3, "bbox": [0, 0, 100, 100], "iscrowd": 1},
        ],
        "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
    }
    (tmp_path / "coco.json").write_bytes(__import__("orjson").dumps(data))
    dataset = coco.import_file(tmp_path / "coco.json", tmp_path)
    assert dataset.category_names() == ["car", "dog"]
    view = dataset.annotations()[("train", "a.png")]
    assert [(b.as_bbox(), b.category) for b in view.boxes] == [
        ([10.0, 10.0, 20.0, 20.0], 1),
        ([0.0, 0.0, 5.0, 5.0], 0),
    ]
    assert dataset.validate().ok


def test_import_refuses_unsafe_paths():
    with pytest.raises(ValueError, match="must not go up"):
        coco.from_coco({"images": [{"id": 1, "file_name": "../x.png"}], "annotations": [], "categories": []})
    with pytest.raises(ValueError, match="not a COCO detection file"):
        coco.from_coco({"annotations": []})
