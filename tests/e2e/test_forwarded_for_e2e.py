"""A forged ``X-Forwarded-For`` buys no extra guesses (real Chromium, real server on the loopback).

uvicorn believes the header from loopback peers, so before the guard every guess sent with a new forged
address counted as a new client: 123 guesses a minute across names. The guard believes it only from
``OPSML_IMAGE_TRUSTED_PROXIES`` (none here): browsers each claiming another address are one client, and
that client's budget across names runs out (a configured proxy's header is tested in tests/web).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from opsml_image.auth import Accounts
from opsml_image.auth.ratelimit import CLIENT_FREE_FAILURES
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

WRONG = "Wrong user name or password."
SLOWED = "Too many failed log-ins"


def guess(page: Page, base: str, name: str) -> str:
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill(name)
    page.get_by_role("textbox", name="Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    answer = page.get_by_text(WRONG).or_(page.get_by_text(SLOWED))
    expect(answer.first).to_be_visible(timeout=30_000)
    return answer.first.inner_text()


def test_forged_addresses_are_one_client(browser: Browser, streamlit_app, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("ada", "admin", password="correct horse battery")
    accounts.close()
    base = streamlit_app(copy_demo(tmp_path / "data"), home=home)

    answers = []
    for i in range(CLIENT_FREE_FAILURES + 1):  # a new name and a new forged address each time
        context = browser.new_context(extra_http_headers={"X-Forwarded-For": f"203.0.113.{i + 1}"})
        answers.append(guess(context.new_page(), base, f"guess{i}"))
        context.close()
    assert all(a == WRONG for a in answers[: CLIENT_FREE_FAILURES - 1]), answers
    assert SLOWED in answers[-1], answers  # one client: its budget across names is spent
