"""Per-session and per-server state of the app: which folder a session has open, the shared workspaces and
the registry. Only state lives here; what to show is in :mod:`pages._widgets`, what to do in
:mod:`opsml_image.usecases`.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from opsml_image import config
from opsml_image.demo import copy_demo
from opsml_image.registry import CardRegistry
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace

#: Session state key of the folder this browser session has open.
SESSION_DIR = "opsml_data_dir"


def _cli_data_dir(argv: list[str]) -> str | None:
    """``--data-dir DIR`` or ``--data-dir=DIR`` from the arguments after ``streamlit run app.py --``."""
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


@dataclass
class _Recent:
    """The folder new sessions open: the start-up folder, then the one opened most recently (a reload)."""

    path: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@st.cache_resource(show_spinner=False)
def _recent() -> _Recent:
    return _Recent()


def startup_dir() -> Path:
    """The folder named at start-up: ``--data-dir``, else ``OPSML_IMAGE_DIR``, else the demo working copy."""
    given = _cli_data_dir(sys.argv[1:])
    if given:
        return Path(given).expanduser().resolve()
    env = config.dataset_dir()
    if env is not None:
        return env
    return demo_dir()


def demo_dir() -> Path:
    """``<home>/demo``: a working copy of the shipped demo dataset (made on first use, never overwritten)."""
    dest = config.home() / "demo"
    copy_demo(dest)
    return dest


def data_dir() -> Path:
    """The folder this browser session has open; a new session opens the most recently opened one."""
    chosen = st.session_state.get(SESSION_DIR)
    if chosen:
        return Path(chosen)
    recent = _recent()
    with recent.lock:
        if recent.path is None:
            recent.path = startup_dir()
        path = recent.path
    st.session_state[SESSION_DIR] = str(path)
    return path


def open_folder(path: Path) -> None:
    """Open another dataset folder in this browser session; sessions already open keep theirs."""
    path = Path(path).expanduser().resolve()
    st.session_state[SESSION_DIR] = str(path)
    recent = _recent()
    with recent.lock:
        recent.path = path


# One entry per folder opened since the server started, kept open: a session may be using any of them, and
# evicting one would close its store under that session.
@st.cache_resource(show_spinner="Opening the dataset...", on_release=Workspace.close)
def _workspace(path: str) -> Workspace:
    return open_workspace(Path(path))


def workspace() -> Workspace:
    """This session's open dataset, its store and flusher; UserError with the reason when it cannot open."""
    path = data_dir()
    try:
        return _workspace(str(path))
    except UserError as error:
        hint = "Start the app with --data-dir DIR or create a dataset on the New dataset page."
        raise UserError(f"{error} {hint}") from None


def reopen_workspace(path: Path) -> None:
    """Forget the workspace of ``path`` (after its folder changed on disk, e.g. a new split)."""
    _workspace.clear(str(Path(path).expanduser().resolve()))


@st.cache_resource(show_spinner=False)
def registry() -> CardRegistry:
    """The data card registry (``CardRegistry("data")``) shared by all sessions."""
    return CardRegistry("data")


def store_token(ws: Workspace) -> tuple[str, int, int, int | None]:
    """Something cheap that changes whenever the store changes or another folder is open (keys caches)."""
    annotated, total = ws.store.progress()
    last = ws.store.history(1)
    return str(ws.path), annotated, total, last[0].id if last else None
