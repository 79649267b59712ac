"""``python -m opsml_image serve``: single-user mode listens on loopback only, whatever is asked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO_ROOT, free_port
from opsml_image.cli.serve import LOOPBACK, address_for


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
