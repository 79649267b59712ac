"""End to end in real Chromium, two browser contexts on one image (single-user mode: both are the local user,
so no lease stands between them): A draws a box; B, whose canvas still shows the image without it, draws one
too. B is told, sees the image as it is now with A's box and B's own box dashed, and "Add my 1 box again"
adds it: both boxes remain. Captions likewise. Every user action is at most one save (the history)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_annotate_e2e import CANVAS, record_toasts, records, wait_for, wait_for_toast, wait_idle
from test_annotate_view_e2e import draw

from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo
from opsml_image.store import WorkStore

pytestmark = pytest.mark.browser

KEY = ("train", "scene_005.jpg")  # 480 x 640, no boxes, no caption
URL = "annotate?split=train&file=scene_005.jpg"


@pytest.fixture
def shared(streamlit_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """The app in single-user mode on a demo copy, its home shared with this test (to read the store)."""
    home = tmp_path / "home"
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(home))
    data = copy_demo(tmp_path / "data")
    return streamlit_app(data, home=home), data


def history(data: Path) -> list[tuple[str, str | None]]:
    """The image's saves, oldest first: (action, user)."""
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        return [(c.action, c.user) for c in reversed(store.history(100, key=KEY))]


def stored_boxes(data: Path) -> list[list[float]]:
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        found = store.get(*KEY)
        assert found is not None
        return [b.as_bbox() for b in found.boxes]


def open_both(browser: Browser, base: str) -> tuple[Page, Page]:
    pages = []
    for _ in range(2):
        page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
        page.goto(f"{base}/{URL}")
        expect(page.locator(CANVAS).first).to_be_visible(timeout=30_000)
        wait_idle(page)
        record_toasts(page)
        pages.append(page)
    return pages[0], pages[1]


def test_two_people_draw_on_one_image_and_nothing_is_lost(
    browser: Browser, shared: tuple[str, Path], artifacts_dir: Path
):
    base, data = shared
    a, b = open_both(browser, base)
    expect(b.get_by_text("Boxes (0)").first).to_be_visible()

    draw(a, 40, 40, 140, 120)
    wait_for_toast(a, "Saved scene_005.jpg: 1 box(es) added")
    wait_idle(a)
    assert len(stored_boxes(data)) == 1 and len(history(data)) == 1
    a_box = stored_boxes(data)[0]

    draw(b, 200, 260, 320, 380)  # on a canvas that does not show A's box
    expect(b.get_by_text("changed elsewhere after you opened it").first).to_be_visible(timeout=15_000)
    expect(b.get_by_text("Your 1 new box(es) were not saved").first).to_be_visible(timeout=15_000)
    expect(b.get_by_text("Boxes (1)").first).to_be_visible(timeout=15_000)  # A's box, shown to B now
    wait_idle(b)
    b.screenshot(path=str(artifacts_dir / "two-editors-stale-drawing.png"), full_page=True)
    assert stored_boxes(data) == [a_box] and len(history(data)) == 1  # refused: nothing stored, A's box kept

    b.get_by_role("button", name="Add my 1 box again").click()
    wait_for_toast(b, "Saved scene_005.jpg: 1 box(es) added again")
    expect(b.get_by_text("Boxes (2)").first).to_be_visible(timeout=15_000)
    wait_idle(b)
    expect(b.get_by_role("button", name="Add my 1 box again")).to_have_count(0)
    boxes = stored_boxes(data)
    assert len(boxes) == 2 and boxes[0] == a_box and boxes[1][0] > a_box[0] + 50
    assert [action for action, _ in history(data)] == ["save", "save"]  # A's draw, B's redo: one save each

    def flushed():
        record = records(data / "train" / "metadata.jsonl").get(KEY[1], {})
        return record if len(record.get("objects", {}).get("bbox", [])) == 2 else None

    assert wait_for(flushed, timeout=20), (data / "train" / "metadata.jsonl").read_text()


def test_two_people_caption_one_image_and_nothing_is_lost(
    browser: Browser, shared: tuple[str, Path], artifacts_dir: Path
):
    base, data = shared
    a, b = open_both(browser, base)
    for page in (a, b):
        page.get_by_text("Caption and image categories").click()
        expect(page.get_by_role("textbox", name="Caption")).to_be_visible(timeout=15_000)
        wait_idle(page)

    caption = a.get_by_role("textbox", name="Caption")
    caption.fill("a red car")
    caption.press("Tab")
    wait_for_toast(a, "Saved scene_005.jpg: caption")
    wait_idle(a)

    caption = b.get_by_role("textbox", name="Caption")
    caption.fill("a street at night")
    caption.press("Tab")
    expect(b.get_by_text("changed elsewhere after you opened it").first).to_be_visible(timeout=15_000)
    expect(b.get_by_text("Your caption was not saved: a street at night").first).to_be_visible(timeout=15_000)
    expect(b.get_by_role("textbox", name="Caption")).to_have_value(
        "a red car", timeout=15_000
    )  # as it is now
    wait_idle(b)
    b.screenshot(path=str(artifacts_dir / "two-editors-stale-caption.png"), full_page=True)
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        assert store.get(*KEY).caption == "a red car"  # type: ignore[union-attr]
    assert len(history(data)) == 1

    b.get_by_role("button", name="Save my caption again").click()
    wait_for_toast(b, "Saved scene_005.jpg: caption")
    expect(b.get_by_role("textbox", name="Caption")).to_have_value("a street at night", timeout=15_000)
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        assert store.get(*KEY).caption == "a street at night"  # type: ignore[union-attr]
    assert len(history(data)) == 2
