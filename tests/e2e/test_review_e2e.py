"""End to end in real Chromium, team review with three browser contexts (two annotators, one reviewer):
the two annotators are handed different images; one submits (S); the reviewer rejects with a comment and an
issue tag (R); the annotator sees the comment on the image handed back to her, fixes it and submits again;
the reviewer approves (A); ``register --approved-only`` registers exactly the approved image."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import wait_idle
from opsml_image.auth import Accounts
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture
def review_app(streamlit_app, tmp_path: Path) -> tuple[str, Path, Path]:
    """The app in team mode: anna and bo annotate, rex reviews. Returns (base URL, data folder, home)."""
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    for name, role in (("anna", "annotator"), ("bo", "annotator"), ("rex", "reviewer")):
        accounts.add_user(name, role, password=PASSWORD)
    accounts.close()
    data = copy_demo(tmp_path / "data")
    return str(streamlit_app(data, home=home)), data, home


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Signed in as {name}").first).to_be_visible(timeout=30_000)


def handed_image(page: Page, base: str) -> tuple[str, str]:
    """Open Annotate without a file: the image leased to this user (from the URL it sets)."""
    page.goto(f"{base}/annotate")
    expect(page.get_by_text("Review status:").first).to_be_visible(timeout=30_000)
    wait_idle(page, 20_000)
    return current(page)


def current(page: Page) -> tuple[str, str]:
    query = parse_qs(urlparse(page.url).query)
    return query["split"][0], query["file"][0]


def press(page: Page, key: str) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")  # off any text field
    page.keyboard.press(key)


def test_two_annotators_and_a_reviewer(browser: Browser, review_app, artifacts_dir: Path):
    base, data, home = review_app
    pages = {}
    for name in ("anna", "bo", "rex"):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pages[name] = context.new_page()
        log_in(pages[name], base, name)
    anna, bo, rex = pages["anna"], pages["bo"], pages["rex"]

    first = handed_image(anna, base)
    other = handed_image(bo, base)
    assert first != other
    expect(anna.get_by_text("leased to anna").first).to_be_visible()

    press(anna, "s")  # Submit for review
    expect(anna.get_by_text(f"Submitted {first[1]} for review.").first).to_be_visible(timeout=20_000)
    wait_idle(anna, 20_000)
    assert current(anna) not in (first, other)

    rex.goto(f"{base}/review")
    expect(rex.get_by_text(f"{first[0]}/{first[1]} · by anna").first).to_be_visible(timeout=30_000)
    rex.get_by_label("Comment").fill("the road sign has no box")
    rex.get_by_role("button", name="missing box").click()
    wait_idle(rex, 20_000)
    press(rex, "r")  # Reject
    expect(rex.get_by_text(f"Rejected {first[1]}.").first).to_be_visible(timeout=20_000)
    rex.screenshot(path=str(artifacts_dir / "review-after-reject.png"))

    # anna's rejected image comes back to her first, with the comment on top
    assert handed_image(anna, base) == first
    expect(anna.get_by_text("Rejected by rex (missing box): the road sign has no box").first).to_be_visible()
    anna.screenshot(path=str(artifacts_dir / "review-annotator-sees-comment.png"))
    anna.get_by_text("Caption and image categories").click()  # the caption is shown on demand
    caption = anna.get_by_role("textbox", name="Caption")
    caption.fill("fixed: the road sign is boxed")
    caption.press("Tab")
    expect(anna.get_by_text(f"Saved {first[1]}").first).to_be_visible(timeout=20_000)
    wait_idle(anna, 20_000)
    press(anna, "s")
    expect(anna.get_by_text(f"Submitted {first[1]} for review.").first).to_be_visible(timeout=20_000)

    rex.goto(f"{base}/review")
    expect(rex.get_by_text(f"{first[0]}/{first[1]} · by anna").first).to_be_visible(timeout=30_000)
    wait_idle(rex, 20_000)
    press(rex, "a")  # Approve
    expect(rex.get_by_text(f"Approved {first[1]}.").first).to_be_visible(timeout=20_000)
    expect(rex.get_by_text("Nothing waits for review").first).to_be_visible(timeout=20_000)

    # register --approved-only: exactly the approved image, with its fixed caption
    env = {**os.environ, "OPSML_IMAGE_HOME": str(home)}
    cli = [sys.executable, "-m", "opsml_image"]
    done = subprocess.run(
        [*cli, "register", str(data), "--name", "reviewed", "--team", "vision", "--email", "a@b.co",
         "--approved-only", "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout.strip().splitlines()[-1])
    assert card["facts"]["images"] == 1
    assert card["tags"]["review.approved"] == "1" and card["tags"]["review.reviewers"] == "rex"
    restored = home / "restored"
    done = subprocess.run(
        [*cli, "cards", "download", "reviewed", str(restored)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    got = ImageDataset(image_dir=restored).annotations()
    assert list(got) == [first]
    assert got[first].caption == "fixed: the road sign is boxed"
