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


def test_a_clip_keeps_a_mask_and_its_area_and_drops_an_area_without_one():
    masked = Box(-5.0, 0.0, 20.0, 10.0, 0, {"id": 3, "area": 120.0, "segmentation": [[0, 0, 10, 0, 10, 10]]})
    assert masked.clipped(100, 100) == Box(0.0, 0.0, 15.0, 10.0, 0, masked.extra)
    plain = Box(-5.0, 0.0, 20.0, 10.0, 0, {"id": 4, "area": 200.0, "iscrowd": 0})
    assert plain.clipped(100, 100).extra == {"id": 4, "iscrowd": 0}  # the box's own area: recomputed on export
    assert plain.moved(1, 2, 3, 4).extra == {"id": 4, "iscrowd": 0}
    assert masked.moved(1, 2, 3, 4).extra == {"id": 3}  # the mask no longer describes the moved box
    empty = Box(-5.0, 0.0, 20.0, 10.0, 0, {"area": 200.0, "segmentation": []})  # box-only COCO: no mask
    assert empty.clipped(100, 100).extra == {}


def test_implied_per_box_values_are_written_so_no_list_starts_with_null():
    """A box drawn beside imported COCO boxes gets its box area and iscrowd 0 (what a COCO export writes for
    it) and an empty polygon list; a value with no implied default (an id) stays null."""
    drawn = Box(1.0, 2.0, 3.0, 4.0, 0)
    imported = Box(5.0, 5.0, 10.0, 10.0, 1, {"id": 9, "area": 80.5, "iscrowd": 1, "segmentation": [[5, 5, 15, 5, 15, 15]]})
    objects = ImageAnnotation("a.png", boxes=[drawn, imported]).to_record()["objects"]
    assert objects["area"] == [12.0, 80.5] and objects["iscrowd"] == [0, 1]
    assert objects["id"] == [None, 9] and objects["segmentation"] == [[], [[5, 5, 15, 5, 15, 15]]]
    masked = Box(0.0, 0.0, 2.0, 2.0, 0, {"segmentation": [[0, 0, 1, 0, 1, 1]]})
    assert ImageAnnotation("a.png", boxes=[masked, imported]).to_record()["objects"]["area"] == [None, 80.5]
