"""The Annotate canvas's viewport: fit, zoom around a point, pan, 1:1, a new canvas size (properties)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsml_image.annotation import Box
from opsml_image.canvas_geometry import ZOOMS, Fit, Viewport, boxes_from_drawing, initial_drawing

sizes = st.tuples(st.integers(16, 12_000), st.integers(16, 12_000))
bounds = st.tuples(st.integers(200, 1400), st.sampled_from([420, 560, 760]))
zooms = st.floats(1.0, 12.0)
fractions = st.floats(0.0, 1.0)


@st.composite
def viewports(draw: st.DrawFn) -> Viewport:
    """A viewport on any image and canvas, zoomed and panned anywhere."""
    image = draw(sizes)
    view = Viewport.fitted(image, draw(bounds))
    center = (draw(fractions) * image[0], draw(fractions) * image[1])
    return view._made(draw(zooms), center)


def inside(view: Viewport) -> bool:
    x, y, w, h = view.region
    iw, ih = view.image
    eps = 1e-6 * max(iw, ih)
    return -eps <= x and -eps <= y and x + w <= iw + eps and y + h <= ih + eps


def test_fitted_shows_the_whole_image_on_a_canvas_of_its_aspect():
    view = Viewport.fitted((4000, 3000), (616, 560))
    assert view.canvas == (616, 462) and view.zoom == 1.0
    assert view.region == (0.0, 0.0, 4000.0, 3000.0)
    assert view.fit == Fit.view((4000, 3000), (616, 462), (0.0, 0.0, 4000.0, 3000.0))
    assert view.to_image(616, 462) == (4000.0, 3000.0)


def test_zoom_2_around_the_centre_shows_the_middle_half():
    view = Viewport.fitted((4000, 3000), (800, 600)).zoomed(2.0)
    assert view.region == (1000.0, 750.0, 2000.0, 1500.0)
    assert view.to_image(0, 0) == (1000.0, 750.0)


def test_the_wheel_point_stays_under_the_pointer():
    view = Viewport.fitted((4000, 3000), (800, 600))
    before = view.to_image(100, 500)
    after = view.stepped(1, at=(100, 500))
    assert after.zoom == 1.5
    assert after.to_image(100, 500) == pytest.approx(before)


def test_pan_moves_the_image_with_the_pointer_and_stops_at_its_edge():
    view = Viewport.fitted((4000, 3000), (800, 600)).zoomed(2.0)
    moved = view.panned(100, -50)  # drag right and up: the image follows, so the view goes left and down
    assert moved.region[:2] == pytest.approx((1000 - 100 / 0.4, 750 + 50 / 0.4))
    assert view.panned(10_000, 10_000).region[:2] == (0.0, 0.0)
    assert Viewport.fitted((4000, 3000), (800, 600)).panned(50, 50).region[:2] == (0.0, 0.0)  # nothing to pan


def test_actual_size_is_one_image_pixel_a_canvas_pixel():
    view = Viewport.fitted((4000, 3000), (800, 600)).actual_size()
    assert view.zoom == 5.0 and view.fit.scale_x == pytest.approx(1.0)
    small = Viewport.fitted((64, 48), (800, 600))
    assert small.actual_size().zoom == 1.0  # smaller than the canvas: the whole image


def test_steps_follow_the_zoom_levels_and_stop_at_both_ends():
    view = Viewport.fitted((4000, 3000), (800, 600))
    seen = []
    for _ in range(len(ZOOMS) + 2):
        view = view.stepped(1)
        seen.append(view.zoom)
    assert seen[: len(ZOOMS) - 1] == list(ZOOMS[1:]) and seen[-1] == ZOOMS[-1]
    assert view.stepped(-20).zoom == 1.0
    huge = Viewport.fitted((12_000, 9_000), (800, 600)).stepped(20)
    assert huge.zoom == 15.0 and huge.fit.scale_x == pytest.approx(1.0)  # 1:1 is the last level there


def test_a_new_canvas_size_keeps_zoom_and_centre():
    view = Viewport.fitted((4000, 3000), (800, 600)).zoomed(3.0, at=(700, 100))
    bigger = view.resized((1000, 760))
    assert bigger.canvas == (1000, 750) and bigger.zoom == 3.0 and bigger.center == view.center
    assert bigger.region == pytest.approx(view.region)
    assert view.resized((800, 600)) is view


def test_the_key_names_the_mapping():
    view = Viewport.fitted((4000, 3000), (800, 600))
    assert view.key == "800x600@0.000,0.000,4000.000"
    assert view.zoomed(2).key != view.key and view.zoomed(2).key == view.zoomed(2).key


@given(viewports(), st.integers(1, 3), st.tuples(fractions, fractions))
def test_zooming_in_keeps_the_point_under_the_pointer_exactly(view: Viewport, steps: int, where):
    at = (where[0] * view.canvas[0], where[1] * view.canvas[1])
    before = view.to_image(*at)
    after = view.stepped(steps, at=at)
    assert after.zoom >= view.zoom and inside(after)
    if after.zoom > view.zoom:  # the new region lies inside the old one: nothing to clamp
        assert after.to_image(*at) == pytest.approx(before, abs=1e-6 * max(view.image))


@given(viewports(), st.integers(-3, -1), st.tuples(fractions, fractions))
def test_zooming_out_keeps_the_point_unless_the_view_meets_the_edge(view: Viewport, steps: int, where):
    at = (where[0] * view.canvas[0], where[1] * view.canvas[1])
    before = view.to_image(*at)
    after = view.stepped(steps, at=at)
    assert after.zoom <= view.zoom and inside(after)
    x, y, w, h = after.region
    iw, ih = view.image
    eps = 1e-6 * max(iw, ih)
    clamped = min(x, y) <= eps or x + w >= iw - eps or y + h >= ih - eps
    if not clamped:
        assert after.to_image(*at) == pytest.approx(before, abs=1e-6 * max(view.image))


@given(viewports(), st.floats(-2000, 2000), st.floats(-2000, 2000))
def test_pan_stays_inside_and_is_undone_by_the_opposite_drag(view: Viewport, dx: float, dy: float):
    moved = view.panned(dx, dy)
    assert inside(moved) and moved.zoom == view.zoom and moved.canvas == view.canvas
    x, y, w, h = moved.region
    iw, ih = view.image
    eps = 1e-6 * max(iw, ih)
    if eps < x and x + w < iw - eps and eps < y and y + h < ih - eps:  # not stopped by an edge
        back = moved.panned(-dx, -dy)
        assert back.center == pytest.approx(view.center, abs=1e-6 * max(view.image))


@given(viewports(), st.tuples(fractions, fractions))
def test_canvas_and_image_pixels_round_trip(view: Viewport, where):
    at = (where[0] * view.canvas[0], where[1] * view.canvas[1])
    assert view.to_canvas(*view.to_image(*at)) == pytest.approx(at, abs=1e-6 * max(view.image))
    x, y, w, h = view.region
    assert view.to_image(0, 0) == pytest.approx((x, y)) and inside(view)
    assert view.to_image(*view.canvas) == pytest.approx((x + w, y + h))


@given(viewports())
def test_a_box_shown_comes_back_as_itself_at_any_zoom(view: Viewport):
    """The initial drawing of a stored box, read back unchanged, is that very box (at 8x and 1:1 too)."""
    x, y, w, h = view.region
    box = Box(round(x + w / 3, 2), round(y + h / 3, 2), round(w / 4, 2) or 1.0, round(h / 4, 2) or 1.0, 0,
              {"id": 7, "segmentation": [[1, 1, 2, 2, 3, 1]]})  # fmt: skip
    drawing = initial_drawing([box], view.fit, lambda c: "car")
    for obj in drawing["objects"]:  # the canvas sends its numbers back as JSON floats
        obj["left"], obj["top"] = round(obj["left"], 4), round(obj["top"], 4)
    back = boxes_from_drawing(drawing, view.fit, lambda label: 0, unchanged=[box], label_of=lambda c: "car")
    assert back == [box]
