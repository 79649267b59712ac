"""The app's page script, run by ``app.py`` at every rerun: sign-in, the open dataset, the navigation.

With accounts (``python -m opsml_image users add``) everyone signs in first (:mod:`pages.login`); each
user sees the pages their role allows, and a page reached by URL that it forbids says so and shows nothing.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import streamlit as st

from opsml_image.usecases import Action, User, UserError, Workspace, access, can, describe
from pages import _session as session
from pages import _widgets as ui
from pages import login

ICON = Path(__file__).resolve().parent.parent / "opsml_image" / "static" / "icon.png"


def main() -> None:
    """One run of the app: who acts, the dataset they have open, the page they asked for, the sidebar."""
    # a shipped file: a material icon as page_icon makes every browser fetch it from a public font host
    st.set_page_config(page_title="OpsML Image", page_icon=str(ICON), layout="wide")
    # an error that escapes the pages' own handling shows a generic message, never a traceback
    with contextlib.suppress(Exception):
        st.set_option("client.showErrorDetails", "none")
    user = login.gate()
    workspace, problem = _open()
    page = st.navigation(_pages(user))
    if access.page_allowed(user, page.url_path or "home"):
        page.run()
    else:
        ui.forbidden(user, page.url_path)
    # after the page: its saves are in the counts, so the sidebar and the page show the same numbers
    with ui.guard("The sidebar"):
        ui.sidebar(workspace, problem, user)


def _open() -> tuple[Workspace | None, str | None]:
    try:
        return session.workspace(), None
    except UserError as error:
        return None, str(error)
    except Exception as error:  # noqa: BLE001 - shown as a readable message, logged with its traceback
        logging.getLogger("opsml_image.app").exception("opening the dataset failed")
        return None, f"The dataset cannot be opened: {describe(error)}"


def _entry(user: User, path: str, title: str, icon: str, url_path: str, default: bool = False) -> st.Page:
    """A page, hidden from the navigation when the user's role forbids it (still reachable by URL, where
    it says so instead of running)."""
    shown = "visible" if access.page_allowed(user, url_path) else "hidden"
    return st.Page(path, title=title, icon=icon, url_path=url_path, default=default, visibility=shown)


def _review_pages(user: User) -> list[st.Page]:
    """Review and Team: in the navigation for reviewers and admins only (the pages refuse the others)."""
    shown = "visible" if can(user, Action.REVIEW) else "hidden"
    return [
        st.Page("pages/review.py", title="Review", icon=":material/rate_review:", url_path="review",
                visibility=shown),  # fmt: skip
        st.Page("pages/team.py", title="Team", icon=":material/groups:", url_path="team", visibility=shown),
    ]


def _pages(user: User) -> dict[str, list[st.Page]]:
    # The default page lives at "/"; its own url_path never matches a URL, so "/browse" redirects to it.
    browse = _entry(user, ui.PAGE_BROWSE, "Browse", ":material/grid_view:", "home", default=True)
    return {
        "Dataset": [
            browse,
            _entry(user, ui.PAGE_ANNOTATE, "Annotate", ":material/edit_square:", "annotate"),
            _entry(user, ui.PAGE_VALIDATE, "Validate", ":material/fact_check:", "validate"),
            _entry(user, "pages/quality.py", "Quality", ":material/troubleshoot:", "quality"),
            _entry(user, ui.PAGE_REGISTER, "Register", ":material/inventory_2:", "register"),
            *_review_pages(user),
        ],
        "Create": [
            _entry(user, ui.PAGE_NEW, "New dataset", ":material/add_photo_alternate:", "new_dataset"),
            _entry(user, ui.PAGE_TRANSFER, "Import / Export", ":material/swap_horiz:", "transfer"),
            st.Page(lambda: st.switch_page(browse), title="Browse", url_path="browse", visibility="hidden"),
        ],
        "Admin": [
            _entry(user, ui.PAGE_USERS, "Users", ":material/group:", "users"),
            _entry(user, ui.PAGE_HISTORY, "History", ":material/history:", "history"),
        ],
    }
