"""End to end in real Chromium: create a dataset by uploading images; non-images and bombs are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from test_images import write_bomb_png

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser


def test_upload_images_into_a_new_dataset(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
) -> None:
    home = tmp_path / "home"
    base = streamlit_app(copy_demo(tmp_path / "data"), home=home)
    files = [
        write_image(tmp_path / "up" / "red.png", size=(120, 80)),
        write_image(tmp_path / "up" / "blue.jpg", size=(90, 60), color=(0, 0, 200)),
        tmp_path / "up" / "notes.png",
        write_bomb_png(tmp_path / "up" / "bomb.png"),
    ]
    files[2].write_text("not an image")
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{base}/new_dataset")
    expect(page.get_by_role("heading", name="New dataset")).to_be_visible(timeout=30_000)
    page.get_by_role("textbox", name="Dataset name").fill("uploaded")
    page.get_by_role("textbox", name="Classes (comma-separated, optional)").fill("red, blue")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(f) for f in files])
    expect(page.get_by_text("bomb.png").first).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Create dataset").click()

    expect(page.get_by_text("with 2 image(s) (2 refused)").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Refused — notes.png: not an image").first).to_be_visible()
    expect(
        page.get_by_text("Refused — bomb.png declares 900,000,000 pixels, more than the 100,000,000")
    ).to_be_visible()
    expect(page.get_by_text("0 of 2 annotated").first).to_be_visible()
    page.wait_for_timeout(1000)  # let the sidebar's progress bar finish its transition
    page.screenshot(path=str(artifacts_dir / "new-dataset.png"))

    folder = home / "datasets" / "uploaded"
    dataset = ImageDataset(image_dir=folder)
    assert sorted(name for _, name in dataset.image_files()) == ["blue.jpg", "red.png"]
    assert dataset.category_names() == ["red", "blue"]
    assert not (folder / "notes.png").exists() and not (folder / "bomb.png").exists()
