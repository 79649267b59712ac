"""``python -m opsml_image serve``: start the app with the right network exposure.

Single-user mode (no accounts in the app's database) listens on 127.0.0.1 only: the app has no login then,
so it must not be reachable from the network. Once accounts exist (``users add``), it may listen on the
network (``--address``, default 0.0.0.0). Streamlit runs as a child process: the library imports no Streamlit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

APP = Path(__file__).resolve().parents[2] / "app.py"
LOOPBACK = "127.0.0.1"


def accounts_exist() -> bool:
    """True when the app's database holds at least one account (team mode)."""
    from opsml_image.auth import Accounts

    return Accounts().has_accounts()


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


def serve(
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="The dataset folder to open.")] = None,
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8501,
    address: Annotated[str | None, typer.Option(help="The address to listen on (team mode only).")] = None,
) -> None:
    """Start the app (stop it with Ctrl+C)."""
    chosen, note = address_for(address, accounts_exist())
    if note:
        typer.secho(note, fg="yellow", err=True)
    elif chosen == LOOPBACK:
        typer.echo(
            f"Single-user mode: http://localhost:{port} (this machine only). To serve a team, add accounts "
            "with 'python -m opsml_image users add' and start again."
        )
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.address", chosen,
           "--server.port", str(port)]  # fmt: skip
    if data_dir is not None:
        cmd += ["--", "--data-dir", str(data_dir)]
    try:
        raise typer.Exit(subprocess.call(cmd, cwd=APP.parent, env=os.environ.copy()))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
