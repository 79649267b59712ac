"""Each rule has its own code; the cheap whole-record test agrees with the box-by-box check."""

from __future__ import annotations

import math
import random

import pytest

from opsml_image import rules
from opsml_image.rules import CODES, record_problems


def codes(obj):
    return [p.code for p in record_problems(obj)]


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ([1, 2], ["record.type"]),
        ({"caption": "x"}, ["file_name.missing"]),
        ({"file_name": 3}, ["file_name.type"]),
        ({"file_name": "/a.png"}, ["file_name.absolute"]),
        ({"file_name": "C:\\a.png"}, ["file_name.absolute"]),
        ({"file_name": "a/../../b.png"}, ["file_name.parent"]),
        ({"file_name": "http://x/a.png"}, ["file_name.scheme"]),
        ({"file_name": "a.png", "caption": 3}, ["caption.type"]),
        ({"file_name": "a.png", "categories": "cat"}, ["categories.type"]),
        ({"file_name": "a.png", "objects": []}, ["objects.type"]),
        ({"file_name": "a.png", "objects": {"categories": []}}, ["objects.bbox_missing"]),
        ({"file_name": "a.png", "objects": {"bbox": []}}, ["objects.categories_missing"]),
        ({"file_name": "a.png", "objects": {"bbox": {}, "categories": []}}, ["bbox.type"]),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, 3]], "categories": [0]}}, ["box.shape"]),
        ({"file_name": "a.png", "objects": {"bbox": [[1, None, 3, 4]], "categories": [0]}}, ["box.number"]),
        ({"file_name": "a.png", "objects": {"bbox": [[1, True, 3, 4]], "categories": [0]}}, ["box.number"]),
        (
            {"file_name": "a.png", "objects": {"bbox": [[1, math.inf, 3, 4]], "categories": [0]}},
            ["box.finite"],
        ),
        ({"file_name": "a.png", "objects": {"bbox": [[1, 2, 0, 4]], "categories": [0]}}, ["box.size"]),
        (
            {"file_name": "a.png", "objects": {"bbox": [[1, 2, 10**400, 4]], "categories": [0]}},
            ["box.finite"],
        ),
        (
            {"file_name": "a.png", "objects": {"bbox": [[1, 2, 3, 4]], "categories": [0, 1]}},
            ["objects.length"],
        ),
        (
            {"file_name": "a.png", "objects": {"bbox": [[1, 2, 3, 4]], "categories": [1.0]}},
            ["categories.type"],
        ),
        ({"file_name": "a:b.png", "caption": ""}, []),
        ({"file_name": "dir/a..b.png"}, []),
    ],
)
def test_each_rule_reports_its_code(obj, expected):
    assert codes(obj) == expected


def test_every_code_has_a_severity_and_meaning():
    assert all(sev in ("error", "warning") and text for sev, text in CODES.values())


def test_problem_names_the_box_and_coordinate():
    [problem] = record_problems(
        {"file_name": "a.png", "objects": {"bbox": [[0, 0, 1, 1], [1, "x", 3, 4]], "categories": [0, 0]}}
    )
    assert problem.field == "objects.bbox[1].y"
    assert "'x'" in problem.message


def test_fast_path_agrees_with_box_by_box_check():
    rng = random.Random(3)
    values = [0, 1, 2.5, -1, 0.0, math.nan, math.inf, "1", None, True, 1e308]
    for _ in range(3000):
        boxes = [
            [rng.choice(values) for _ in range(rng.choice([3, 4, 4, 4, 5]))] for _ in range(rng.randint(0, 3))
        ]
        slow = [p for i, b in enumerate(boxes) for p in rules._box_problems(b, f"objects.bbox[{i}]")]
        if rules._boxes_look_valid(boxes):
            assert slow == [], boxes
        assert list(rules.box_list_problems(boxes)) == slow


def test_boxes_outside_names_each_box_past_the_border():
    found = list(rules.boxes_outside_problems([[0, 0, 10, 10], [95, 0, 10, 10], [0, -1, 5, 5]], 100, 50))
    assert [p.field for p in found] == ["objects.bbox[1]", "objects.bbox[2]"]
    assert list(rules.boxes_outside_problems([[0, 0, 100, 50]], 100, 50)) == []


def test_box_outside_tolerates_rounding_only():
    assert rules.box_outside_problem([0, 0, 100, 50], 100, 50, "b") is None
    assert rules.box_outside_problem([0, 0, 100.5, 50], 100, 50, "b").code == "box.outside"
    assert rules.box_outside_problem([-0.5, 0, 10, 10], 100, 50, "b").code == "box.outside"


def test_string_problems_find_nul_and_lone_surrogates_at_any_depth():
    record = {
        "file_name": "a.png",
        "caption": "fine \U0001f600 emoji",
        "x\x00y": 1,
        "meta": {"tags": ["ok", "bad \udc80"], "n": [1, 2.5, None, True]},
    }
    found = [(p.code, p.field) for p in rules.string_problems(record)]
    assert found == [("string.nul", "x\\u0000y (key)"), ("string.surrogate", "meta.tags[1]")]
    problem = rules.string_problem("ab\x00", "caption")
    assert problem.message == "caption holds a NUL character (\\u0000) at character 3"
    assert "\x00" not in problem.message and rules.shown("a\x00\ud800") == "a\\u0000\\ud800"
    assert list(rules.string_problems({"file_name": "a.png", "objects": {"bbox": [[1, 2, 3, 4]]}})) == []


def test_every_new_code_has_a_severity_and_a_meaning():
    for code in ("string.nul", "string.surrogate", "file.outside", "file.special"):
        assert rules.CODES[code][0] == "error" and rules.CODES[code][1]
