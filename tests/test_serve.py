"""``python -m opsml_image serve``: single-user mode listens on loopback only, whatever is asked; the banner
names the mode and where the app listens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT, free_port
from opsml_image.cli import app
from opsml_image.cli.serve import LOOPBACK, address_for, banner, is_loopback


def test_single_user_mode_narrows_any_address_to_loopback():
    assert address_for(None, team=False) == (LOOPBACK, None)
    chosen, note = address_for("0.0.0.0", team=False)
    assert chosen == LOOPBACK and "users add" in note
    assert address_for(None, team=True) == ("0.0.0.0", None)
    assert address_for("10.1.2.3", team=True) == ("10.1.2.3", None)


def _listening(port: int) -> set[str]:
    """Local addresses listening on ``port``, read from /proc (no traffic sent)."""
    found = set()
    for table, size in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address if len(address) == size else address)
    return found


def test_served_app_listens_on_loopback_only(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "OPSML_IMAGE_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "opsml_image", "serve", "--port", str(port), "--address", "0.0.0.0"],
        cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not _listening(port) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert _listening(port) == {"0100007F"}, _listening(port)  # 127.0.0.1, nothing else
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
    assert "listens on 127.0.0.1 only" in out


def test_team_mode_may_listen_on_the_network(tmp_path: Path, monkeypatch):
    from opsml_image.auth import Accounts
    from opsml_image.cli.serve import accounts_exist

    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path))
    monkeypatch.delenv("OPSML_IMAGE_STORE_URI", raising=False)
    assert not accounts_exist()
    Accounts().add_user("ana", "admin", password="correct horse battery")
    assert accounts_exist()


def test_the_banner_names_the_mode_and_the_exposure():
    assert banner(LOOPBACK, 8501, team=False).startswith(
        "Single-user mode: http://localhost:8501 (this machine"
    )
    for address in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(address), address
        text = banner(address, 8502, team=True)
        assert text.startswith("Team mode:") and "this machine only" in text and "log-in" in text, text
        assert "Single-user" not in text and "docs/nginx.conf" in text
    for address, where in (("0.0.0.0", "every network interface"), ("::", "every network interface"),
                           ("10.1.2.3", "10.1.2.3"), ("labels.example.com", "labels.example.com")):  # fmt: skip
        assert not is_loopback(address), address
        text = banner(address, 8503, team=True)
        assert text.startswith(f"Team mode: listening on port 8503 of {where};"), text
        assert "TLS reverse proxy" in text and "this machine only" not in text


@pytest.fixture
def started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The commands ``serve`` would run (none runs), with a home of its own."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPSML_IMAGE_STORE_URI", raising=False)
    commands: list[list[str]] = []
    monkeypatch.setattr(
        sys.modules["opsml_image.cli.serve"].subprocess, "call", lambda cmd, **kw: commands.append(cmd) or 0
    )
    return commands


def test_team_mode_on_loopback_says_team_mode(started: list[list[str]], tmp_path: Path, monkeypatch):
    from opsml_image.auth import Accounts

    runner = CliRunner()
    single = runner.invoke(app, ["serve", "--address", "127.0.0.1", "--port", "8600"])
    assert single.exit_code == 0 and single.stdout.startswith("Single-user mode: http://localhost:8600")
    accounts = Accounts()
    accounts.add_user("ana", "admin", password="correct horse battery")
    accounts.close()
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    team = runner.invoke(app, ["serve", "--address", "127.0.0.1", "--port", "8601", "--data-dir", "data"])
    assert team.exit_code == 0, team.output
    assert team.stdout.startswith("Team mode: http://127.0.0.1:8601 (this machine only)"), team.stdout
    assert "Single-user" not in team.output
    network = runner.invoke(app, ["serve", "--port", "8602"])
    assert network.stdout.startswith("Team mode: listening on port 8602 of every network interface;")
    addresses = [cmd[cmd.index("--server.address") + 1] for cmd in started]
    assert addresses == ["127.0.0.1", "127.0.0.1", "0.0.0.0"]
    assert started[1][-2:] == ["--data-dir", str(tmp_path / "data")]  # absolute: the app runs elsewhere
