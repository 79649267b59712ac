"""End to end in real Chromium: browse the demo with a filter, open an image in Annotate, screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]


def wait_idle(page: Page) -> None:
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=15_000)


def test_browse_with_a_filter_and_open_in_annotate(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
):
    base = streamlit_app(copy_demo(tmp_path / "data"))
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(base)
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)
    images = page.get_by_test_id("stImage")
    expect(images).to_have_count(12, timeout=30_000)
    expect(page.get_by_text("1-12 of 12 images").first).to_be_visible()
    wait_idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stImage] img')].every(i => i.complete && i.naturalWidth)"
    )
    page.screenshot(path=str(artifacts_dir / "browse.png"))

    # filter: not annotated -> the two images without boxes
    page.get_by_role("combobox", name="Annotation").click()
    page.get_by_role("option", name="Not annotated").click()
    expect(images).to_have_count(2, timeout=15_000)
    expect(page.get_by_text("1-2 of 2 images").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "browse-filtered.png"))

    # statistics panel
    page.get_by_text("Show statistics").click()
    expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(3, timeout=15_000)
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "browse-statistics.png"))

    # every image links to its deep link; the button opens Annotate in this tab
    link = page.get_by_test_id("stImageLink").first
    assert "/annotate?split=train&file=scene_005.jpg" in (link.get_attribute("href") or "")
    page.get_by_role("button", name="Annotate").first.click()
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
