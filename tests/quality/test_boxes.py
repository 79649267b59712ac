"""Every suspicious-box rule on hand-made boxes, and the boxes the duplicate-box fix drops."""

from __future__ import annotations

import random

import pytest

from opsml_image.annotation import Box
from opsml_image.quality.boxes import BoxRules, box_findings, duplicate_boxes, iou, overlaps

KEY = ("train", "a.jpg")
SIZE = (640, 480)
NAMES = ["car", "tree"]


def kinds(
    boxes: list[Box], size: tuple[int, int] | None = SIZE, rules: BoxRules | None = None
) -> list[tuple]:
    return [(f.kind, f.boxes) for f in box_findings(KEY, boxes, size, rules or BoxRules(), NAMES)]


def test_iou():
    a = Box(0, 0, 10, 10, 0)
    assert iou(a, a) == 1.0
    assert iou(a, Box(5, 0, 10, 10, 0)) == pytest.approx(50 / 150)
    assert iou(a, Box(10, 0, 10, 10, 0)) == 0.0  # touching edges
    assert iou(a, Box(50, 50, 10, 10, 0)) == 0.0


def test_the_same_class_twice_on_one_object():
    boxes = [Box(100, 100, 100, 80, 0), Box(102, 101, 99, 80, 0), Box(400, 100, 50, 50, 0)]
    (finding,) = box_findings(KEY, boxes, SIZE, BoxRules(), NAMES)
    assert (finding.kind, finding.boxes, finding.keys) == ("box.duplicate", (0, 1), (KEY,))
    assert finding.message.startswith("two 'car' boxes on one object (IoU 0.9")
    assert finding.message.endswith("boxes 1 and 2")


def test_overlap_below_the_threshold_is_no_finding():
    boxes = [Box(100, 100, 100, 100, 0), Box(130, 100, 100, 100, 0)]  # IoU 70 / 130 = 0.54
    assert kinds(boxes) == []
    assert kinds(boxes, rules=BoxRules(same_iou=0.5)) == [("box.duplicate", (0, 1))]


def test_two_classes_on_one_object():
    boxes = [Box(100, 100, 100, 80, 0), Box(101, 100, 100, 80, 1)]
    assert kinds(boxes) == [("box.conflict", (0, 1))]
    (finding,) = box_findings(KEY, boxes, SIZE, BoxRules(), NAMES)
    assert "'car' and 'tree' on one object" in finding.message


def test_tiny_boxes_by_side_and_by_share_of_the_image():
    assert kinds([Box(10, 10, 3, 20, 0)]) == [("box.tiny", (0,))]  # 3 px wide
    assert kinds([Box(10, 10, 4, 4, 0)]) == []  # 16 px² is 0.005% of 640x480: above 0.001%
    big = (8000, 6000)
    assert kinds([Box(10, 10, 6, 6, 0)], big) == [("box.tiny", (0,))]  # 36 px² of 48 Mpx
    assert kinds([Box(10, 10, 6, 6, 0)], None) == []  # the share needs the image's size


def test_extreme_aspect_ratios():
    assert kinds([Box(10, 10, 200, 10, 0)]) == [("box.aspect", (0,))]  # 20 to 1
    assert kinds([Box(10, 10, 10, 150, 0)]) == [("box.aspect", (0,))]
    assert kinds([Box(10, 10, 100, 10, 0)]) == []  # 10 to 1 is allowed
    (finding,) = box_findings(KEY, [Box(10, 10, 200, 10, 0)], SIZE, BoxRules(), NAMES)
    assert finding.message == "box 1 ('car', 200x10 px): aspect ratio 20.0 to 1"


def test_boxes_covering_the_whole_image():
    assert kinds([Box(0, 0, 640, 480, 0)]) == [("box.whole_image", (0,))]
    assert kinds([Box(-5, -5, 660, 500, 1)]) == [("box.whole_image", (0,))]  # the part inside counts
    assert kinds([Box(0, 0, 630, 470, 0)]) == [("box.whole_image", (0,))]  # 96%
    assert kinds([Box(0, 0, 600, 480, 0)]) == []  # 94%
    assert kinds([Box(0, 0, 640, 480, 0)], None) == []


def test_box_indexes_and_numbers_follow_the_merged_order():
    boxes = [Box(300, 300, 50, 50, 0), Box(0, 0, 2, 2, 1), Box(10, 10, 100, 100, 1), Box(10, 10, 100, 100, 1)]
    assert kinds(boxes) == [("box.duplicate", (2, 3)), ("box.tiny", (1,))]


def test_the_fix_keeps_the_first_of_a_pile_and_never_a_conflict():
    same = Box(100, 100, 100, 80, 0)
    boxes = [same, Box(300, 300, 20, 20, 1), same, Box(101, 100, 100, 80, 0), Box(100, 100, 100, 80, 1)]
    assert duplicate_boxes(boxes, 0.85) == [2, 3]
    assert duplicate_boxes([Box(0, 0, 10, 10, 0), Box(0, 0, 10, 10, 1)], 0.85) == []


def test_many_boxes_are_compared_with_numpy_as_one_by_one():
    rng = random.Random(3)
    boxes = [Box(rng.uniform(0, 500), rng.uniform(0, 400), rng.uniform(5, 60), rng.uniform(5, 60), rng.randrange(3))
             for _ in range(120)]  # fmt: skip
    boxes += [Box(b.x + 1, b.y, b.w, b.h, b.category) for b in boxes[:30]]
    fast = overlaps(boxes, 0.5)
    slow = [(i, j, iou(boxes[i], boxes[j])) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if iou(boxes[i], boxes[j]) >= 0.5]  # fmt: skip
    assert [(i, j) for i, j, _ in fast] == [(i, j) for i, j, _ in slow]
    assert [v for *_, v in fast] == pytest.approx([v for *_, v in slow])
    assert len(fast) >= 30
