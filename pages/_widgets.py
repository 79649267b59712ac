"""What the pages show in common: readable errors, text-only rendering of data, links, the sidebar.

Data (file names, captions, class names, messages) is shown as text: :func:`plain` escapes it for the few
Markdown places (labels, captions, toasts), and values are otherwise shown with ``st.text`` or dataframes.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import streamlit as st

from opsml_image.usecases.export import export_split
from opsml_image.usecases.workspace import UserError, Workspace, describe, folder_problem, summary
from pages import _session as session
from pages._legacy import leave_legacy_pages

log = logging.getLogger("opsml_image.app")

PAGE_BROWSE = "pages/browse.py"
PAGE_ANNOTATE = "pages/annotate.py"
PAGE_VALIDATE = "pages/validate.py"
PAGE_REGISTER = "pages/register.py"
PAGE_NEW = "pages/new_dataset.py"


# ------------------------------------------------------------------------------------------ errors and text


@contextmanager
def guard(what: str = "This page") -> Iterator[None]:
    """Show any error as a readable ``st.error`` (never a traceback); the traceback goes to the server log.

    Streamlit's own control flow (``st.rerun``, ``st.switch_page``, ``st.stop``) derives from BaseException
    and passes through.
    """
    try:
        yield
    except UserError as error:
        st.error(plain(str(error)), icon=":material/error:")
    except Exception as error:  # noqa: BLE001 - the last line of defence of a page
        log.error("%s failed:\n%s", what, traceback.format_exc())
        st.error(f"{what} could not be shown: {plain(describe(error))}", icon=":material/error:")


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#|~!$^=+:-])")


def plain(text: object) -> str:
    """Text shown literally where Streamlit reads Markdown: every Markdown and HTML character escaped,
    line breaks kept as spaces (a caption or a class name never becomes a link, an image or HTML)."""
    return _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))


def describe_relative(error: BaseException, root: Path) -> str:
    """:func:`describe` with paths inside ``root`` shown relative to it (no server paths on screen)."""
    return describe(error).replace(f"{root}/", "").replace(str(root), ".")


# ------------------------------------------------------------------------------------------ links


def annotate_url(split: str, file_name: str) -> str:
    """The deep link of one image on the Annotate page."""
    return f"/annotate?split={quote(split, safe='')}&file={quote(file_name, safe='')}"


def open_in_annotate(split: str, file_name: str) -> None:
    st.switch_page(PAGE_ANNOTATE, query_params={"split": split, "file": file_name})


def label_of(category: int, names: list[str]) -> str:
    """A category's name, or ``#id`` when categories.json does not name it."""
    return names[category] if 0 <= category < len(names) else f"#{category}"


# ------------------------------------------------------------------------------------------ page frame


def run_page(body: Callable[[Workspace], None], what: str) -> None:
    """Run a page body with this session's workspace, showing a readable error when there is none."""
    leave_legacy_pages()
    with guard(what):
        body(session.workspace())


# ------------------------------------------------------------------------------------------ sidebar


def sidebar(ws: Workspace | None, error: str | None = None) -> None:
    """The dataset, its counts and annotation progress, save now, export, and open another folder."""
    with st.sidebar:
        st.markdown("### OpsML Image")
        if ws is None:
            st.error(plain(error) if error else "No dataset is open.")
            _open_other()
            return
        st.caption("Dataset")
        st.text(ws.path.name, help=str(ws.path))
        try:
            counts = summary(ws)
        except Exception as error:  # noqa: BLE001
            st.error(f"Counts unavailable: {plain(describe(error))}")
            return
        cols = st.columns(2)
        cols[0].metric("Images", f"{counts.images:,}")
        cols[1].metric("Classes", f"{counts.classes:,}")
        st.caption(plain(" · ".join(f"{name}: {n:,}" for name, n in counts.splits.items())))
        st.progress(
            counts.annotated / counts.images if counts.images else 0.0,
            text=f"{counts.annotated:,} of {counts.images:,} annotated",
        )
        if st.button("Save metadata.jsonl now", icon=":material/save:", key="sidebar_flush", width="stretch"):
            try:
                written = ws.store.flush()
                st.toast(f"metadata.jsonl written ({written:,} records)", icon=":material/save:")
            except Exception as error:  # noqa: BLE001
                st.error(f"Could not write metadata.jsonl: {plain(describe(error))}")
        _export(ws)
        _open_other()


def _export(ws: Workspace) -> None:
    """Annotations of one split as a COCO detection JSON download (edits saved first)."""
    with st.expander("Export annotations"):
        splits = list(ws.dataset.splits)
        if not splits:
            st.caption("The dataset has no records yet.")
            return
        # keyed by folder: another folder's split names are no choice here
        split = st.selectbox("Split", splits, key=f"export_split:{ws.path}") if len(splits) > 1 else splits[0]
        if st.button("Prepare COCO JSON", icon=":material/data_object:", key="export_go", width="stretch"):
            try:
                with st.spinner("Exporting..."):
                    data = export_split(ws, split)
            except Exception as error:  # noqa: BLE001
                st.error(f"The export failed: {plain(describe(error))}")
            else:
                st.session_state["export_ready"] = (str(ws.path), split, data)
        ready = st.session_state.get("export_ready")
        if ready and ready[:2] == (str(ws.path), split):
            st.download_button(
                f"Download {plain(split)} COCO JSON ({len(ready[2]):,} bytes)",
                data=ready[2],
                file_name=f"{ws.path.name}-{split}-coco.json",
                mime="application/json",
                icon=":material/download:",
                key="export_download",
                on_click="ignore",
                width="stretch",
            )


def _open_other() -> None:
    with st.expander("Open another folder"), st.form("open_folder", border=False):
        value = st.text_input("Dataset folder", placeholder="/path/to/dataset")
        if st.form_submit_button("Open") and value.strip():
            path = Path(value.strip()).expanduser().resolve()
            problem = folder_problem(path)
            if problem:
                st.error(plain(problem))
            else:
                session.open_folder(path)
                st.rerun()
