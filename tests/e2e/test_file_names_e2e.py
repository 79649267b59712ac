"""End to end in real Chromium: any file name can be annotated (``__``, spaces, commas, brackets, non-Latin
letters; widget keys carry a hash of the name, never the name), Next goes on from each, a team annotator
handed such an image is not stuck; an unknown split in the URL is a readable message and no traceback in
the server log."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect
from test_annotate_e2e import CANVAS, record_toasts, records, wait_for, wait_for_toast, wait_idle
from test_annotate_view_e2e import draw
from test_edit_rights_e2e import signed_in
from test_review_e2e import PASSWORD, current, handed_image

import conftest
from opsml_image.auth import Accounts

pytestmark = pytest.mark.browser

NAMES = sorted(["img__001.jpg", "a photo, 2 (copy).jpg", "фото 日本__é.jpg"])


def folder(root: Path, make_image) -> Path:  # noqa: ANN001 - the make_image helper
    for i, name in enumerate(NAMES):
        make_image(root / name, size=(320, 240), color=(40 + 60 * i, 90, 160))
    (root / "categories.json").write_text('["thing"]')
    (root / "metadata.jsonl").write_text("")
    return root


def server_log(request: pytest.FixtureRequest) -> str:
    return "".join(path.read_text(errors="replace") for path in request.node.stash[conftest._LOGS_KEY])


def test_every_file_name_gets_a_box_and_next_works(
    page: Page, streamlit_app, tmp_path: Path, make_image, request: pytest.FixtureRequest
):
    data = folder(tmp_path / "names", make_image)
    base = streamlit_app(data)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{base}/annotate?split=train&file={quote(NAMES[0])}")
    expect(page.locator(CANVAS).first).to_be_visible(timeout=30_000)
    wait_idle(page)
    record_toasts(page)
    for i, name in enumerate(NAMES):
        expect(page.get_by_text(f"train/{name} · 320x240 px").first).to_be_visible(timeout=15_000)
        expect(page.locator(CANVAS)).to_have_count(1, timeout=15_000)
        draw(page, 40, 40, 160, 120)
        wait_for_toast(page, f"Saved {name}: 1 box(es) added")
        expect(page.get_by_text("Boxes (1)").first).to_be_visible(timeout=15_000)
        wait_idle(page)
        page.get_by_role("button", name="Next Shortcut").click()
        wait_idle(page)
        if i + 1 < len(NAMES):
            assert current(page) == ("train", NAMES[i + 1])
    expect(page.get_by_text("This is the last image.").first).to_be_visible(timeout=15_000)

    def flushed():
        found = records(data / "metadata.jsonl")
        return (
            found
            if all(len(found.get(n, {}).get("objects", {}).get("bbox", [])) == 1 for n in NAMES)
            else None
        )

    assert wait_for(flushed, timeout=20), (data / "metadata.jsonl").read_text()
    assert "Traceback" not in server_log(request) and "delimiter" not in server_log(request)


def test_a_team_annotator_handed_such_names_goes_on(
    browser: Browser, streamlit_app, tmp_path: Path, make_image
):
    data = folder(tmp_path / "names", make_image)
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("anna", "annotator", password=PASSWORD)
    accounts.close()
    base = streamlit_app(data, home=home)
    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
    signed_in(page, base, "anna")
    seen = [handed_image(page, base)]
    record_toasts(page)
    for _ in NAMES:
        key = seen[-1]
        expect(page.get_by_text(f"{key[0]}/{key[1]} · 320x240 px").first).to_be_visible(timeout=15_000)
        expect(page.locator(CANVAS)).to_have_count(1, timeout=15_000)
        draw(page, 40, 40, 160, 120)
        wait_for_toast(page, f"Saved {key[1]}")
        wait_idle(page)
        page.get_by_role("button", name="Submit for review").click()  # and the next image is handed out
        wait_for_toast(page, f"Submitted {key[1]} for review.")
        wait_idle(page)
        if current(page) == key:
            break
        seen.append(current(page))
    assert sorted(name for _, name in seen) == NAMES
    expect(page.get_by_text("Nothing is left for you.").first).to_be_visible()
    page.get_by_role("button", name="Next Shortcut").click()
    expect(page.get_by_text(re.compile("nothing is left to hand out to you")).first).to_be_visible(
        timeout=15_000
    )


def test_an_unknown_split_is_a_message_and_no_traceback(
    page: Page, streamlit_app, tmp_path: Path, make_image, request: pytest.FixtureRequest
):
    data = folder(tmp_path / "names", make_image)
    base = streamlit_app(data)
    page.goto(f"{base}/annotate?split=nosuch&file=x.jpg")
    expect(page.get_by_text("There is no image nosuch/x.jpg in this dataset.").first).to_be_visible(
        timeout=30_000
    )
    wait_idle(page)
    page.get_by_role("button", name="Open the first image").click()
    wait_idle(page)
    expect(page.locator(CANVAS).first).to_be_visible(timeout=15_000)
    log = server_log(request)
    assert "Traceback" not in log and "no split" not in log, log
