"""Shared pytest fixtures and helpers for the opsml-image test suite.

Fixtures (see each docstring):

- ``browser_type_launch_args`` -- pytest-playwright's ``page``/``browser`` use Debian's ``/usr/bin/chromium``.
- ``streamlit_app`` -- factory: ``streamlit_app(data_dir, env=None, home=None) -> base URL`` of a real server.
- ``postgres_url`` -- SQLAlchemy URL of a throwaway PostgreSQL server (session scope).
- ``make_image`` -- returns :func:`write_image`, which writes a real image file with Pillow.
- ``artifacts_dir`` -- ``<repo>/test-artifacts/`` for screenshots and other outputs worth keeping.
- ``app_home`` / ``app_demo`` -- a fresh ``OPSML_IMAGE_HOME`` (and a demo copy the app opens) for AppTest,
  with Streamlit's caches cleared; :func:`open_app` runs ``app.py`` on a page in AppTest.

Plain helpers importable from tests (``from conftest import free_port, write_image``):
:func:`free_port`, :func:`write_image`, :func:`open_app`, ``REPO_ROOT``.

Tests using ``page``/``browser``/``context`` get the ``browser`` marker and tests using ``postgres_url`` get
the ``postgres`` marker automatically, so ``pytest -m "not browser and not postgres"`` runs the fast subset.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
APP_SCRIPT = REPO_ROOT / "app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
STREAMLIT_START_TIMEOUT = 30.0

_BROWSER_FIXTURES = {"page", "context", "browser", "new_context"}
_LOGS_KEY = pytest.StashKey[list[Path]]()


# --------------------------------------------------------------------------------------------- helpers


def fresh_database(request: pytest.FixtureRequest, tmp_path: Path, kind: str, name: str) -> Iterator[str]:
    """A fresh empty database for one test: a SQLite file ``<tmp>/<name>.db`` (``kind="sqlite"``), or a new
    database ``<name>_<random>`` on the session's PostgreSQL server, dropped afterwards (``kind="postgres"``)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'{name}.db'}"
        return
    import uuid

    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_url")
    database = f"{name}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        yield server.rsplit("/", 1)[0] + f"/{database}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_image(
    path: str | Path,
    size: tuple[int, int] = (64, 48),
    color: str | tuple[int, ...] = (200, 40, 40),
    fmt: str | None = None,
) -> Path:
    """Write a real single-colour RGB image of ``size`` (width, height) to ``path`` and return the path.

    Parent directories are created. The format comes from the file extension unless ``fmt`` (a Pillow
    format name such as ``"JPEG"`` or ``"PNG"``) is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format=fmt)
    return path


def _missing_dependency(message: str) -> None:
    """Fail in CI (where every dependency must be present), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(message)


def _read_log(path: Path, limit: int = 20_000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return text if len(text) <= limit else "...\n" + text[-limit:]


# --------------------------------------------------------------------------------------------- hooks


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the fixtures they use: ``browser`` (Playwright) and ``postgres`` (PostgreSQL server)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("tracking_uri") == "postgres"
        if "postgres_url" in names or on_postgres:  # tracking_uri[postgres] asks for the server at run time
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the log of every Streamlit server a failing test started to its report."""
    report = yield
    if report.failed:
        for log_path in item.stash.get(_LOGS_KEY, []):
            report.sections.append((f"streamlit server log ({log_path})", _read_log(log_path)))
    return report


# --------------------------------------------------------------------------------------------- fixtures


#: Hosts a page may reach: the app's own servers (and the tests' local servers) on the loopback.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@pytest.fixture(autouse=True)
def _no_outside_requests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a browser test whose pages asked for anything outside the loopback (a font, an icon, a script
    from the internet): the app ships every asset. Every context the test opens is watched."""
    if "browser" not in request.keywords:
        yield
        return
    from urllib.parse import urlsplit

    from playwright.sync_api import Browser

    outside: list[str] = []

    def watch(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https", "ws", "wss") and (parts.hostname or "") not in _LOCAL_HOSTS:
            outside.append(url)

    original = Browser.new_context

    def new_context(self: Browser, *args: Any, **kwargs: Any) -> Any:
        context = original(self, *args, **kwargs)
        context.on("request", lambda req: watch(req.url))
        return context

    monkeypatch.setattr(Browser, "new_context", new_context)
    yield
    if outside:
        pytest.fail(f"pages asked for {len(outside)} outside URL(s): {sorted(set(outside))[:5]}", pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright launch options: Debian's Chromium at ``/usr/bin/chromium``, headless, no sandbox.

    ``playwright install`` cannot download browsers here, so ``page``/``browser`` use the system build.
    Skips (fails when ``CI`` is set) if Chromium is not installed. ``--headed`` still works for debugging.
    """
    if not os.access(CHROMIUM, os.X_OK):
        _missing_dependency(f"{CHROMIUM} is missing: install Debian's chromium (make test does it)")
    args = list(CHROMIUM_ARGS)
    if browser_type_launch_args.get("headless") is False:
        args.remove("--headless")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """``<repo>/test-artifacts/`` (created, gitignored): put screenshots and other outputs to look at here."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def make_image() -> Callable[..., Path]:
    """The :func:`write_image` helper: ``make_image(path, size=(w, h), color=..., fmt=None) -> Path``.

    Writes a real single-colour RGB image with Pillow (parents created, format from the extension unless
    ``fmt`` is given).
    """
    return write_image


@pytest.fixture
def streamlit_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., str]]:
    """Factory that runs the real app as a ``streamlit run`` server and returns its base URL.

    ``streamlit_app(data_dir: Path, env: dict | None = None, home: Path | None = None) -> str``

    Starts ``<python> -m streamlit run app.py --server.headless true --server.port PORT
    --browser.gatherUsageStats false -- --data-dir DATA_DIR`` from the repo root on 127.0.0.1 and a free port,
    with ``OPSML_IMAGE_HOME`` set to ``home`` (a fresh temp dir if None; the app keeps its registry DB etc.
    there) and ``env`` added on top of ``os.environ``. Waits until ``GET /_stcore/health`` answers ``ok``
    (30 s, else the test fails showing the server log) and returns e.g. ``"http://127.0.0.1:8765"``.
    Can be called several times per test. Every server is stopped at teardown by its own pid (terminate,
    then kill); its stdout/stderr log is attached to the report when the test fails.
    """
    started: list[tuple[subprocess.Popen, object]] = []
    logs = request.node.stash.setdefault(_LOGS_KEY, [])

    def start(data_dir: Path, env: dict[str, str] | None = None, home: Path | None = None) -> str:
        home = Path(home) if home is not None else tmp_path_factory.mktemp("opsml-home")
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log_path = tmp_path_factory.mktemp("streamlit-log") / "server.log"
        logs.append(log_path)
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.port", str(port),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
            "--", "--data-dir", str(data_dir),
        ]  # fmt: skip
        full_env = {**os.environ, "OPSML_IMAGE_HOME": str(home), "PYTHONUNBUFFERED": "1", **(env or {})}
        log_file = open(log_path, "wb")  # noqa: SIM115 - closed at teardown
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        started.append((proc, log_file))
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STREAMLIT_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {proc.returncode} before becoming healthy.\n"
                    f"command: {' '.join(cmd)}\n--- server log ---\n{_read_log(log_path)}",
                    pytrace=False,
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp,
            ):
                if resp.status == 200 and resp.read().decode().strip() == "ok":
                    return base_url
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not answer ok on /_stcore/health in {STREAMLIT_START_TIMEOUT:.0f} s.\n"
                    f"command: {' '.join(cmd)}\n--- server log ---\n{_read_log(log_path)}",
                    pytrace=False,
                )
            time.sleep(0.2)

    yield start

    for proc, log_file in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log_file.close()


def _pg_bindir() -> Path | None:
    """Newest ``/usr/lib/postgresql/<version>/bin`` that has ``initdb`` and ``pg_ctl``."""
    candidates = [
        Path(d)
        for d in glob.glob(PG_BIN_GLOB)
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists()
    ]

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.parent.name.split(".") if x.isdigit())

    return max(candidates, key=version, default=None)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL ``postgresql+psycopg://test@127.0.0.1:PORT/postgres`` of a throwaway PostgreSQL server.

    One server per test session: a temp dir (owned by user ``postgres`` when running as root, since the
    server refuses to run as root), ``initdb -A trust -U test``, ``pg_ctl start`` on 127.0.0.1 and a free
    port; stopped with ``pg_ctl -m fast stop`` and deleted at the end. Tests share the server, so create
    your own tables/schemas/databases with unique names (or clean up). Skips if PostgreSQL is not
    installed (fails when ``CI`` is set).
    """
    bindir = _pg_bindir()
    if bindir is None:
        _missing_dependency(
            f"PostgreSQL is not installed (no {PG_BIN_GLOB}/pg_ctl): apt-get install postgresql"
        )
    as_root = os.geteuid() == 0
    if as_root:
        try:
            import pwd

            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            _missing_dependency("running as root but there is no 'postgres' user to run the server as")

    base = Path(tempfile.mkdtemp(prefix="opsml-pg-"))
    if as_root:
        os.chown(base, pg_user.pw_uid, pg_user.pw_gid)
    data, log = base / "data", base / "log"
    port = free_port()

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(bindir / args[0]), *args[1:]]
        if as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(
            cmd, cwd=base, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )

    try:
        res = run("initdb", "-D", str(data), "-A", "trust", "-U", "test")
        if res.returncode != 0:
            pytest.fail(f"initdb failed ({res.returncode}):\n{res.stdout}\n{res.stderr}", pytrace=False)
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
        res = run("pg_ctl", "-D", str(data), "-o", opts, "-l", str(log), "-w", "start")
        if res.returncode != 0:
            pytest.fail(
                f"pg_ctl start failed ({res.returncode}):\n{res.stdout}\n{res.stderr}\n"
                f"--- server log ---\n{_read_log(log)}",
                pytrace=False,
            )
        yield f"postgresql+psycopg://test@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop", timeout=60)
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------------- AppTest


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``OPSML_IMAGE_HOME`` for the app (no dataset chosen, default registry), caches cleared;
    ``tmp_path`` is the only data root."""
    import streamlit as st

    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPSML_IMAGE_DATA_ROOTS", str(tmp_path))  # pages may open/create folders in tmp_path
    for name in ("OPSML_IMAGE_DIR", "OPSML_TRACKING_URI", "OPSML_STORAGE_URI"):
        monkeypatch.delenv(name, raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    st.session_state.clear()  # bare-mode state (a test calling pages' helpers directly) outlives a test
    yield tmp_path / "home"
    st.cache_resource.clear()
    st.session_state.clear()


@pytest.fixture
def app_demo(app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working copy of the demo dataset in ``tmp_path/data``, the folder the app opens (``OPSML_IMAGE_DIR``)."""
    from opsml_image.demo import copy_demo

    data = copy_demo(tmp_path / "data")
    monkeypatch.setenv("OPSML_IMAGE_DIR", str(data))
    return data


def sidebar_counts(at) -> tuple[int, int] | None:  # noqa: ANN001 - an AppTest
    """``(images, classes)`` as the sidebar of an AppTest run shows them; None when it shows none."""
    import re

    for markdown in at.sidebar.markdown:
        found = re.fullmatch(r"\*\*([\d,]+)\*\* images(?: so far)? · \*\*([\d,]+)\*\* classes", markdown.value)
        if found:
            return int(found[1].replace(",", "")), int(found[2].replace(",", ""))
    return None


def link_outside(data: Path, tmp_path: Path, name: str = "train/scene_003.jpg") -> Path:
    """Make the dataset's image ``name`` a link to a red 64x48 image outside the folder; returns the link."""
    secret = tmp_path / "elsewhere" / "secret.png"
    secret.parent.mkdir(exist_ok=True)
    Image.new("RGB", (64, 48), (255, 0, 0)).save(secret)
    target = data / name
    target.unlink()
    target.symlink_to(secret)
    return target


def open_folder(at, path: Path) -> None:  # noqa: ANN001 - an AppTest
    """Open another folder as an admin does: the sidebar's button, then its dialog's form."""
    at.button(key="open_folder_button").click().run()
    next(t for t in at.text_input if t.label == "Dataset folder").input(str(path))
    next(b for b in at.button if b.label == "Open").click().run()


def open_app(page: str | None = None, timeout: float = 30):  # noqa: ANN201 - an AppTest
    """Run ``app.py`` in AppTest (on ``page``, a path such as ``pages/validate.py``); it must not raise."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=timeout)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def wait_idle(page: Any, timeout: float = 15_000) -> None:
    """Wait until a Playwright page's script run has finished (no 'Running...' status widget), at most
    ``timeout`` ms."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)


#: The password of the accounts the ``team`` fixture makes.
TEAM_PASSWORD = "correct horse"


@pytest.fixture
def team(app_demo: Path) -> Iterator[Any]:
    """Team mode on the demo: accounts ada (admin), rex (reviewer) and anna (annotator), password
    :data:`TEAM_PASSWORD`, hashed cheaply for speed."""
    from argon2 import PasswordHasher

    from opsml_image.auth import Accounts, passwords

    real = passwords._hasher
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts = Accounts()
    for name, role in (("ada", "admin"), ("rex", "reviewer"), ("anna", "annotator")):
        accounts.add_user(name, role, password=TEAM_PASSWORD)
    yield accounts
    accounts.close()
    passwords.use_hasher(real)
