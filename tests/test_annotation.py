"""The merged per-image view and its boxes."""

from __future__ import annotations

from opsml_image.annotation import Box, ImageAnnotation, merge


def test_merge_keeps_first_caption_unites_categories_and_counts_dropped_boxes():
    view = merge(
        [
            (1, {"file_name": "a.png", "caption": "first", "categories": [2], "source": "cam"}),
            (4, {"file_name": "a.png", "caption": "second", "categories": [2, 1], "objects": {"bbox": [[0, 0, 1, 1], [0, 0, -1, 1]], "categories": [1, 1]}}),
        ]
    )
    assert view.caption == "first" and view.categories == [2, 1]
    assert view.boxes == [Box(0, 0, 1, 1, 1)] and view.dropped_boxes == 1
    assert view.lines == (1, 4) and view.extra == {"source": "cam"}


def test_to_record_omits_empty_fields_and_writes_float_boxes():
    record = ImageAnnotation("a.png", boxes=[Box(1, 2, 3, 4, 0)], extra={"source": "cam"}).to_record()
    assert record == {"file_name": "a.png", "objects": {"bbox": [[1.0, 2.0, 3.0, 4.0]], "categories": [0]}, "source": "cam"}
    assert all(isinstance(v, float) for v in record["objects"]["bbox"][0])
    assert ImageAnnotation("b.png").to_record() == {"file_name": "b.png"}


def test_clipping_to_the_image():
    assert Box(-5, 10, 20, 100, 1).clipped(100, 50) == Box(0, 10, 15, 40, 1)
    assert Box(120, 0, 10, 10, 1).clipped(100, 50) is None


def test_a_coordinate_too_large_for_a_float_is_dropped_not_a_crash():
    view = merge([(1, {"file_name": "a.png", "objects": {"bbox": [[0, 0, 10**400, 1]], "categories": [0]}})])
    assert view.boxes == [] and view.dropped_boxes == 1
