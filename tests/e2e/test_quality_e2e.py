"""End to end in real Chromium: a reviewer opens Quality (team mode), sees the leak planted across splits
with its example tiles, and follows a finding's link to the image on Annotate (the file name, with a space
and a '#', URL-encoded)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from opsml_image.auth import Accounts
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
LEAK = "leak copy #1.jpg"
CANVAS = 'div[data-testid="stBidiComponentIsolated"] canvas.upper-canvas'


def wait_idle(page: Page) -> None:
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)


@pytest.fixture
def quality_app(streamlit_app, tmp_path: Path) -> str:
    """Team mode, rex a reviewer; validation holds a copy of train/scene_002.jpg."""
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("rex", "reviewer", password=PASSWORD)
    accounts.close()
    data = copy_demo(tmp_path / "data")
    (data / "validation" / LEAK).write_bytes((data / "train" / "scene_002.jpg").read_bytes())
    with (data / "validation" / "metadata.jsonl").open("a") as handle:
        handle.write(json.dumps({"file_name": LEAK}) + "\n")
    return str(streamlit_app(data, home=home))


def test_a_reviewer_follows_a_finding_to_annotate(browser: Browser, quality_app: str, artifacts_dir: Path):
    base = quality_app
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill("rex")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Signed in as rex (reviewer)").first).to_be_visible(timeout=30_000)
    wait_idle(page)

    page.get_by_role("link", name="Quality").click()  # in the navigation for reviewers
    expect(page.get_by_role("heading", name="Quality", exact=True)).to_be_visible(timeout=30_000)
    group = page.get_by_test_id("stExpander").filter(has_text="leakage")
    expect(group).to_have_count(1, timeout=60_000)
    expect(group).to_contain_text("1 · the same or a near-identical image in two splits")
    wait_idle(page)
    tile = page.locator(f'figure[data-testid="galleryTile"]:has(div.name[title="validation/{LEAK}"])')
    expect(tile).to_have_count(1, timeout=15_000)
    href = tile.locator("a.shot").get_attribute("href")
    assert href == "/annotate?split=validation&file=leak%20copy%20%231.jpg"
    page.screenshot(path=str(artifacts_dir / "quality-leakage.png"), full_page=True)

    tile.locator("button.annotate").click()
    page.wait_for_url("**/annotate?**", timeout=30_000)
    query = parse_qs(urlparse(page.url).query)
    assert (query["split"], query["file"]) == (["validation"], [LEAK])
    page.wait_for_selector(CANVAS, state="attached", timeout=30_000)
    expect(page.get_by_text(f"validation/{LEAK}").first).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)
