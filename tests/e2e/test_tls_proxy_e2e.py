"""The README's TLS example, run: Debian's nginx with ``docs/nginx.conf`` (ports and certificate paths
replaced) in front of the real app in team mode; Chromium signs in through ``https://127.0.0.1:PORT``, gets
a ``Secure``, ``HttpOnly`` session cookie and stays signed in over a reload, the app's WebSocket passing the
proxy and the app's origin guard."""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from conftest import REPO_ROOT, _missing_dependency, _read_log, free_port
from opsml_image.auth import Accounts
from opsml_image.demo import copy_demo

pytestmark = pytest.mark.browser

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
EXAMPLE = REPO_ROOT / "docs" / "nginx.conf"
PASSWORD = "correct horse battery"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 valid for a day, and its key (Python ``cryptography``)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def example_config(app_port: int, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """``docs/nginx.conf`` with this test's ports and certificate; each line replaced must be there once."""
    text = EXAMPLE.read_text()
    for old, new in (
        ("server 127.0.0.1:8501;", f"server 127.0.0.1:{app_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("/etc/ssl/certs/labels.example.com.pem", str(cert)),
        ("/etc/ssl/private/labels.example.com.key", str(key)),
    ):
        assert text.count(old) == 1, f"docs/nginx.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: Path) -> str:
    """An nginx.conf of the test's own: in the foreground, every file under ``prefix``, ``site`` included
    in its ``http`` block as /etc/nginx/conf.d/ would be."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{"user root;" if os.geteuid() == 0 else ""}
daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
{temp}
    include {site};
}}
"""


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"nginx exited with {proc.returncode}:\n{_read_log(log)}", pytrace=False)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nginx did not listen on {port} in {timeout:.0f} s:\n{_read_log(log)}", pytrace=False)


@pytest.fixture
def proxied_app(streamlit_app, tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    """The app in team mode (ada, admin) behind nginx: the https base URL, the plain-HTTP port, nginx's
    folder (its logs)."""
    if not os.access(NGINX, os.X_OK):
        _missing_dependency(f"{NGINX} is missing: install Debian's nginx (make test does it)")
    home = tmp_path / "home"
    home.mkdir()
    accounts = Accounts(f"sqlite:///{home / 'app.db'}")
    accounts.add_user("ada", "admin", password=PASSWORD)
    accounts.close()
    env = {"OPSML_IMAGE_TRUSTED_PROXIES": "127.0.0.1"}
    app_url = streamlit_app(copy_demo(tmp_path / "data"), home=home, env=env)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    cert, key = self_signed(prefix)
    https_port, http_port = free_port(), free_port()
    site = prefix / "opsml-image.conf"
    site.write_text(example_config(int(app_url.rsplit(":", 1)[1]), https_port, http_port, cert, key))
    conf = prefix / "nginx.conf"
    conf.write_text(main_config(prefix, site))
    error_log = prefix / "error.log"
    command = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(error_log)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    proc = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(https_port, proc, error_log)
        yield f"https://127.0.0.1:{https_port}", http_port, prefix
    finally:
        proc.terminate()  # SIGTERM: the master stops its worker and exits
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_sign_in_through_nginx_with_tls(browser: Browser, proxied_app: tuple[str, int, Path]) -> None:
    base, http_port, prefix = proxied_app
    # plain HTTP only redirects to HTTPS
    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/annotate?x=1", method="HEAD")
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request, timeout=10)
    assert (
        redirect.value.code == 301 and redirect.value.headers["Location"] == "https://127.0.0.1/annotate?x=1"
    )
    # the proxy's answer is the app's own, over TLS
    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10, context=insecure) as health:
        assert health.read() == b"ok"

    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(base)
    page.get_by_role("textbox", name="Username").fill("ada")
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    signed_in = page.get_by_text("Signed in as ada (admin)").first
    expect(signed_in).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=30_000)

    cookie = next(c for c in context.cookies() if c["name"] == "opsml_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert cookie["domain"] == "127.0.0.1" and cookie["path"] == "/"
    page.reload()
    expect(signed_in).to_be_visible(timeout=30_000)
    context.close()

    # the WebSocket went through nginx (101), once for the visit and once for the reload (each is logged
    # when it closes)
    deadline, streams = time.monotonic() + 10, []
    while time.monotonic() < deadline and len(streams) < 2:
        log = (prefix / "access.log").read_text().splitlines()
        streams = [line for line in log if '"GET /_stcore/stream HTTP/1.1" 101 ' in line]
        time.sleep(0.2)
    assert len(streams) == 2, log


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - urllib's signature
        return None
