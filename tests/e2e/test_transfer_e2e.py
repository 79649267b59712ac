"""End to end in real Chromium: import a COCO zip, see the report, open the dataset; export a split as a YOLO
zip and check the download. Screenshots transfer-import.png and transfer-export.png."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Locator, Page, expect

from conftest import wait_idle, write_image
from opsml_image import ImageDataset
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser


def coco_zip(folder: Path) -> Path:
    """A Roboflow-style COCO zip: 3 images, 3 boxes, one image missing its file (skipped when asked)."""
    coco = {
        "images": [{"id": i, "file_name": f"bird{i}.png", "width": 120, "height": 80} for i in (1, 2, 3, 4)],
        "annotations": [
            {
                "id": 10 + i,
                "image_id": i,
                "category_id": 7,
                "bbox": [10, 10, 40, 30],
                "area": 1200,
                "iscrowd": 0,
            }
            for i in (1, 2, 3)
        ],
        "categories": [{"id": 7, "name": "robin", "supercategory": "bird"}],
    }
    path = folder / "birds.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("birds/_annotations.coco.json", json.dumps(coco))
        for i in (1, 2, 4):
            image = write_image(folder / "img" / f"bird{i}.png", size=(120, 80), color=(30 * i, 90, 160))
            archive.write(image, f"birds/bird{i}.png")
    return path


def choose(panel: Locator, page: Page, label: str, option: str) -> None:
    panel.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_import_a_coco_zip_then_export_a_split_as_yolo(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
) -> None:
    home = tmp_path / "home"
    base = streamlit_app(copy_demo(tmp_path / "data"), home=home)
    upload = coco_zip(tmp_path / "up")
    page.set_viewport_size({"width": 1400, "height": 1100})
    page.goto(f"{base}/transfer")
    expect(page.get_by_role("heading", name="Import / Export")).to_be_visible(timeout=30_000)
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Import")
    panel.get_by_role("textbox", name="New dataset name").fill("birds")
    panel.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    expect(panel.get_by_text("birds.zip").first).to_be_visible(timeout=15_000)

    panel.get_by_role("button", name="Import").click()  # stops at the missing image, naming it
    expect(panel.get_by_text("The import stopped").first).to_be_visible(timeout=30_000)
    expect(panel.get_by_text("bird3.png").first).to_be_visible()
    assert not (home / "datasets" / "birds").exists()

    panel.get_by_text("Skip invalid items", exact=True).click()
    panel.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Imported 3 images and 2 boxes, 1 skipped.").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "transfer-import.png"), full_page=True)
    folder = home / "datasets" / "birds"
    dataset = ImageDataset(image_dir=folder)
    assert sorted(name for _, name in dataset.image_files()) == ["bird1.png", "bird2.png", "bird4.png"]
    assert dataset.category_names() == ["robin"]

    page.get_by_role("button", name="Open the new dataset").click()
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("birds", exact=True).first).to_be_visible(timeout=15_000)
    expect(sidebar.get_by_text("2 of 3 annotated").first).to_be_visible()

    # export the opened dataset's train split as YOLO
    page.goto(f"{base}/transfer")
    expect(page.get_by_role("heading", name="Import / Export")).to_be_visible(timeout=30_000)
    wait_idle(page)
    page.get_by_role("tab", name="Export").click()
    panel = page.get_by_role("tabpanel", name="Export")
    choose(panel, page, "Format", "YOLO (Ultralytics / Roboflow)")
    choose(panel, page, "Split", "train")
    panel.get_by_role("button", name="Prepare the download").click()
    button = panel.get_by_role("button", name="Download birds-train-yolo.zip", exact=False)
    expect(button).to_be_visible(timeout=30_000)
    expect(panel.get_by_text("Exported 3 images and 2 boxes.").first).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(artifacts_dir / "transfer-export.png"), full_page=True)
    with page.expect_download(timeout=30_000) as download:
        button.click()
    assert download.value.suggested_filename == "birds-train-yolo.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
        names = set(archive.namelist())
        config = yaml.safe_load(archive.read("data.yaml"))
        labels = archive.read("labels/train/bird1.txt").decode().split()
    assert {"images/train/bird1.png", "images/train/bird4.png", "labels/train/bird2.txt"} <= names
    assert config["names"] in (["robin"], {0: "robin"})
    assert labels[0] == "0" and [round(float(v), 6) for v in labels[1:]] == [0.25, 0.3125, 0.333333, 0.375]
