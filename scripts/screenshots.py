"""Regenerate the README screenshots (``docs/*.png``) from the app running on a fresh copy of the demo.

Usage: ``.venv/bin/python scripts/screenshots.py`` (needs Debian ``chromium`` and the dev requirements).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settle(page: Page) -> None:
    """Wait until the script has finished running and every image has loaded."""
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=30_000)
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    page.mouse.move(0, 0)


def main() -> int:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="opsml-image-shots-") as home:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--browser.gatherUsageStats", "false"],
            cwd=REPO,
            env={**os.environ, "OPSML_IMAGE_HOME": str(Path(home) / ".work")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(150):
                try:
                    if urllib.request.urlopen(f"{base}/_stcore/health").read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.2)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(f"{base}/")
                expect(page.get_by_test_id("galleryTile")).to_have_count(12, timeout=60_000)
                page.wait_for_timeout(3000)  # the background validation ends and the page shows its counts
                settle(page)
                page.screenshot(path=str(DOCS / "browse.png"))
                page.goto(f"{base}/annotate?split=train&file=scene_003.jpg")
                canvas = page.locator('div[data-testid="stBidiComponentIsolated"] canvas.upper-canvas')
                expect(canvas).to_be_visible(timeout=60_000)
                settle(page)
                canvas.hover()  # shows the canvas toolbar
                page.wait_for_timeout(300)
                page.screenshot(path=str(DOCS / "screenshot.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"wrote {DOCS / 'browse.png'} and {DOCS / 'screenshot.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
