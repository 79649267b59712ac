"""OpsML Image: label, review and register an image dataset (``streamlit run app.py -- --data-dir DIR``).

Opens the dataset named by ``--data-dir DIR`` (after ``--``) or ``OPSML_IMAGE_DIR``, else a working copy of
the shipped demo dataset in ``<OPSML_IMAGE_HOME>/demo``. The pages are thin views over ``opsml_image``.
"""

from __future__ import annotations

import contextlib
import logging

import streamlit as st

from opsml_image.usecases.workspace import UserError, describe
from pages import _session as session
from pages import _widgets as ui

st.set_page_config(page_title="OpsML Image", page_icon=":material/photo_library:", layout="wide")
# an error that escapes the pages' own handling shows a generic message, never a traceback
with contextlib.suppress(Exception):
    st.set_option("client.showErrorDetails", "none")

workspace, problem = None, None
try:
    workspace = session.workspace()
except UserError as error:
    problem = str(error)
except Exception as error:  # noqa: BLE001 - shown as a readable message, logged with its traceback
    logging.getLogger("opsml_image.app").exception("opening the dataset failed")
    problem = f"The dataset cannot be opened: {describe(error)}"

# The default page lives at "/"; its own url_path never matches a URL, so "/browse" redirects to it.
browse = st.Page(ui.PAGE_BROWSE, title="Browse", icon=":material/grid_view:", url_path="home", default=True)
pages = {
    "Dataset": [
        browse,
        st.Page(ui.PAGE_ANNOTATE, title="Annotate", icon=":material/edit_square:", url_path="annotate"),
        st.Page(ui.PAGE_VALIDATE, title="Validate", icon=":material/fact_check:", url_path="validate"),
        st.Page(ui.PAGE_REGISTER, title="Register", icon=":material/inventory_2:", url_path="register"),
    ],
    "Create": [
        st.Page(
            ui.PAGE_NEW, title="New dataset", icon=":material/add_photo_alternate:", url_path="new_dataset"
        ),
        st.Page(
            "pages/transfer.py", title="Import / Export", icon=":material/swap_horiz:", url_path="transfer"
        ),
        st.Page(lambda: st.switch_page(browse), title="Browse", url_path="browse", visibility="hidden"),
    ],
}
page = st.navigation(pages)
page.run()
# after the page: its saves are in the counts, so the sidebar and the page show the same numbers
with ui.guard("The sidebar"):
    ui.sidebar(workspace, problem)
