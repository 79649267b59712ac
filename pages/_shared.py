"""UI-only helpers shared by the pages: which dataset is open, cached resources, the sidebar, error display.

No dataset logic lives here: everything about records, images, validation and the registry is in
``opsml_image``. This module only decides what to show and holds the shared objects in Streamlit caches.
"""

from __future__ import annotations

import logging
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

log = logging.getLogger("opsml_image.app")

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"
PAGE_BROWSE = "pages/browse.py"
PAGE_ANNOTATE = "pages/annotate.py"
PAGE_VALIDATE = "pages/validate.py"
PAGE_REGISTER = "pages/register.py"
PAGE_NEW = "pages/new_dataset.py"


# ------------------------------------------------------------------------------------------ (moved)
# Transitional: the state lives in pages._session, the widgets in pages._widgets; this module goes away once
# every page is converted.
from opsml_image.usecases.workspace import UserError as UserFacingError  # noqa: E402,F401
from opsml_image.usecases.workspace import Workspace, describe  # noqa: E402,F401
from pages import _session  # noqa: E402
from pages._widgets import annotate_url, guard, open_in_annotate, plain, sidebar  # noqa: E402,F401

workspace = _session.workspace
registry = _session.registry
reopen_workspace = _session.reopen_workspace
open_folder = _session.open_folder
data_dir = _session.data_dir
store_token = _session.store_token


def category_names(ws: Workspace) -> list[str]:
    return list(ws.store.category_names())


def label_of(category: int, names: list[str]) -> str:
    """A category's name, or ``#id`` when categories.json does not name it."""
    return names[category] if 0 <= category < len(names) else f"#{category}"


def category_of(label: str, names: list[str]) -> int | None:
    """The id a canvas label names (a name, case-insensitive, or ``#id``), None when unknown."""
    label = label.strip()
    if label.startswith("#") and label[1:].isdigit():
        return int(label[1:])
    lowered = {name.lower(): i for i, name in enumerate(names)}
    return lowered.get(label.lower())


def leave_legacy_pages() -> None:
    """Run the page inside ``app.py``'s ``st.navigation`` even when Streamlit serves it as a legacy page.

    Streamlit sees the ``pages/`` folder next to ``app.py`` and, until ``st.navigation`` has run once in
    the server (and in every ``AppTest`` run), serves a deep link such as ``/annotate`` as a legacy page
    without running ``app.py`` (no sidebar, no page config). Then this runs ``app.py`` right here: its
    ``st.navigation`` takes over and runs the same page (page hashes come from the url paths, which match
    the legacy ones), and the legacy run stops. No rerun, so a pressed button is not lost.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        runpy.run_path(str(APP_SCRIPT), run_name="__main__")
        st.stop()


def run_page(body: Callable[[Workspace], None], what: str) -> None:
    """Run a page body with the open workspace, showing a readable error when there is none."""
    leave_legacy_pages()
    with guard(what):
        ws = workspace()
        body(ws)


def severity(code: str) -> str:
    """``"error"`` or ``"warning"``: a validation code's severity (an unknown code counts as an error)."""
    from opsml_image.rules import CODES

    return CODES.get(code, ("error",))[0]


def validate_now(ws: Workspace, text: str = "Validating...") -> Any:
    """Write pending edits, validate the folder with a progress bar, store the report's issues; the report."""
    ws.store.flush()
    bar = st.progress(0.0, text=text)

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=f"Validated {done} of {total} split(s)")

    report = ws.dataset.validate(progress=progress)
    ws.store.set_issues(report)
    bar.empty()
    return report


def _old_store_token(ws: Workspace) -> tuple:
    """Something cheap that changes whenever the store changes or another folder is open (keys caches)."""
    annotated, total = ws.store.progress()
    last = ws.store.history(1)  # WorkStore.history gives Change entries, newest first
    return str(ws.path), annotated, total, last[0].id if last else None


if __name__ == "__main__":  # opened as a legacy page (/shared): go to the app
    leave_legacy_pages()
