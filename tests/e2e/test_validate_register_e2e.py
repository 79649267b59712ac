"""End to end in real Chromium: validate a dataset with seeded errors, apply fixes, register it, see the card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from conftest import wait_idle
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser


def seeded(tmp_path: Path) -> Path:
    data = copy_demo(tmp_path / "data")
    path = data / "train" / "metadata.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["objects"]["bbox"][0] = [600.0, 400.0, 100.0, 100.0]  # outside the 640x480 image
    lines[0] = json.dumps(first)
    lines.append(json.dumps({"file_name": "gone.jpg", "caption": "a missing image"}))
    path.write_text("\n".join(lines) + "\n")
    return data


def apply_fix(page: Page, code: str, label: str) -> None:
    page.get_by_role("button", name=f"Preview: {label}").click()  # the first groups start open
    apply = page.get_by_role("button", name="Apply 1 change(s)")
    expect(apply).to_be_visible(timeout=15_000)
    apply.click()
    wait_idle(page, 30_000)
    expect(page.get_by_test_id("stExpander").filter(has_text=code)).to_have_count(0, timeout=15_000)


def test_validate_fix_and_register(page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path):
    data = seeded(tmp_path)
    base = streamlit_app(data)
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(f"{base}/validate")  # never validated: it runs by itself
    expect(page.get_by_text("2 error(s): fix them before registering.").first).to_be_visible(timeout=30_000)
    wait_idle(page, 30_000)
    expect(page.get_by_role("button", name="Preview: Clip boxes to their image")).to_be_visible(
        timeout=15_000
    )
    page.wait_for_timeout(1500)  # the issue tables (canvas grids) drawing
    page.screenshot(path=str(artifacts_dir / "validate-errors.png"), full_page=True)

    apply_fix(page, "box.outside", "Clip boxes to their image")
    apply_fix(page, "image.missing", "Drop records of missing files")
    expect(page.get_by_text("Applied fixes").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "validate-fixed.png"), full_page=True)

    # the fix reached metadata.jsonl (flushed before the re-validation)
    records = [
        json.loads(line) for line in (data / "train" / "metadata.jsonl").read_text().splitlines() if line
    ]
    assert "gone.jpg" not in {r["file_name"] for r in records}
    first = next(r for r in records if r["file_name"] == "scene_001.jpg")
    assert first["objects"]["bbox"][0] == [600.0, 400.0, 40.0, 80.0]

    page.get_by_role("link", name="Register").click()
    expect(page.get_by_text("the dataset can be registered").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Nothing was registered from this folder yet").first).to_be_visible()
    page.get_by_label("Team").fill("vision")
    page.get_by_label("Contact email").fill("ann@example.com")
    page.get_by_role("button", name="Register").last.click()
    expect(page.get_by_text("Registered.").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Version history").first).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").filter(has_text="1.0.0")).to_be_visible()
    wait_idle(page, 30_000)
    page.screenshot(path=str(artifacts_dir / "register.png"), full_page=True)


def test_a_broken_line_is_mended_in_place_and_undone(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path
):
    data = copy_demo(tmp_path / "data")
    path = data / "train" / "metadata.jsonl"
    before = path.read_bytes()
    broken = '{"file_name": "scene_002.jpg", "caption": "<b>not bold</b> **either**",'
    path.write_bytes(before + broken.encode() + b"\n")
    base = streamlit_app(data)
    page.set_viewport_size({"width": 1500, "height": 1100})
    page.goto(f"{base}/validate")
    expect(page.get_by_text("1 error(s): fix them before registering.").first).to_be_visible(timeout=30_000)
    expect(page.get_by_text(broken, exact=True).first).to_be_visible()  # the raw line, as text (and the editor)
    wait_idle(page, 30_000)
    page.screenshot(path=str(artifacts_dir / "validate-broken-line.png"), full_page=True)
    page.get_by_label("The line as it should be (one JSON record)").fill(
        '{"file_name": "scene_002.jpg", "caption": "mended"}'
    )
    page.get_by_role("button", name="Save line").click()
    expect(page.get_by_text("No problems found: the dataset is valid.").first).to_be_visible(timeout=30_000)
    assert path.read_bytes() == before + b'{"file_name":"scene_002.jpg","caption":"mended"}\n'
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("1 error(s): fix them before registering.").first).to_be_visible(timeout=30_000)
    assert path.read_bytes() == before + broken.encode() + b"\n"
