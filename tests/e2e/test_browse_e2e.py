"""End to end in real Chromium: browse the demo with a filter, preview an image, open it in Annotate, "With
errors" without visiting Validate, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import wait_idle
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]


TILES_SHOWN = """(want) => {
    const deep = (root) => [...root.querySelectorAll('[data-testid=galleryTile] img')].concat(
        ...[...root.querySelectorAll('*')].filter((e) => e.shadowRoot).map((e) => deep(e.shadowRoot)));
    const images = deep(document);
    return images.length === want && images.every((i) => i.complete && i.naturalWidth > 0);
}"""


def test_browse_with_a_filter_and_open_in_annotate(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
):
    base = streamlit_app(copy_demo(tmp_path / "data"))
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(base)
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)
    images = page.get_by_test_id("galleryTile")
    expect(images).to_have_count(12, timeout=30_000)
    expect(page.get_by_text("1-12 of 12 images").first).to_be_visible()
    wait_idle(page)
    page.wait_for_function(TILES_SHOWN, arg=12)
    name = images.first.locator(".name")
    assert name.get_attribute("title") == "train/scene_001.jpg"  # the whole name on hover
    page.screenshot(path=str(artifacts_dir / "browse.png"))

    # filter: not annotated -> the two images without boxes
    page.get_by_role("combobox", name="Annotation").click()
    page.get_by_role("option", name="Not annotated").click()
    expect(images).to_have_count(2, timeout=15_000)
    expect(page.get_by_text("1-2 of 2 images").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "browse-filtered.png"))

    # statistics panel
    # of the 2 images without boxes: one histogram and two empty panels
    page.get_by_text("Show statistics").click()
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(1, timeout=15_000)
    expect(page.get_by_text("No categories used.").first).to_be_visible()
    expect(page.get_by_text("No boxes.").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "browse-statistics.png"))

    # every image links to its deep link; the button opens Annotate in this tab
    link = images.first.locator("a.shot")
    assert "/annotate?split=train&file=scene_005.jpg" in (link.get_attribute("href") or "")
    images.first.get_by_role("button", name="Annotate").click()
    expect(page.get_by_role("heading", name="Annotate")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("train/scene_005.jpg").first).to_be_visible(timeout=15_000)
    assert "file=scene_005.jpg" in page.url


def test_page_urls_open_their_page_without_a_not_found_dialog(page: Page, streamlit_app, tmp_path: Path):
    base = streamlit_app(copy_demo(tmp_path / "data"))
    for path, heading in (("browse", "Browse"), ("validate", "Validate"), ("", "Browse")):
        page.goto(f"{base}/{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)
        wait_idle(page)
        expect(page.get_by_text("Page not found")).to_have_count(0)
    page.goto(f"{base}/browse")
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)
    page.wait_for_url(
        lambda url: url.rstrip("/") == base.rstrip("/"), timeout=15_000
    )  # the default page's URL


def test_export_downloads_the_coco_json_of_a_split(page: Page, streamlit_app, tmp_path: Path):
    import json

    base = streamlit_app(copy_demo(tmp_path / "data"))
    page.goto(base)
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)
    wait_idle(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Export annotations").click()
    sidebar.get_by_role("button", name="Prepare COCO JSON").click()
    download_button = sidebar.get_by_role("button", name=re.compile(r"Download train COCO JSON"))
    expect(download_button).to_be_visible(timeout=30_000)
    with page.expect_download(timeout=30_000) as download:
        download_button.click()
    assert download.value.suggested_filename == "data-train-coco.json"
    coco = json.loads(Path(download.value.path()).read_text())
    assert len(coco["images"]) == 9 and [c["name"] for c in coco["categories"]] == ["car", "house", "tree"]


def test_preview_shows_the_image_large_with_its_boxes(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
):
    data = copy_demo(tmp_path / "data")
    (data / "train" / "scene_003.jpg").unlink()
    base = streamlit_app(data)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(base)
    tiles = page.get_by_test_id("galleryTile")
    expect(tiles).to_have_count(12, timeout=30_000)
    wait_idle(page)
    tiles.nth(1).get_by_role("button", name="Preview").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("train/scene_002.jpg").first).to_be_visible(timeout=15_000)
    expect(dialog.get_by_test_id("stImage")).to_have_count(1)
    expect(dialog.get_by_test_id("stDataFrame")).to_have_count(1)  # its 7 boxes as class, x, y, w, h
    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=dialog] [data-testid=stImage] img')]"
        ".every((i) => i.complete && i.naturalWidth >= 640)"
    )
    page.screenshot(path=str(artifacts_dir / "browse-preview.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0, timeout=15_000)

    # a click on the image previews too; a missing file is named relative to the dataset
    tiles.nth(2).locator("a.shot").click()
    expect(dialog.get_by_text("image not found: train/scene_003.jpg").first).to_be_visible(timeout=15_000)
    assert str(data) not in dialog.inner_text()
    dialog.get_by_role("button", name="Annotate this image").click()
    expect(page.get_by_role("heading", name="Annotate")).to_be_visible(timeout=15_000)
    assert "file=scene_003.jpg" in page.url


def test_with_errors_is_current_without_visiting_validate(page: Page, streamlit_app, tmp_path: Path):
    import json

    data = copy_demo(tmp_path / "data")
    path = data / "train" / "metadata.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["objects"]["bbox"][0] = [600.0, 10.0, 100.0, 50.0]  # outside the 640 px wide image
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    base = streamlit_app(data)
    page.goto(base)
    tiles = page.get_by_test_id("galleryTile")
    expect(tiles).to_have_count(12, timeout=30_000)
    page.get_by_text("With errors").click()
    expect(tiles).to_have_count(1, timeout=30_000)  # the background validation found it
    expect(tiles.first.locator(".name")).to_have_text("train/scene_001.jpg")
