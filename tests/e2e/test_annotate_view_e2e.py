"""Annotate in real Chromium as a labeller uses it: a canvas that fits its column at every width, zoom to the
pixel, seed-format folders ready to draw, one truth about progress, the shortcut sheet, undo and redo."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from test_annotate_e2e import CANVAS, record_toasts, records, wait_for, wait_for_toast, wait_idle

from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser


def open_annotate(page: Page, base: str, width: int, query: str) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(f"{base}/annotate?{query}")
    expect(page.locator(CANVAS).first).to_be_visible(timeout=30_000)
    wait_idle(page)
    the_canvas(page)


def the_canvas(page: Page):  # noqa: ANN201 - a Locator
    """The canvas, once a rerun's stale copy is gone (a remounted canvas briefly shows beside the old one)."""
    canvas = page.locator(CANVAS)
    expect(canvas).to_have_count(1, timeout=15_000)
    return canvas


def draw(page: Page, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    """A drag on the canvas between two points in canvas CSS pixels; returns the points the mouse really hit
    (whole page pixels), relative to the canvas."""
    box = the_canvas(page).bounding_box()
    assert box is not None
    start = (round(box["x"] + x0), round(box["y"] + y0))
    end = (round(box["x"] + x1), round(box["y"] + y1))
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=10)
    page.mouse.up()
    return start[0] - box["x"], start[1] - box["y"], end[0] - box["x"], end[1] - box["y"]


def boxes_shown(page: Page) -> int:
    text = page.get_by_text(re.compile(r"^Boxes \(\d+\)$")).first.inner_text()
    return int(text[7:-1])


def focus_page(page: Page) -> None:
    page.get_by_role("heading", name="Annotate").click()


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "data")


@pytest.mark.parametrize("width", [1024, 1440, 1920])
def test_the_canvas_fits_its_column_at_every_width_and_size(
    page: Page, streamlit_app, demo: Path, artifacts_dir: Path, width: int
):
    base = streamlit_app(demo)
    open_annotate(page, base, width, "split=train&file=scene_001.jpg")
    for size in ("Small", "Medium", "Large"):
        page.locator(".st-key-annotate_canvas_size").get_by_text(size, exact=True).click()
        wait_idle(page)
        page.wait_for_timeout(500)
        wait_idle(page)
        canvas = the_canvas(page).bounding_box()
        column = page.locator('[data-testid="stColumn"]', has=page.locator(CANVAS)).last.bounding_box()
        assert canvas and column
        assert canvas["x"] >= column["x"] - 1 and canvas["x"] + canvas["width"] <= column["x"] + column["width"] + 1, (
            size, canvas, column
        )
    page.screenshot(path=str(artifacts_dir / f"annotate-{width}.png"), full_page=True)


def test_a_box_drawn_at_4x_zoom_on_a_4000x3000_photo_lands_on_its_pixels(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
):
    data = tmp_path / "photos"
    data.mkdir()
    Image.new("RGB", (4000, 3000), (90, 120, 160)).save(data / "photo.jpg", quality=80)
    (data / "metadata.jsonl").write_text('{"file_name": "photo.jpg"}\n')
    (data / "categories.json").write_text('["sign"]')
    base = streamlit_app(data)
    open_annotate(page, base, 1440, "split=train&file=photo.jpg")
    for _ in range(4):  # 1 -> 1.5 -> 2 -> 3 -> 4
        page.locator(".st-key-zoom_in button").first.click()
        wait_idle(page)
    expect(page.get_by_text("4.0×").first).to_be_visible(timeout=15_000)
    wait_idle(page)
    canvas = the_canvas(page).bounding_box()
    assert canvas
    sx, sy = canvas["width"] / 1000, canvas["height"] / 750  # at 4x: the 1000 x 750 region around (2000, 1500)
    record_toasts(page)
    x0, y0, x1, y1 = draw(page, 100, 80, 300, 230)
    wait_for_toast(page, "Saved photo.jpg")
    page.screenshot(path=str(artifacts_dir / "annotate-zoom4.png"), full_page=True)

    def saved():
        return records(data / "metadata.jsonl").get("photo.jpg", {}).get("objects")

    objects = wait_for(saved, timeout=20)
    assert objects, (data / "metadata.jsonl").read_text()
    (bbox,) = objects["bbox"]
    want = [1500 + x0 / sx, 1125 + y0 / sy, (x1 - x0) / sx, (y1 - y0) / sy]
    for got, expected in zip(bbox, want, strict=True):
        assert abs(got - expected) <= 1.0, (bbox, want)


def test_a_seed_format_folder_is_labelled_from_scratch(page: Page, streamlit_app, tmp_path: Path, make_image):
    """Ids in the records and no categories.json (OpsML's docs, HF imagefolder): classes named by id."""
    data = tmp_path / "seed"
    make_image(data / "0001.png", size=(640, 480))
    make_image(data / "0002.png", size=(640, 480))
    (data / "metadata.jsonl").write_text(
        '{"file_name": "0001.png", "objects": {"bbox": [[302.0, 109.0, 73.0, 52.0]], "categories": [3]}}\n'
        '{"file_name": "0002.png", "caption": "a second image"}\n'
    )
    base = streamlit_app(data)
    open_annotate(page, base, 1440, "split=train&file=0002.png")
    expect(page.get_by_text("new boxes are drawn as 3").first).to_be_visible()
    record_toasts(page)
    draw(page, 50, 50, 200, 160)
    wait_for_toast(page, "Saved 0002.png")
    wait_idle(page)
    saved = wait_for(lambda: records(data / "metadata.jsonl")["0002.png"].get("objects"), timeout=20)
    assert saved and saved["categories"] == [3]
    page.get_by_role("button", name="Add or name a class").click()
    page.get_by_label("Name class 3").fill("truck")
    page.get_by_label("Name class 3").press("Enter")
    wait_for_toast(page, "Class 3 is now 'truck'")
    assert json.loads((data / "categories.json").read_text()) == ["0", "1", "2", "truck"]


def test_sidebar_and_page_show_the_same_counts_after_each_save(page: Page, streamlit_app, tmp_path: Path, make_image):
    data = tmp_path / "plain"
    for i in range(6):
        make_image(data / f"{i}.png", size=(320, 240))
    (data / "categories.json").write_text('["thing"]')
    (data / "metadata.jsonl").write_text("")
    base = streamlit_app(data)
    open_annotate(page, base, 1440, "split=train&file=0.png")
    record_toasts(page)
    for i in range(5):
        draw(page, 40, 40, 160, 120)
        wait_for_toast(page, f"Saved {i}.png")
        wait_idle(page)
        expected = f"{i + 1} of 6 annotated"
        expect(page.get_by_test_id("stMain").get_by_text(re.compile(expected)).first).to_be_visible(timeout=15_000)
        expect(page.get_by_test_id("stSidebar").get_by_text(expected).first).to_be_visible(timeout=15_000)
        focus_page(page)
        page.keyboard.press("ArrowRight")
        expect(page.get_by_text(f"train/{i + 1}.png").first).to_be_visible(timeout=15_000)
        wait_idle(page)


def test_shortcut_sheet_undo_and_redo_by_keys(page: Page, streamlit_app, demo: Path, artifacts_dir: Path):
    base = streamlit_app(demo)
    open_annotate(page, base, 1440, "split=train&file=scene_005.jpg")
    focus_page(page)
    page.keyboard.press("Shift+?")
    expect(page.get_by_role("dialog").get_by_text("Keyboard shortcuts").first).to_be_visible(timeout=15_000)
    page.screenshot(path=str(artifacts_dir / "annotate-shortcuts.png"))
    page.keyboard.press("Escape")
    wait_idle(page)
    record_toasts(page)
    draw(page, 60, 60, 200, 200)
    wait_for_toast(page, "Saved scene_005.jpg")
    expect(page.get_by_text("Boxes (1)").first).to_be_visible(timeout=15_000)
    wait_idle(page)
    focus_page(page)
    page.keyboard.press("Control+z")
    expect(page.get_by_text("Boxes (0)").first).to_be_visible(timeout=15_000)
    wait_idle(page)
    focus_page(page)
    page.keyboard.press("Control+Shift+z")
    expect(page.get_by_text("Boxes (1)").first).to_be_visible(timeout=15_000)
    assert boxes_shown(page) == 1
