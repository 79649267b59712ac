"""Canvas <-> image pixel mapping for the annotation canvas (contain fit, scaleX/scaleY, clipping)."""

from __future__ import annotations

import pytest

from opsml_image.canvas_geometry import (
    Fit,
    LabeledBox,
    boxes_from_drawing,
    canvas_size,
    clip_box,
    initial_drawing,
)


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
    assert boxes_from_drawing(drawing, fit) == [LabeledBox("car", 500.0, 250.0, 1000.0, 500.0)]
    # the far corner of the canvas is the far corner of the image
    assert fit.to_image(800, 600) == (4000.0, 3000.0)


def test_4000x3000_original_sent_with_letterbox_margins():
    """The full-size photo on a square canvas: scale 0.2 and a 100 px margin above and below."""
    fit = Fit.contain((4000, 3000), (800, 800))
    assert fit.scale_x == pytest.approx(0.2) and fit.scale_y == pytest.approx(0.2)
    assert (fit.offset_x, fit.offset_y) == (0.0, 100.0)
    boxes = boxes_from_drawing({"objects": [rect(100, 150, 200, 100)]}, fit)
    assert boxes == [LabeledBox("car", 500.0, 250.0, 1000.0, 500.0)]


def test_from_background_fit_matches_contain():
    reported = {"natural_width": 800, "natural_height": 600, "scale_x": 1.0, "scale_y": 1.0,
                "offset_x": 0.0, "offset_y": 0.0}  # fmt: skip
    fit = Fit.from_background_fit((4000, 3000), (800, 600), reported)
    assert fit == Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))


def test_resize_changes_scale_not_size():
    fit = Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))
    drawing = {"objects": [rect(100, 50, 200, 100, scaleX=1.5, scaleY=0.5)]}
    assert boxes_from_drawing(drawing, fit) == [LabeledBox("car", 500.0, 250.0, 1500.0, 250.0)]


def test_center_origin_and_negative_scale():
    fit = Fit.contain((800, 600), (800, 600))
    drawing = {"objects": [rect(200, 100, 100, 50, originX="center", originY="center")]}
    assert boxes_from_drawing(drawing, fit) == [LabeledBox("car", 150.0, 75.0, 100.0, 50.0)]
    flipped = {"objects": [rect(300, 100, 100, 50, scaleX=-1)]}
    assert boxes_from_drawing(flipped, fit) == [LabeledBox("car", 200.0, 100.0, 100.0, 50.0)]


def test_round_trip_through_initial_drawing_is_exact():
    fit = Fit.contain((4000, 3000), (800, 600), display_size=(800, 600))
    boxes = [([12.5, 40.0, 1000.25, 333.0], "car"), ([0.0, 0.0, 4000.0, 3000.0], "tree")]
    drawing = initial_drawing(boxes, fit, colors=["#ff0000", "#00ff00"])
    assert drawing["objects"][0]["stroke"] == "#ff0000"
    assert drawing["objects"][0]["originX"] == "left" and drawing["objects"][0]["scaleX"] == 1
    back = boxes_from_drawing(drawing, fit)
    assert [(b.as_bbox(), b.label) for b in back] == [(list(b), label) for b, label in boxes]


def test_odd_sizes_round_trip():
    for size in [(4000, 3000), (3000, 4000), (641, 479), (17, 1234)]:
        canvas = canvas_size(size, 800, 600)
        fit = Fit.contain(size, canvas, display_size=canvas)
        bbox = [size[0] * 0.1, size[1] * 0.2, size[0] * 0.3, size[1] * 0.4]
        (back,) = boxes_from_drawing(initial_drawing([(bbox, "x")], fit), fit)
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
    boxes = boxes_from_drawing(drawing, fit)
    assert boxes == [
        LabeledBox("car", 0.0, 0.0, 500.0, 250.0),
        LabeledBox("car", 3750.0, 2750.0, 250.0, 250.0),
    ]
    for box in boxes:
        assert box.x + box.w <= 4000 and box.y + box.h <= 3000
    unclipped = boxes_from_drawing({"objects": [rect(-20, -10, 120, 60)]}, fit, clip=False)
    assert unclipped == [LabeledBox("car", -100.0, -50.0, 600.0, 300.0)]


def test_rounding_never_pushes_a_clipped_box_outside():
    fit = Fit.contain((641, 479), (800, 598), display_size=(800, 598))
    (box,) = boxes_from_drawing({"objects": [rect(700.123, 500.777, 500, 500)]}, fit)
    assert box.x + box.w <= 641 + 1e-6 and box.y + box.h <= 479 + 1e-6


def test_default_label_and_empty_input():
    fit = Fit.contain((100, 100), (100, 100))
    assert boxes_from_drawing(None, fit) == []
    assert (
        boxes_from_drawing({"objects": [rect(1, 1, 10, 10, label="")]}, fit, default_label="tree")[0].label
        == "tree"
    )
    assert (
        boxes_from_drawing({"objects": [rect(1, 1, 10, 10, label=" ")]}, fit, default_label=lambda: "t")[
            0
        ].label
        == "t"
    )


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
    stored = [([-10.123456, 5.5, 100.0, 50.0], "car"), ([10.0, 10.0, 20.0, 20.0], "tree")]
    drawing = initial_drawing(stored, fit)
    drawing["objects"][1]["left"] += 50  # the tree was moved
    drawing["objects"][0]["left"] += 1e-9  # float noise from the browser
    boxes = boxes_from_drawing(drawing, fit, unchanged=stored)
    assert boxes[0] == LabeledBox("car", -10.123456, 5.5, 100.0, 50.0)
    assert boxes[1].label == "tree" and boxes[1].x == pytest.approx(10 + 50 / fit.scale_x, abs=0.01)
    relabelled = initial_drawing(stored, fit)
    relabelled["objects"][0]["label"] = "house"
    assert boxes_from_drawing(relabelled, fit, unchanged=stored)[0].x == 0.0  # edited: clipped
