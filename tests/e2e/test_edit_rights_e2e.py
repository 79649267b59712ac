"""End to end in real Chromium, team mode with two annotator contexts: annotator B opens annotator A's leased
image by its URL and cannot change it (told so, the name shown as text: A is called ``www.evil-link.test``,
which Markdown would make a link); B's drawing and B's Copy previous boxes save nothing and A's work stays."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_annotate_e2e import CANVAS, record_toasts, wait_for, wait_for_toast, wait_idle
from test_annotate_view_e2e import draw
from test_review_e2e import PASSWORD, current, handed_image, log_in

from opsml_image.auth import Accounts
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo
from opsml_image.review import ReviewBoard
from opsml_image.store import WorkStore

pytestmark = pytest.mark.browser

A = "www.evil-link.test"
LEASED = re.compile(r"is leased to www\u2060?\.evil-link\.test, who is annotating it")


@pytest.fixture
def team_app(streamlit_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(home))  # this test reads the store the server writes
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    for name in (A, "bo"):
        accounts.add_user(name, "annotator", password=PASSWORD)
    accounts.close()
    data = copy_demo(tmp_path / "data")
    return streamlit_app(data, home=home), data


def signed_in(page: Page, base: str, name: str) -> None:
    """Log in and wait for the session cookie (a page opened before it is set would ask to log in again)."""
    log_in(page, base, name)
    assert wait_for(lambda: any(c["name"] == "opsml_session" for c in page.context.cookies()), timeout=15)


def test_an_annotator_cannot_change_anothers_leased_image(
    browser: Browser, team_app: tuple[str, Path], artifacts_dir: Path
):
    base, data = team_app
    a, b = (browser.new_context(viewport={"width": 1440, "height": 1000}).new_page() for _ in range(2))
    signed_in(a, base, A)
    key = handed_image(a, base)
    record_toasts(a)
    draw(a, 40, 40, 160, 140)
    wait_for_toast(a, f"Saved {key[1]}: 1 box(es) added")
    wait_idle(a)
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        kept, saves = store.get(*key), len(store.history(100, key=key))
    assert kept is not None and len(kept.boxes) == 1 and saves == 1

    signed_in(b, base, "bo")
    b.goto(f"{base}/annotate?split={key[0]}&file={key[1]}")
    expect(b.locator(CANVAS).first).to_be_attached(timeout=30_000)
    wait_idle(b)
    record_toasts(b)
    expect(b.get_by_text("You cannot change this image").first).to_be_visible(timeout=15_000)
    expect(b.get_by_text(LEASED).first).to_be_visible()
    expect(
        b.get_by_text(re.compile(r"leased to www\u2060?\.evil-link\.test$")).first
    ).to_be_visible()  # status
    assert b.locator("a[href*='evil-link']").count() == 0  # a name, never a link
    assert "lease expired" not in b.content()

    draw(b, 200, 260, 320, 380)  # the canvas is read-only for B
    b.wait_for_timeout(1500)
    wait_idle(b)
    b.get_by_role("button", name="Copy previous boxes").click()  # a save the page does not hold back
    expect(
        b.get_by_text(re.compile(r"Not saved: .* is leased to www\u2060?\.evil-link\.test")).first
    ).to_be_visible(timeout=15_000)
    wait_idle(b)
    b.screenshot(path=str(artifacts_dir / "edit-rights-leased-to-another.png"), full_page=True)
    assert b.evaluate("window.toastsSeen.filter((t) => t.includes('Saved')).length") == 0

    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        assert store.get(*key) == kept and len(store.history(100, key=key)) == saves  # A's work intact
        item = ReviewBoard(store).item(key)
    assert item.lease_user == A and item.annotator == A

    b.get_by_role("button", name="Next Shortcut").click()  # B gets an image of their own
    wait_idle(b)
    expect(b.get_by_text("leased to bo").first).to_be_visible(timeout=15_000)
    assert current(b) != key
