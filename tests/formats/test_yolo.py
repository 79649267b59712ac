"""YOLO layout: normalised label lines, and a round trip through export and import."""

from __future__ import annotations

import pytest
import yaml

from opsml_image import ImageDataset
from opsml_image.annotation import Box
from opsml_image.demo import DEMO_DIR
from opsml_image.formats import yolo


def test_line_conversion_round_trips():
    box = Box(10, 20, 30, 40, 2)
    line = yolo.to_line(box, 200, 100)
    assert line == "2 0.125000 0.400000 0.150000 0.400000"
    assert yolo.from_line(line, 200, 100) == box


def test_bad_line_says_what_is_wrong():
    with pytest.raises(ValueError, match="expected 'class cx cy w h'"):
        yolo.from_line("1 0.5 0.5", 10, 10)


def test_demo_round_trips_through_yolo(tmp_path):
    dataset = ImageDataset(image_dir=DEMO_DIR)
    out = yolo.export(dataset, tmp_path / "yolo")
    config = yaml.safe_load((out / "data.yaml").read_text())
    assert config["train"] == "images/train" and config["val"] == "images/val"
    assert config["names"] == {0: "car", 1: "house", 2: "tree"}
    back = yolo.import_folder(out, tmp_path / "back")
    assert list(back.splits) == ["train", "validation"]
    assert back.validate().ok
    original, again = dataset.annotations(), back.annotations()
    assert set(original) == set(again)
    for key, view in original.items():
        assert len(again[key].boxes) == len(view.boxes)
        for a, b in zip(view.boxes, again[key].boxes, strict=True):
            assert a.category == b.category
            assert max(abs(p - q) for p, q in zip(a.as_bbox(), b.as_bbox(), strict=True)) < 0.01
