"""Proves the shared test infrastructure in conftest.py works on this machine."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from conftest import free_port


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_make_image_writes_real_images(tmp_path: Path, make_image) -> None:
    jpg = make_image(tmp_path / "a" / "b" / "x.jpg", size=(40, 30), color="blue")
    png = make_image(tmp_path / "y.img", size=(10, 20), fmt="PNG")
    with Image.open(jpg) as im:
        assert (im.format, im.size) == ("JPEG", (40, 30))
    with Image.open(png) as im:
        assert (im.format, im.size) == ("PNG", (10, 20))


@pytest.mark.postgres
def test_postgres_select_1(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            assert "PostgreSQL" in conn.execute(text("SELECT version()")).scalar_one()
    finally:
        engine.dispose()


@pytest.fixture
def static_site(tmp_path: Path):
    """Serve a tiny page from a temp dir with http.server in a thread; yields its URL."""
    (tmp_path / "index.html").write_text(
        "<!doctype html><html><head><title>infra check</title></head>"
        '<body style="background:#def"><h1 id="hello">Hello from http.server</h1></body></html>'
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.browser
def test_chromium_opens_page_and_screenshots(page, static_site: str, artifacts_dir: Path) -> None:
    page.goto(static_site)
    assert page.title() == "infra check"
    assert page.locator("#hello").inner_text() == "Hello from http.server"
    shot = artifacts_dir / "infra-chromium.png"
    shot.unlink(missing_ok=True)
    page.screenshot(path=str(shot))
    with Image.open(shot) as im:
        assert im.format == "PNG"
        assert im.width > 100 and im.height > 100
