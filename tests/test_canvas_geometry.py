"""Canvas <-> image pixel mapping for the annotation canvas (contain fit, scaleX/scaleY, clipping)."""

from __future__ import annotations

import pytest

from opsml_image.annotation import Box
from opsml_image.canvas_geometry import Fit, boxes_from_drawing, canvas_size, clip_box, initial_drawing

NAMES = ["car", "tree", "house", "x"]


def category_of(label):
    return NAMES.index(label) if label in NAMES else 0


def label_of(category):
    return NAMES[category]


def read(drawing, fit, **kwargs):
    return boxes_from_drawing(drawing, fit, category_of, **kwargs)


def rect(left, top, width, height, label="car", **extra):
    return {"type": "LabeledRect", "label": label, "left": left, "top": top, "width": width, "height": height,
            "originX": "left", "originY": "top", "scaleX": 1, "scaleY": 1, **extra}  # fmt: skip


def test_canvas_size_keeps_aspect_and_fits_bounds():
    assert canvas_size((4000, 3000), 800, 600) == (800, 600)
    assert canvas_size((4000, 3000), 900, 600) == (800, 600)
    assert canvas_size((3000, 4000), 800, 600) == (450, 600)
    assert canvas_size((64, 48), 800, 600) == (800, 600)  # small images are scaled up
    with pytest.raises(ValueError):
        canvas_size((0, 10), 800, 600)


def test_4000x3000_photo_on_downscaled_canvas_lands_on_image_pixels():
    """A box drawn on the 800x600 canvas showing a 4000x3000 photo (sent at 800x600) maps x5 exactly."""
    fit = Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))
    assert (fit.scale_x, fit.scale_y, fit.offset_x, fit.offset_y) == (0.2, 0.2, 0.0, 0.0)
    drawing = {"objects": [rect(100, 50, 200, 100)]}
    assert read(drawing, fit) == [Box(500.0, 250.0, 1000.0, 500.0, 0)]
    # the far corner of the canvas is the far corner of the image
    assert fit.to_image(800, 600) == (4000.0, 3000.0)


def test_4000x3000_original_sent_with_letterbox_margins():
    """The full-size photo on a square canvas: scale 0.2 and a 100 px margin above and below."""
    fit = Fit.contain((4000, 3000), (800, 800))
    assert fit.scale_x == pytest.approx(0.2) and fit.scale_y == pytest.approx(0.2)
    assert (fit.offset_x, fit.offset_y) == (0.0, 100.0)
    boxes = read({"objects": [rect(100, 150, 200, 100)]}, fit)
    assert boxes == [Box(500.0, 250.0, 1000.0, 500.0, 0)]


def test_from_background_fit_matches_contain():
    reported = {"natural_width": 800, "natural_height": 600, "scale_x": 1.0, "scale_y": 1.0,
                "offset_x": 0.0, "offset_y": 0.0}  # fmt: skip
    fit = Fit.from_background_fit((4000, 3000), (800, 600), reported)
    assert fit == Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))


def test_resize_changes_scale_not_size():
    fit = Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))
    drawing = {"objects": [rect(100, 50, 200, 100, scaleX=1.5, scaleY=0.5)]}
    assert read(drawing, fit) == [Box(500.0, 250.0, 1500.0, 250.0, 0)]


def test_center_origin_and_negative_scale():
    fit = Fit.contain((800, 600), (800, 600))
    drawing = {"objects": [rect(200, 100, 100, 50, originX="center", originY="center")]}
    assert read(drawing, fit) == [Box(150.0, 75.0, 100.0, 50.0, 0)]
    flipped = {"objects": [rect(300, 100, 100, 50, scaleX=-1)]}
    assert read(flipped, fit) == [Box(200.0, 100.0, 100.0, 50.0, 0)]


def test_round_trip_through_initial_drawing_is_exact():
    fit = Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))
    boxes = [Box(12.5, 40.0, 1000.25, 333.0, 0), Box(0.0, 0.0, 4000.0, 3000.0, 1)]
    drawing = initial_drawing(boxes, fit, label_of, ["#ff0000", "#00ff00"].__getitem__)
    assert drawing["objects"][0]["stroke"] == "#ff0000" and drawing["objects"][1]["label"] == "tree"
    assert drawing["objects"][0]["originX"] == "left" and drawing["objects"][0]["scaleX"] == 1
    assert read(drawing, fit) == boxes


def test_odd_sizes_round_trip():
    for size in [(4000, 3000), (3000, 4000), (641, 479), (17, 1234)]:
        canvas = canvas_size(size, 800, 600)
        fit = Fit.contain(size, canvas, display_size=canvas)
        bbox = [size[0] * 0.1, size[1] * 0.2, size[0] * 0.3, size[1] * 0.4]
        (back,) = read(initial_drawing([Box(*bbox, 3)], fit, label_of), fit)
        assert back.as_bbox() == pytest.approx(bbox, abs=0.011)


def test_clipping_and_tiny_boxes():
    fit = Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))
    drawing = {"objects": [
        rect(-20, -10, 120, 60),        # sticks out at the top left
        rect(750, 550, 100, 100),       # sticks out at the bottom right
        rect(900, 700, 50, 50),         # entirely outside
        rect(10, 10, 0.1, 0.1),         # a click without a drag
        {"type": "path", "left": 1},    # not a labeled box
    ]}  # fmt: skip
    boxes = read(drawing, fit)
    assert boxes == [
        Box(0.0, 0.0, 500.0, 250.0, 0),
        Box(3750.0, 2750.0, 250.0, 250.0, 0),
    ]
    for box in boxes:
        assert box.x + box.w <= 4000 and box.y + box.h <= 3000
    unclipped = read({"objects": [rect(-20, -10, 120, 60)]}, fit, clip=False)
    assert unclipped == [Box(-100.0, -50.0, 600.0, 300.0, 0)]


def test_rounding_never_pushes_a_clipped_box_outside():
    fit = Fit.contain((641, 479), (800, 598), display_size=(800, 598))
    (box,) = read({"objects": [rect(700.123, 500.777, 500, 500)]}, fit)
    assert box.x + box.w <= 641 + 1e-6 and box.y + box.h <= 479 + 1e-6


def test_labels_become_categories_and_empty_input():
    fit = Fit.contain((100, 100), (100, 100))
    assert read(None, fit) == []
    seen = []
    boxes = boxes_from_drawing(
        {"objects": [rect(1, 1, 10, 10, label=" "), rect(1, 1, 10, 10, label="tree")]},
        fit,
        lambda label: seen.append(label) or 7,
    )
    assert seen == ["", "tree"] and [b.category for b in boxes] == [7, 7]


def test_zoomed_view_maps_to_image_pixels():
    """At 4x on a 4000x3000 photo, the canvas shows a 200x150 region; a box lands to the pixel."""
    fit = Fit.view((4000, 3000), (800, 600), (1000.0, 500.0, 200.0, 150.0))
    assert fit.scale_x == fit.scale_y == 4.0
    (box,) = read({"objects": [rect(40, 80, 400, 200)]}, fit)
    assert box == Box(1010.0, 520.0, 100.0, 50.0, 0)
    assert fit.box_to_canvas(box.as_bbox()) == (40.0, 80.0, 400.0, 200.0)
    with pytest.raises(ValueError):
        Fit.view((4000, 3000), (800, 600), (0, 0, 0, 10))


def test_clip_box():
    assert clip_box(-5, -5, 10, 10, 100, 100) == (0.0, 0.0, 5.0, 5.0)
    assert clip_box(200, 0, 10, 10, 100, 100) is None


def test_clip_box_is_box_clipped():
    """The canvas clips drawn boxes by the same rule as the library's Box.clipped (copy previous, fixes)."""
    from opsml_image.annotation import Box

    cases = [(-5, -5, 10, 10), (200, 0, 10, 10), (90.5, 40.25, 20, 20), (0, 0, 100, 50), (10, -3, 0.5, 2)]
    for x, y, w, h in cases:
        clipped = Box(x, y, w, h, 1).clipped(100, 50)
        expected = None if clipped is None else (clipped.x, clipped.y, clipped.w, clipped.h)
        assert clip_box(x, y, w, h, 100, 50) == expected


def test_invalid_sizes():
    with pytest.raises(ValueError):
        Fit.contain((0, 10), (100, 100))


def test_unchanged_boxes_keep_their_exact_coordinates():
    """A stored box outside the image (a validation error) is not silently clipped by showing it."""
    fit = Fit.contain((641, 479), (800, 598), display_size=(800, 598))
    stored = [Box(-10.123456, 5.5, 100.0, 50.0, 0, {"iscrowd": 1}), Box(10.0, 10.0, 20.0, 20.0, 1)]
    drawing = initial_drawing(stored, fit, label_of)
    drawing["objects"][1]["left"] += 50  # the tree was moved
    drawing["objects"][0]["left"] += 1e-9  # float noise from the browser
    boxes = read(drawing, fit, unchanged=stored, label_of=label_of)
    assert boxes[0] == stored[0] and boxes[0].extra == {"iscrowd": 1}
    assert boxes[1].category == 1 and boxes[1].x == pytest.approx(10 + 50 / fit.scale_x, abs=0.01)
    relabelled = initial_drawing(stored, fit, label_of)
    relabelled["objects"][0]["label"] = "house"
    again = read(relabelled, fit, unchanged=stored, label_of=label_of)[0]  # relabelled only: the same box
    assert (again.x, again.category, again.extra) == (-10.123456, category_of("house"), {"iscrowd": 1})


def test_a_moved_box_keeps_its_identity_and_drops_its_stale_shape():
    """COCO id, iscrowd and attributes survive a move or resize; area and mask no longer describe the box."""
    fit = Fit.contain((640, 480), (640, 480), display_size=(640, 480))
    coco = {"id": 17, "iscrowd": 0, "area": 999.0, "segmentation": [[1, 1, 5, 1, 5, 5]], "attributes": {"a": 1}}
    stored = [Box(10.0, 10.0, 40.0, 30.0, 0, coco), Box(100.0, 100.0, 20.0, 20.0, 1, {"id": 18})]
    drawing = initial_drawing(stored, fit, label_of)
    drawing["objects"][0]["left"] += 25
    drawing["objects"][0]["scaleX"] = 2
    boxes = read(drawing, fit, unchanged=stored, label_of=label_of)
    assert boxes[0].as_bbox() == [35.0, 10.0, 80.0, 30.0] and boxes[0].category == 0
    assert boxes[0].extra == {"id": 17, "iscrowd": 0, "attributes": {"a": 1}}
    assert boxes[1] is stored[1]
    drawing["objects"].append(dict(drawing["objects"][1], left=300))  # a new box: no identity borrowed
    assert [b.extra for b in read(drawing, fit, unchanged=stored, label_of=label_of)][2] == {}


def test_a_box_moved_back_where_the_canvas_was_given_it_is_that_box_again():
    """A box moved, saved (its mask dropped), then put back on the canvas (the canvas's own reset or undo)
    comes back as the box the canvas was first given, mask included: nothing is lost by taking a move back."""
    fit = Fit.view((400, 300), (800, 600), (0.0, 0.0, 400.0, 300.0))
    first = Box(10.0, 20.0, 100.0, 50.0, 0, {"id": 7, "segmentation": [[10, 20, 110, 20, 110, 70]]})
    moved = first.moved(40.0, 20.0, 100.0, 50.0)
    back = {"objects": [rect(20, 40, 200, 100)]}  # where the canvas first drew it
    assert read(back, fit, unchanged=[moved], label_of=label_of, known=[first]) == [first]
    assert read(back, fit, unchanged=[moved], label_of=label_of)[0].extra == {"id": 7}  # without: a move
