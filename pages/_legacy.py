"""The one Streamlit workaround: a page served as a legacy page runs inside ``app.py``'s navigation.

Streamlit sees the ``pages/`` folder next to ``app.py`` and, until ``st.navigation`` has run once in
the server (and in every ``AppTest`` run), serves a deep link such as ``/annotate`` as a legacy page
without running ``app.py`` (no sidebar, no page config). :func:`leave_legacy_pages` then runs ``app.py``
right there: its ``st.navigation`` takes over and runs the same page (page hashes come from the url
paths, which match the legacy ones), and the legacy run stops. It reads one internal,
``PagesManager.uses_pages_directory``; ``tests/app/test_legacy.py`` fails if that internal goes away or
changes meaning.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"


def served_as_legacy_page() -> bool:
    """True while Streamlit serves a file of ``pages/`` as a legacy page (``st.navigation`` not run yet)."""
    from streamlit.runtime.pages_manager import PagesManager

    return bool(PagesManager.uses_pages_directory)


def leave_legacy_pages() -> None:
    """Run ``app.py`` instead of this legacy page run, then stop the legacy run (no rerun: no lost click)."""
    if served_as_legacy_page():
        runpy.run_path(str(APP_SCRIPT), run_name="__main__")
        st.stop()
