"""The take-over from another port of the same host, tried in real Chromium against a real server.

Cookies belong to a host, not to a port: a page served at ``http://127.0.0.1:OTHER/`` is sent the app's
cookies and may read those set by page scripts. Before the guard, such a page read the admin's session
token and opened the app's WebSocket as the admin. Now the cookie is ``HttpOnly`` (set by the server) and
the WebSocket refuses every origin but the app's own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from opsml_image.auth import Accounts
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
ATTACK = """<!doctype html><html><body><script>
const out = {cookie: document.cookie};
function done(what) { out.ws = out.ws || what; document.body.setAttribute("data-result", JSON.stringify(out)); }
const ws = new WebSocket("ws://127.0.0.1:%(port)s/_stcore/stream", ["streamlit"]);
ws.onopen = () => done("open");
ws.onerror = () => done("refused");
ws.onclose = () => done("refused");
</script></body></html>"""


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A second local web server (another port of 127.0.0.1) serving the attacker's pages."""
    root = tmp_path / "attacker"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_page_on_another_port_cannot_take_over_a_signed_in_admin(
    browser: Browser, streamlit_app, attacker: tuple[Path, str], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("ada", "admin", password=PASSWORD)
    accounts.close()
    base = streamlit_app(copy_demo(tmp_path / "data"), home=home)
    port = base.rsplit(":", 1)[1]
    root, attacker_base = attacker
    (root / "index.html").write_text(ATTACK % {"port": port})

    context = browser.new_context()  # one browser: the admin's tab and the attacker's tab share cookies
    admin = context.new_page()
    admin.goto(base)
    admin.get_by_role("textbox", name="Username").fill("ada")
    admin.get_by_role("textbox", name="Password").fill(PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_text("Signed in as ada (admin)").first).to_be_visible(timeout=30_000)
    cookie = None
    for _ in range(50):  # the page posts its one-time code; the server's answer sets the cookie
        cookie = next((c for c in context.cookies() if c["name"] == "opsml_session"), None)
        if cookie:
            break
        admin.wait_for_timeout(100)
    assert cookie is not None, "the server never set the session cookie"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"

    evil = context.new_page()
    evil.goto(f"{attacker_base}/index.html")
    evil.wait_for_selector("body[data-result]", state="attached", timeout=15_000)
    result = json.loads(evil.get_attribute("body", "data-result") or "{}")
    assert "opsml_session" not in result["cookie"]  # page scripts cannot read the token
    assert result["ws"] == "refused"  # and the app's WebSocket refuses the foreign origin

    # the admin's own tab goes on, and a reload keeps the session through the HttpOnly cookie
    admin.reload()
    expect(admin.get_by_text("Signed in as ada (admin)").first).to_be_visible(timeout=30_000)

    # Log out clears the cookie (the server answers the page's post) and ends the session
    admin.get_by_role("button", name="Log out").click()
    expect(admin.get_by_role("button", name="Log in")).to_be_visible(timeout=30_000)
    for _ in range(50):
        if not any(c["name"] == "opsml_session" and c["value"] for c in context.cookies()):
            break
        admin.wait_for_timeout(100)
    assert not any(c["name"] == "opsml_session" and c["value"] for c in context.cookies())
    context.close()
