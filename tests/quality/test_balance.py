"""Class balance: counts per class per split, a class missing from a split, images without boxes in a split
where most have them."""

from __future__ import annotations

from opsml_image.annotation import Box
from opsml_image.quality.balance import ClassCount, SplitCount, balance, balance_findings


def box(category: int) -> Box:
    return Box(0, 0, 10, 10, category)


def test_boxes_and_images_per_class_per_split():
    images = {
        ("train", "a"): [box(0), box(0), box(1)],
        ("train", "b"): [box(1)],
        ("train", "c"): [],
        ("validation", "d"): [box(0)],
    }
    counted = balance(images)
    assert counted.splits == [SplitCount("train", 3, 2), SplitCount("validation", 1, 1)]
    assert counted.classes == [
        ClassCount("train", 0, 2, 1),
        ClassCount("train", 1, 2, 2),
        ClassCount("validation", 0, 1, 1),
    ]


def test_a_class_missing_from_a_split_that_has_boxes():
    images = {("train", "a"): [box(0), box(1)], ("validation", "b"): [box(0)], ("test", "c"): []}
    found = balance_findings(balance(images), images, ["car", "tree"])
    assert [(f.kind, f.keys, f.message) for f in found] == [
        ("class.missing", (), "'tree' has no box in validation (boxes: 1 in train)")
    ]  # test has no box at all: nothing is missing from it in particular


def test_images_without_boxes_where_most_have_them():
    train = {("train", f"{i:02d}"): [box(0)] for i in range(19)} | {("train", "empty"): []}
    validation = {("validation", "x"): [box(0)], ("validation", "y"): []}  # half: no expectation
    images = train | validation
    found = balance_findings(balance(images), images)
    assert [(f.kind, f.keys) for f in found] == [("image.unboxed", (("train", "empty"),))]
    assert found[0].message == "train/empty has no box, while 95% of train's images have some"
    assert found[0].severity == "info"
    assert balance_findings(balance(images), images, most=0.99) == []
