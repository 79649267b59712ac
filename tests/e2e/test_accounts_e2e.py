"""End to end in real Chromium, team mode: several users in their own browser contexts, the session cookie
surviving a reload and ending at Log out, forbidden pages by URL, and data planted with HTML/Markdown shown
as text (no <img>, no bold, no fetch of a URL from the data)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import wait_idle
from opsml_image.auth import Accounts
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo
from opsml_image.store import WorkStore

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
PLANTS = ("<img src=x onerror=alert(1)>", "**bold**", "![t](http://127.0.0.1:9/x.png)")
LINKS = "http://127.0.0.1:9/link a@b.co www.example.org"  # GitHub Markdown would make links of these
BROKEN_LINE = "{broken " + " ".join(PLANTS) + " " + LINKS  # not JSON: Validate shows it raw


@pytest.fixture
def team_app(streamlit_app, tmp_path: Path) -> tuple[str, Accounts]:
    """The app in team mode (base URL) and its accounts (ada admin, rex reviewer, anna annotator)."""
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    for name, role in (("ada", "admin"), ("rex", "reviewer"), ("anna", "annotator")):
        accounts.add_user(name, role, password=PASSWORD)
    yield str(streamlit_app(copy_demo(tmp_path / "data"), home=home)), accounts
    accounts.close()


def log_in(page: Page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def signed_in(page: Page, label: str) -> None:
    expect(page.get_by_text(f"Signed in as {label}").first).to_be_visible(timeout=30_000)


def test_users_in_their_own_browsers(browser: Browser, team_app: tuple[str, Accounts], artifacts_dir: Path):
    base, accounts = team_app
    anna_ctx, ada_ctx = browser.new_context(), browser.new_context()
    anna, ada = anna_ctx.new_page(), ada_ctx.new_page()
    anna.set_viewport_size({"width": 1400, "height": 1000})

    # nothing but the form before logging in; a wrong password says so
    anna.goto(base)
    expect(anna.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    expect(anna.get_by_test_id("stMetric")).to_have_count(0)
    log_in(anna, base, "anna", "wrong password")
    expect(anna.get_by_text("Wrong user name or password.").first).to_be_visible(timeout=15_000)
    anna.screenshot(path=str(artifacts_dir / "login-wrong-password.png"))

    log_in(anna, base, "anna")
    signed_in(anna, "anna (annotator)")

    # a deep link while logged out shows the form (no "page not found"); after logging in, that page
    deep_ctx = browser.new_context()
    deep = deep_ctx.new_page()
    deep.goto(f"{base}/validate")
    expect(deep.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    expect(deep.get_by_text("Page not found")).to_have_count(0)
    deep.get_by_role("textbox", name="Username").fill("rex")
    deep.get_by_role("textbox", name="Password").fill(PASSWORD)
    deep.get_by_role("button", name="Log in").click()
    expect(deep.get_by_role("heading", name="Validate")).to_be_visible(timeout=30_000)
    deep_ctx.close()
    log_in(ada, base, "ada")
    signed_in(ada, "ada (admin)")
    expect(anna.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)
    wait_idle(anna)
    anna.screenshot(path=str(artifacts_dir / "login-annotator-browse.png"))

    # the cookie: SameSite=Strict, and a reload keeps the session
    cookie = next(c for c in anna_ctx.cookies() if c["name"] == "opsml_session")
    assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    anna.reload()
    signed_in(anna, "anna (annotator)")

    # the navigation shows what the role allows; a page by URL that it forbids says so
    sidebar = anna.get_by_test_id("stSidebarNav")
    expect(sidebar.get_by_text("Annotate").first).to_be_visible()
    expect(sidebar.get_by_text("Register")).to_have_count(0)
    expect(sidebar.get_by_text("Users")).to_have_count(0)
    for path in ("register", "new_dataset", "users", "history"):
        anna.goto(f"{base}/{path}")
        expect(anna.get_by_text("This page is not available to you").first).to_be_visible(timeout=30_000)
        expect(anna.get_by_test_id("stDataFrame")).to_have_count(0)
    anna.screenshot(path=str(artifacts_dir / "login-forbidden-page.png"))
    ada.goto(f"{base}/users")
    expect(ada.get_by_role("heading", name="Users")).to_be_visible(timeout=30_000)
    expect(ada.get_by_test_id("stDataFrame")).to_have_count(1)

    # a role change applies at the user's next action; a removed user is logged out at the next one
    rex_ctx = browser.new_context()
    rex = rex_ctx.new_page()
    log_in(rex, base, "rex")
    signed_in(rex, "rex (reviewer)")
    accounts.set_role("rex", "admin")
    rex.get_by_test_id("stSidebarNav").get_by_text("Validate").click()
    signed_in(rex, "rex (admin)")
    expect(rex.get_by_test_id("stSidebarNav").get_by_text("Register").first).to_be_visible()
    accounts.remove_user("rex")
    rex.get_by_test_id("stSidebarNav").get_by_text("Browse").click()
    expect(rex.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)

    # Log out ends the session server-side: the old cookie no longer works
    old = next(c for c in anna_ctx.cookies() if c["name"] == "opsml_session")
    anna.goto(base)
    signed_in(anna, "anna (annotator)")
    anna.get_by_role("button", name="Log out").click()
    expect(anna.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    anna.reload()
    expect(anna.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    replay = browser.new_context()
    replay.add_cookies([{**old}])
    copy = replay.new_page()
    copy.goto(base)
    expect(copy.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    signed = ada.get_by_text("Signed in as ada (admin)")
    ada.reload()
    expect(signed).to_be_visible(timeout=30_000)  # other users' sessions go on
    for ctx in (anna_ctx, ada_ctx, rex_ctx, replay):
        ctx.close()


def plant(data: Path) -> None:
    """A class name, a caption and a broken metadata line made of HTML and Markdown, as any annotator could
    type them (the store is the app's: ``OPSML_IMAGE_HOME`` is set to its home)."""
    (data / "categories.json").write_text(json.dumps(["car", PLANTS[0], f"{PLANTS[1]} {PLANTS[2]}", LINKS]))
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        store.sync()
        first = store.get("train", "scene_001.jpg")
        assert first is not None
        caption = " ".join(PLANTS)
        store.save(dataclasses.replace(first, caption=caption), store.version("train", "scene_001.jpg"))
        store.flush()
    with (data / "train" / "metadata.jsonl").open("a", encoding="utf-8") as metadata:
        metadata.write(BROKEN_LINE + "\n")  # line.json: Validate shows the raw line


def no_html_from_data(page: Page, where: str) -> None:
    """Nothing the planted strings hold became an element: no <img>, bold, image or link."""
    html = page.content()
    assert '<img src="x"' not in html and "<img src=x" not in html.replace("&lt;img src=x", ""), where
    assert page.locator("img[src='x']").count() == 0, where
    assert page.locator("strong", has_text="bold").count() == 0, where
    assert page.locator("img[src*='127.0.0.1:9']").count() == 0, where
    links = "a[href*='127.0.0.1:9'], a[href^='mailto:'], a[href*='example.org']"
    assert page.locator(links).count() == 0, where


def test_html_and_markdown_from_data_is_shown_as_text(
    page: Page, streamlit_app, tmp_path: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    data = copy_demo(tmp_path / "data")
    home = tmp_path / "home"
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(home))  # the app's store is the one planted in
    plant(data)
    broken_at = (data / "train" / "metadata.jsonl").read_text().count("\n")
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if ":9/" in request.url else None)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = streamlit_app(data, home=home)
    page.set_viewport_size({"width": 1500, "height": 1100})
    for path in ("", "annotate?split=train&file=scene_001.jpg", "validate"):
        page.goto(f"{base}/{path}")
        page.wait_for_timeout(500)
        wait_idle(page)
        page.wait_for_timeout(1500)
        where = path or "browse"
        if path == "":  # shown, literally: the gallery tile's classes, then the caption in the preview
            tile = page.locator("figure", has_text="train/scene_001.jpg")
            expect(tile.get_by_text(f"5 boxes · {PLANTS[0]}, {PLANTS[1]} {PLANTS[2]}", exact=True)).to_be_visible()
            no_html_from_data(page, where)
            page.locator("button.preview[title='Preview train/scene_001.jpg']").click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text(" ".join(PLANTS), exact=True)).to_be_visible(timeout=15_000)
            wait_idle(page)
            page.screenshot(path=str(artifacts_dir / "planted-html-browse.png"))
            where = "browse preview"
        if path.startswith("annotate"):  # shown, literally
            page.get_by_text("Caption and image categories").click()  # the caption is shown on demand
            caption = page.get_by_role("textbox", name="Caption")
            expect(caption).to_have_value(" ".join(PLANTS))
            expect(page.get_by_text(PLANTS[0]).first).to_be_visible()
            expect(page.get_by_text(PLANTS[1], exact=False).first).to_be_visible()
            page.screenshot(path=str(artifacts_dir / "planted-html-shown-as-text.png"))
        if path == "validate":  # shown, literally: the broken line's issue, then the line itself
            issue = page.get_by_text(f"train/metadata.jsonl, line {broken_at}: ", exact=False)
            expect(issue.first).to_be_visible()
            expect(page.get_by_test_id("stText").get_by_text(BROKEN_LINE, exact=True)).to_be_visible()
            expect(page.get_by_role("textbox", name="The line as it should be")).to_have_value(BROKEN_LINE)
            page.screenshot(path=str(artifacts_dir / "planted-html-validate.png"))
        no_html_from_data(page, where)
    assert fetched == [] and dialogs == []
