"""Authority is checked when a button is pressed, not when it was drawn (real Chromium, real server).

A reviewer's Approve button drawn before ``users set-role ... annotator``, ``users passwd`` or ``users
remove`` used to record the decision: callbacks ran with the user of the run that drew the button. Each
change is made with the Review page open; the press records nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from opsml_image.auth import Accounts
from opsml_image.demo import copy_demo
from opsml_image.review import Status
from opsml_image.usecases import review
from opsml_image.usecases.access import LOCAL_ADMIN
from opsml_image.usecases.workspace import open_workspace

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


def log_in(page: Page, base: str, name: str) -> None:
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text(f"Signed in as {name}").first).to_be_visible(timeout=30_000)


@pytest.mark.parametrize("change", ["set-role annotator", "passwd", "remove"])
def test_a_button_drawn_before_the_change_records_nothing(
    browser: Browser, streamlit_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(home))
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("ada", "admin", password=PASSWORD)
    accounts.add_user("rex", "reviewer", password=PASSWORD)
    data = copy_demo(tmp_path / "data")
    ws = open_workspace(data)
    key = next(iter(ws.store.keys(limit=1)))
    assert review.submit(ws, LOCAL_ADMIN, key, take_next=False).ok
    ws.close()
    base = streamlit_app(data, home=home)

    rex = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    log_in(rex, base, "rex")
    rex.goto(f"{base}/review")
    approve = rex.get_by_role("button", name="Approve")
    expect(approve.first).to_be_visible(timeout=30_000)

    if change == "set-role annotator":
        accounts.set_role("rex", "annotator")
    elif change == "passwd":
        accounts.set_password("rex", "another long password")
    else:
        accounts.remove_user("rex")
    approve.first.click()
    rex.wait_for_timeout(1500)
    expect(rex.get_by_text(f"Approved {key[1]}.")).to_have_count(0)

    ws = open_workspace(data)
    try:
        assert review.item(ws, key).status == Status.SUBMITTED
    finally:
        ws.close()
        accounts.close()
