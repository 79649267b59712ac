"""``python -m opsml_image serve``: start the app with the right network exposure.

Single-user mode (no accounts in the app's database) listens on 127.0.0.1 only: the app has no login then,
so it must not be reachable from the network. Once accounts exist (``users add``), it may listen on the
network (``--address``, default 0.0.0.0). Streamlit runs as a child process: the library imports no Streamlit.
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from opsml_image import config
from opsml_image.cli.support import fail

APP = Path(__file__).resolve().parents[2] / "app.py"
LOOPBACK = "127.0.0.1"
PROXY_DOC = "docs/nginx.conf"


def accounts_exist() -> bool:
    """True when the app's database holds at least one account (team mode); exit 1 when it cannot be read."""
    import sqlalchemy as sa

    from opsml_image.auth import Accounts

    try:
        accounts = Accounts()
        try:
            return accounts.has_accounts()
        finally:
            accounts.close()
    except (sa.exc.SQLAlchemyError, OSError, ValueError) as error:
        raise fail(f"cannot open the app database: {error}") from None


def address_for(requested: str | None, team: bool) -> tuple[str, str | None]:
    """The address to listen on and, when the request was narrowed, why."""
    if team:
        return requested or "0.0.0.0", None
    if requested not in (None, LOOPBACK, "localhost"):
        return LOOPBACK, (
            f"No accounts exist, so the app listens on {LOOPBACK} only (not {requested}). "
            "To serve a team, add accounts first: python -m opsml_image users add NAME --role admin "
            "--password-stdin"
        )
    return LOOPBACK, None


def is_loopback(address: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): this machine only."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def banner(address: str, port: int, team: bool) -> str:
    """What ``serve`` says it starts: single-user mode, or team mode on this machine or on the network."""
    if not team:
        return (
            f"Single-user mode: http://localhost:{port} (this machine only, no log-in). To serve a team, add "
            "accounts with 'python -m opsml_image users add' and start again."
        )
    if is_loopback(address):
        host = "localhost" if address == "localhost" else address
        return (
            f"Team mode: http://{host}:{port} (this machine only), every page asks for a log-in. "
            f"A TLS reverse proxy on this machine serves it to the team (example: {PROXY_DOC})."
        )
    where = "every network interface" if address in ("0.0.0.0", "::") else address
    return (
        f"Team mode: listening on port {port} of {where}; every page asks for a log-in. Serve it through a "
        f"TLS reverse proxy (example: {PROXY_DOC}): over plain HTTP passwords and sessions cross the "
        "network readable."
    )


def serve(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="The dataset folder to open.")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 8501,
    address: Annotated[str | None, typer.Option(help="The address to listen on (team mode only).")] = None,
) -> None:
    """Start the app (stop it with Ctrl+C)."""
    if data_dir is not None and not data_dir.is_dir():
        raise fail(f"--data-dir {data_dir} is not a folder", 2)
    try:
        config.settings()  # a bad OPSML_* value is named now, not on the app's first page
    except ValueError as error:
        raise fail(str(error), 2) from None
    team = accounts_exist()
    chosen, note = address_for(address, team)
    if note:
        typer.secho(note, fg="yellow", err=True)
    typer.echo(banner(chosen, port, team))
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", chosen,
           "--server.port", str(port)]  # fmt: skip
    if data_dir is not None:
        cmd += ["--", "--data-dir", str(data_dir.resolve())]  # the app runs from the repo's folder
    try:
        raise typer.Exit(subprocess.call(cmd, cwd=APP.parent, env=os.environ.copy()))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
