"""Every page of the app, in each role, in real Chromium against one team-mode server: an allowed page
renders its heading (and no exception), a forbidden one says it is not available and shows no heading; and
no page asks for anything outside the loopback (the autouse fixture ``_no_outside_requests`` fails the test
on any such request: a font, an icon, a script)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from opsml_image.auth import Accounts
from opsml_image.demo import copy_demo
from opsml_image.usecases.access import PAGE_ACTIONS

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
#: Each page's URL path (pages/_main.py) and heading.
PAGES = {
    "": "Browse",
    "annotate": "Annotate",
    "validate": "Validate",
    "register": "Register",
    "review": "Review",
    "team": "Team",
    "quality": "Quality",
    "new_dataset": "New dataset",
    "transfer": "Import / Export",
    "users": "Users",
    "history": "History",
}
_ANNOTATOR = {"", "annotate", "validate", "transfer"}
#: The pages each user's role allows (README, Team mode: Roles); the others say they are not available.
ALLOWED = {
    "anna": _ANNOTATOR,
    "rex": _ANNOTATOR | {"review", "team", "quality"},
    "ada": set(PAGES),
}
ROLES = {"ada": "admin", "rex": "reviewer", "anna": "annotator"}


def log_in(page: Page, name: str) -> None:
    """Fill the log-in form (on the page already) and send it."""
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def signed_in(page: Page, name: str) -> None:
    """Wait for the sign-in and the session cookie (the page posts a one-time code for it afterwards)."""
    expect(page.get_by_text(f"Signed in as {name} ({ROLES[name]})").first).to_be_visible(timeout=30_000)
    deadline = time.monotonic() + 15
    while not any(c["name"] == "opsml_session" for c in page.context.cookies()):
        assert time.monotonic() < deadline, f"{name} got no session cookie"
        page.wait_for_timeout(100)


def rendered(page: Page, path: str, allowed: bool) -> None:
    """Wait until the page has run to its end, then check what it shows."""
    heading = page.get_by_role("heading", name=PAGES[path], exact=True)
    refusal = page.get_by_text("This page is not available to you")
    expect(heading if allowed else refusal.first).to_be_visible(timeout=30_000)
    page.wait_for_timeout(200)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)  # the run has ended
    page.wait_for_load_state("networkidle")  # and what it shows has fetched all it asks for
    expect(page.get_by_test_id("stException")).to_have_count(0)
    if allowed:
        expect(refusal).to_have_count(0)
    else:
        expect(heading).to_have_count(0)
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)


def test_the_list_holds_every_page() -> None:
    assert {path or "browse" for path in PAGES} == set(PAGE_ACTIONS)  # a new page: add it to PAGES


def test_every_page_in_every_role(browser: Browser, streamlit_app, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    for name, role in ROLES.items():
        accounts.add_user(name, role, password=PASSWORD)
    accounts.close()
    base = streamlit_app(copy_demo(tmp_path / "data"), home=home)

    pages = {name: browser.new_context(viewport={"width": 1400, "height": 1000}).new_page() for name in ROLES}
    for page in pages.values():
        page.goto(base, wait_until="commit")
    for name, page in pages.items():  # one after the other: see the note at the end of this file
        log_in(page, name)
        signed_in(page, name)
    for path in PAGES:
        for page in pages.values():  # the three sessions load the page at once
            page.goto(f"{base}/{path}", wait_until="commit")
        for name, page in pages.items():
            rendered(page, path, path in ALLOWED[name])
    for page in pages.values():
        page.context.close()


# Three log-ins at the same moment fail here: ``Accounts.issue_session`` reads, then writes, in a deferred
# SQLite transaction, and a writer in between makes it fail at once with "database is locked" (the busy
# timeout does not apply to a read transaction's upgrade); the page shows "This app has encountered an error".
# Until it takes its write lock first (``auth.db.write``), this test signs its users in one at a time.
