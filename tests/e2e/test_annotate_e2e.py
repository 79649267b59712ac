"""End to end in real Chromium: draw a box on Annotate, relabel it, go next and back, find it in metadata.jsonl."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from opsml_image.canvas_geometry import canvas_size
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CANVAS = 'div[data-testid="stBidiComponentIsolated"] canvas.upper-canvas'


def records(path: Path) -> dict[str, dict]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            out.setdefault(record["file_name"], record)
    return out


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_idle(page: Page) -> None:
    """Wait until the script has finished running (no 'Running...' status widget)."""
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=15_000)


def record_toasts(page: Page) -> None:
    """Keep the text of every toast the page shows in ``window.toastsSeen``.

    A toast lives 4 s; on a loaded machine a poll can miss it, a DOM observer cannot.
    """
    page.evaluate(
        """() => {
        window.toastsSeen = [];
        const grab = () => document.querySelectorAll('[data-testid="stToast"]').forEach((toast) => {
            if (!window.toastsSeen.includes(toast.innerText)) window.toastsSeen.push(toast.innerText);
        });
        new MutationObserver(grab).observe(document.body, {childList: true, subtree: true, characterData: true});
    }"""
    )


def wait_for_toast(page: Page, text: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "(text) => window.toastsSeen.some((seen) => seen.includes(text))", arg=text, timeout=timeout
    )


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return copy_demo(tmp_path / "data")


def test_draw_relabel_navigate_and_find_in_metadata(
    page: Page, streamlit_app, demo: Path, artifacts_dir: Path
):
    base = streamlit_app(demo)
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(f"{base}/annotate?split=train&file=scene_005.jpg")  # 480x640, no boxes yet
    canvas = page.locator(CANVAS)
    expect(canvas).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Boxes (0)").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "annotate-before.png"), full_page=True)

    # the canvas holds the image at the size the page chose; draw in its CSS pixels
    width, height = canvas_size((480, 640), 700, 560)
    box = canvas.bounding_box()
    assert box is not None
    assert abs(box["width"] - width) <= 1 and abs(box["height"] - height) <= 1, box
    sx, sy = width / 480, height / 640
    x0, y0, x1, y1 = 100, 200, 300, 400  # image pixels
    page.mouse.move(box["x"] + x0 * sx, box["y"] + y0 * sy)
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * sx, box["y"] + y1 * sy, steps=12)
    page.mouse.up()
    expect(page.get_by_text("Boxes (1)").first).to_be_visible(timeout=15_000)
    wait_idle(page)

    # relabel it, as in Label Studio: select it in the box list, then pick a class (car -> tree)
    row = page.locator(".st-key-annotate_box_0").first
    row.get_by_role("button", name="1").first.click()
    expect(page.get_by_text("box 1 is selected").first).to_be_visible(timeout=15_000)
    wait_idle(page)
    page.locator(".st-key-annotate_pick_2 button").first.click()
    expect(page.locator(".st-key-annotate_box_0").first.get_by_text("tree", exact=True)).to_be_visible(timeout=15_000)
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "annotate-drawn.png"), full_page=True)

    # hovering its row frames the box on the image
    page.locator(".st-key-annotate_box_0").first.hover()
    frame = page.get_by_test_id("boxHighlight")
    expect(frame).to_be_visible(timeout=5_000)
    shown, board = frame.bounding_box(), page.locator(CANVAS).bounding_box()
    assert shown and board
    expected = (board["x"] + x0 * sx, board["y"] + y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy)
    got = (shown["x"], shown["y"], shown["width"], shown["height"])
    assert all(abs(a - b) <= 2 for a, b in zip(got, expected, strict=True)), (got, expected)
    page.mouse.move(5, 5)
    expect(frame).to_be_hidden()

    # next and back
    page.get_by_role("button", name="Next Shortcut").click()
    wait_idle(page)
    expect(page.get_by_text("scene_006.jpg").first).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Previous Shortcut").click()
    wait_idle(page)
    expect(page.get_by_text("scene_005.jpg").first).to_be_visible(timeout=15_000)
    expect(page.get_by_text("Boxes (1)").first).to_be_visible()
    shutil.copy(artifacts_dir / "annotate-drawn.png", artifacts_dir / "annotate.png")

    # the AutoFlusher writes metadata.jsonl a couple of seconds after the save
    metadata = demo / "train" / "metadata.jsonl"

    def saved():
        record = records(metadata).get("scene_005.jpg", {})
        return record if record.get("objects", {}).get("categories") == [2] else None

    record = wait_for(saved, timeout=20)
    assert record, metadata.read_text()
    (bbox,) = record["objects"]["bbox"]
    # one CSS pixel on the canvas is 1/sx image pixels: the box lands within that of where it was drawn
    for got, want in zip(bbox, [x0, y0, x1 - x0, y1 - y0], strict=True):
        assert abs(got - want) <= 1.5 / min(sx, sy), (bbox, [x0, y0, x1 - x0, y1 - y0])


def test_keyboard_shortcuts_go_to_the_next_image_and_pick_a_class(page: Page, streamlit_app, demo: Path):
    base = streamlit_app(demo)
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(f"{base}/annotate?split=train&file=scene_001.jpg")
    expect(page.locator(CANVAS)).to_be_visible(timeout=30_000)
    wait_idle(page)
    page.get_by_role("heading", name="Annotate").click()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("train/scene_002.jpg").first).to_be_visible(timeout=15_000)
    wait_idle(page)
    page.get_by_role("heading", name="Annotate").click()
    page.keyboard.press("3")  # the third class of the label bar
    expect(page.get_by_text("new boxes are drawn as tree").first).to_be_visible(timeout=15_000)


def test_keyboard_shortcut_copies_the_previous_boxes(
    page: Page, streamlit_app, demo: Path, artifacts_dir: Path
):
    base = streamlit_app(demo)
    page.set_viewport_size({"width": 1500, "height": 1000})
    page.goto(f"{base}/annotate?split=train&file=scene_002.jpg")
    expect(page.locator(CANVAS)).to_be_visible(timeout=30_000)
    wait_idle(page)
    before = int(page.get_by_text(re.compile(r"^Boxes \(\d+\)$")).first.inner_text()[7:-1])
    page.get_by_role("heading", name="Annotate").click()
    record_toasts(page)
    page.keyboard.press("b")
    wait_for_toast(page, "5 boxes copied from scene_001.jpg")
    expect(page.get_by_text(f"Boxes ({before + 5})").first).to_be_visible(timeout=15_000)
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "annotate-copied.png"), full_page=True)
