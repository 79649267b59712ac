"""End to end in real Chromium: OIDC sign-in through ``st.login`` against a real OpenID provider (the npm
package ``oidc-provider`` on Debian's ``nodejs``, installed from the npm registry into a cache folder on first
use), the role taken from the user table by e-mail, an e-mail without an account refused, and sign-out."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from conftest import REPO_ROOT, free_port
from opsml_image.auth import Accounts
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "opsml-image-tests" / "oidc-provider"
IDENTITIES = {
    "ada": {"email": "ada@example.com", "password": "ada-secret"},
    "eve": {"email": "eve@example.com", "password": "eve-secret"},
}


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"{proc.args[0]} exited with {proc.returncode}:\n{log.read_text()[-4000:]}", pytrace=False
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-4000:]}", pytrace=False)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def provider_folder() -> Path:
    """The provider script beside its node_modules (``npm install`` from the registry the first time)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail(
            "the OIDC test needs Debian's nodejs and npm (make system-deps installs them)", pytrace=False
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("provider.mjs", "package.json"):
        shutil.copyfile(PROVIDER_DIR / name, CACHE / name)
    if not (CACHE / "node_modules" / "oidc-provider" / "package.json").exists():
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=CACHE, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"npm install oidc-provider failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return CACHE


@pytest.fixture
def oidc_app(tmp_path: Path) -> Iterator[tuple[str, Accounts]]:
    """The app in team mode with ``[auth]`` pointing at a provider on 127.0.0.1: its base URL (on
    ``localhost``, the redirect URI's host) and its accounts (ada is an admin known by her e-mail)."""
    folder = provider_folder()
    idp_port, app_port = free_port(), free_port()
    redirect = f"http://localhost:{app_port}/oauth2callback"
    started: list[subprocess.Popen] = []
    idp_log = tmp_path / "provider.log"
    env = {**os.environ, "PORT": str(idp_port), "CLIENT_ID": "opsml-image", "CLIENT_SECRET": "test-secret",
           "REDIRECT_URI": redirect, "ACCOUNTS": json.dumps(IDENTITIES)}  # fmt: skip
    with open(idp_log, "wb") as out:
        idp = subprocess.Popen(["node", "provider.mjs"], cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)  # fmt: skip
    started.append(idp)
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("ada", "admin", email="ada@example.com")  # no password: signs in through OIDC only
    accounts.add_user("root", "admin", password="correct horse")
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{redirect}"\n'
        'cookie_secret = "a-long-random-test-cookie-secret"\n'
        'client_id = "opsml-image"\n'
        'client_secret = "test-secret"\n'
        f'server_metadata_url = "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"\n'
    )
    app_log = tmp_path / "app.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
        "--server.port", str(app_port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false", "--secrets.files", str(secrets),
        "--", "--data-dir", str(copy_demo(tmp_path / "data")),
    ]  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{idp_port}/.well-known/openid-configuration", idp, idp_log)
        with open(app_log, "wb") as out:
            app = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env={**os.environ, "OPSML_IMAGE_HOME": str(home)})  # fmt: skip
        started.append(app)
        wait_for(f"http://127.0.0.1:{app_port}/_stcore/health", app, app_log)
        yield f"http://localhost:{app_port}", accounts
    finally:
        for proc in reversed(started):
            stop(proc)
        accounts.close()


def sign_in(page: Page, base: str, login: str) -> None:
    page.goto(base)
    page.get_by_role("button", name="Sign in with single sign-on").click()
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible(timeout=30_000)
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(IDENTITIES[login]["password"])
    page.get_by_role("button", name="Sign in").click()


def test_oidc_sign_in_maps_the_email_to_the_role(browser: Browser, oidc_app, artifacts_dir: Path):
    base, accounts = oidc_app
    context = browser.new_context()
    page = context.new_page()
    page.goto(base)
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()  # passwords still work beside it
    started = time.monotonic()
    sign_in(page, base, "ada")
    expect(page.get_by_text("Signed in as ada (admin)").first).to_be_visible(timeout=30_000)
    print(f"OIDC sign-in round trip: {time.monotonic() - started:.1f} s")
    assert {c["name"] for c in context.cookies()} >= {"_streamlit_user"}
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Users").first).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "oidc-signed-in.png"))

    page.reload()  # Streamlit's identity cookie keeps the sign-in
    expect(page.get_by_text("Signed in as ada (admin)").first).to_be_visible(timeout=30_000)
    accounts.add_user("bob", "admin", password="correct horse")  # keeps an admin while ada is demoted
    accounts.set_role("ada", "annotator")  # the role comes from the user table at every run
    page.get_by_test_id("stSidebarNav").get_by_text("Validate").click()
    expect(page.get_by_text("Signed in as ada (annotator)").first).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Users")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()  # st.logout: the provider's end-session and back
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible(timeout=30_000)
    assert "_streamlit_user" not in {c["name"] for c in context.cookies()}
    context.close()


def test_an_email_without_an_account_is_refused(browser: Browser, oidc_app, artifacts_dir: Path):
    base, _ = oidc_app
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, base, "eve")
    refusal = re.compile("No account has the e-mail eve\u2060?@example\\.com")  # a word joiner: no autolink
    expect(page.get_by_text(refusal).first).to_be_visible(timeout=30_000)
    expect(page.locator("a[href^='mailto:']")).to_have_count(0)  # the e-mail is text, not a link
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.get_by_test_id("stSidebarNav")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "oidc-unknown-email.png"))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in with single sign-on")).to_be_visible(timeout=30_000)
    context.close()
