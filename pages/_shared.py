"""UI-only helpers shared by the pages: which dataset is open, cached resources, the sidebar, error display.

No dataset logic lives here: everything about records, images, validation and the registry is in
``opsml_image``. This module only decides what to show and holds the shared objects in Streamlit caches.
"""

from __future__ import annotations

import logging
import os
import re
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import streamlit as st

from opsml_image import config
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo

log = logging.getLogger("opsml_image.app")

APP_SCRIPT = Path(__file__).resolve().parent.parent / "app.py"
PAGE_BROWSE = "pages/browse.py"
PAGE_ANNOTATE = "pages/annotate.py"
PAGE_VALIDATE = "pages/validate.py"
PAGE_REGISTER = "pages/register.py"
PAGE_NEW = "pages/new_dataset.py"


# ------------------------------------------------------------------------------------------ errors


class UserFacingError(Exception):
    """An error whose message is meant for the person using the app."""


@contextmanager
def guard(what: str = "This page") -> Iterator[None]:
    """Show any error as a readable ``st.error`` (never a traceback); the traceback goes to the server log.

    Streamlit's own control flow (``st.rerun``, ``st.switch_page``, ``st.stop``) derives from BaseException
    and passes through.
    """
    try:
        yield
    except UserFacingError as error:
        st.error(plain(str(error)), icon=":material/error:")
    except Exception as error:  # noqa: BLE001 - the last line of defence of a page
        log.error("%s failed:\n%s", what, traceback.format_exc())
        st.error(f"{what} could not be shown: {plain(describe(error))}", icon=":material/error:")


def plain(text: str) -> str:
    """Text shown literally in Markdown (paths like ``__init__.py`` must not turn bold)."""
    return re.sub(r"([\\`*_{}\[\]<>#|~])", r"\\\1", text)


def describe(error: BaseException) -> str:
    """A one-line readable description of an exception."""
    if isinstance(error, FileNotFoundError):
        return f"file not found: {error.filename or error}"
    if isinstance(error, PermissionError):
        return f"permission denied: {error.filename or error}"
    text = str(error).strip() or type(error).__name__
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text.splitlines()[0] if len(text) > 400 else text


# ------------------------------------------------------------------------------------------ dataset choice


def _cli_data_dir(argv: list[str]) -> str | None:
    """``--data-dir DIR`` or ``--data-dir=DIR`` from the arguments after ``streamlit run app.py --``."""
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


#: Session state key of the folder this browser session has open.
SESSION_DIR = "opsml_data_dir"


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


def check_folder(path: Path) -> str | None:
    """Why ``path`` cannot be opened as a dataset (None when it can)."""
    if not path.exists():
        return f"The data folder {path} does not exist."
    if not path.is_dir():
        return f"{path} is a file, not a dataset folder."
    if not os.access(path, os.R_OK | os.X_OK):
        return f"The data folder {path} cannot be read (permission denied)."
    return None


# ------------------------------------------------------------------------------------------ resources


@dataclass
class Workspace:
    """The open dataset and the shared objects that work on it."""

    path: Path
    dataset: ImageDataset
    store: Any  # opsml_image.store.WorkStore
    flusher: Any  # opsml_image.store.AutoFlusher


def _release(ws: Workspace) -> None:
    """When a workspace leaves the cache: write pending edits, stop the flusher, close the store."""
    try:
        ws.flusher.stop()
    finally:
        ws.store.close()


# One entry per folder opened since the server started, kept open: a session may be using any of them, and
# evicting one would close its store under that session.
@st.cache_resource(show_spinner="Opening the dataset...", on_release=_release)
def _workspace(path: str) -> Workspace:
    from opsml_image.store import AutoFlusher, WorkStore

    dataset = ImageDataset(image_dir=Path(path))
    store = WorkStore.open(dataset)
    store.sync()
    flusher = AutoFlusher(store, delay=2.0)
    return Workspace(Path(path), dataset, store, flusher)


def workspace() -> Workspace:
    """The open dataset, its store and flusher; UserFacingError with the reason when it cannot open."""
    path = data_dir()
    problem = check_folder(path)
    if problem:
        raise UserFacingError(
            problem + " Start the app with --data-dir DIR or create a dataset on the New dataset page."
        )
    try:
        return _workspace(str(path))
    except (ValueError, OSError) as error:
        raise UserFacingError(f"The dataset in {path} cannot be opened: {describe(error)}") from error


def reopen_workspace(path: Path) -> None:
    """Forget the workspace of ``path`` (after its folder changed on disk, e.g. a new split)."""
    _workspace.clear(str(Path(path).expanduser().resolve()))


@st.cache_resource(show_spinner=False)
def registry() -> Any:
    """The data card registry (``CardRegistry("data")``) shared by all sessions."""
    from opsml_image.registry import CardRegistry

    return CardRegistry("data")


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


# ------------------------------------------------------------------------------------------ links and saving


def annotate_url(split: str, file_name: str) -> str:
    """The deep link of one image on the Annotate page."""
    return f"/annotate?split={quote(split, safe='')}&file={quote(file_name, safe='')}"


def open_in_annotate(split: str, file_name: str) -> None:
    st.switch_page(PAGE_ANNOTATE, query_params={"split": split, "file": file_name})


# ------------------------------------------------------------------------------------------ sidebar


def sidebar(ws: Workspace | None, error: str | None = None) -> None:
    """The dataset, its counts and annotation progress, and a button that writes metadata.jsonl now."""
    with st.sidebar:
        st.markdown("### OpsML Image")
        if ws is None:
            st.error(plain(error) if error else "No dataset is open.")
            _open_other()
            return
        st.caption("Dataset")
        st.code(str(ws.path), language=None, wrap_lines=True)
        try:
            annotated, total = ws.store.progress()
            splits = {name: ws.store.count(_filter(split=name)) for name in ws.dataset.splits}
            names = category_names(ws)
        except Exception as error:  # noqa: BLE001
            st.error(f"Counts unavailable: {plain(describe(error))}")
            return
        cols = st.columns(2)
        cols[0].metric("Images", f"{total:,}")
        cols[1].metric("Classes", f"{len(names):,}")
        st.caption(" · ".join(f"{name}: {n:,}" for name, n in splits.items()))
        st.progress(annotated / total if total else 0.0, text=f"{annotated:,} of {total:,} annotated")
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
            from opsml_image.formats import coco

            try:
                with st.spinner("Exporting..."):
                    ws.store.flush()
                    data = coco.to_json_bytes(ws.dataset, split)
            except Exception as error:  # noqa: BLE001
                st.error(f"The export failed: {plain(describe(error))}")
            else:
                st.session_state["export_ready"] = (str(ws.path), split, data)
        ready = st.session_state.get("export_ready")
        if ready and ready[:2] == (str(ws.path), split):
            st.download_button(
                f"Download {split} COCO JSON ({len(ready[2]):,} bytes)",
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
            problem = check_folder(path)
            if problem:
                st.error(problem)
            else:
                open_folder(path)
                st.rerun()


def _filter(**kwargs: Any) -> Any:
    from opsml_image.store import Filter

    return Filter(**kwargs)


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


def store_token(ws: Workspace) -> tuple:
    """Something cheap that changes whenever the store changes or another folder is open (keys caches)."""
    annotated, total = ws.store.progress()
    last = ws.store.history(1)  # WorkStore.history gives Change entries, newest first
    return str(ws.path), annotated, total, last[0].id if last else None


if __name__ == "__main__":  # opened as a legacy page (/shared): go to the app
    leave_legacy_pages()
