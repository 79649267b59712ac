"""What the pages show in common: readable errors, text-only rendering of data, links, the sidebar.

Data (file names, captions, class names, messages) is shown as text: :func:`plain` escapes it for the few
Markdown places (labels, captions, toasts), and values are otherwise shown with ``st.text`` or dataframes.
:func:`guard` is the one place a page's errors are shown: the use cases raise one family
(:class:`~opsml_image.usecases.UserError`), and pages catch nothing of their own.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import streamlit as st

from opsml_image.usecases import (
    Action,
    Invalid,
    Key,
    NotFound,
    Refused,
    Stale,
    User,
    UserError,
    Workspace,
    access,
    can,
    describe,
    user_error,
)
from opsml_image.usecases.export import export_split, save_now
from opsml_image.usecases.workspace import Summary, indexing, splits, summary, wait_first_rows
from pages import _session as session
from pages._legacy import leave_legacy_pages

log = logging.getLogger("opsml_image.app")

PAGE_BROWSE = "pages/browse.py"
PAGE_ANNOTATE = "pages/annotate.py"
PAGE_VALIDATE = "pages/validate.py"
PAGE_REGISTER = "pages/register.py"
PAGE_NEW = "pages/new_dataset.py"
PAGE_TRANSFER = "pages/transfer.py"
PAGE_USERS = "pages/users.py"
PAGE_HISTORY = "pages/history.py"


# ------------------------------------------------------------------------------------------ choices


def _choose(state: str, option: str, single: bool, on_change: Callable[[], None] | None) -> None:
    if single:
        st.session_state[state] = option
    else:
        st.session_state[state] = st.session_state.get(state, frozenset()) ^ {option}
    if on_change is not None:
        on_change()


def choice_buttons(
    key: str,
    options: tuple[str, ...],
    state: str,
    *,
    single: bool = False,
    label: str = "",
    on_change: Callable[[], None] | None = None,
) -> Any:
    """A row of buttons, the chosen ones primary; the choice is session state ``state``: a click sets it to
    its option (``single``) or toggles its option in a frozenset (returned). Plain buttons rather than pills
    or a segmented control: a button's code is loaded with every page already, a button group's costs each
    first load about 50 ms (measured with bench/bench_pageload.py)."""
    chosen = st.session_state.get(state, frozenset())
    shown = {chosen} if single else chosen
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key=key, width="content"):
        if label:
            st.caption(label, width="content")
        for i, option in enumerate(options):
            st.button(option, key=f"{key}_{i}", type="primary" if option in shown else "secondary",
                      on_click=_choose, args=(state, option, single, on_change))  # fmt: skip
    return st.session_state.get(state, frozenset())


# ------------------------------------------------------------------------------------------ errors and text


#: The icon of each kind of :class:`UserError` (the most specific first).
ICONS: tuple[tuple[type[UserError], str], ...] = (
    (Refused, ":material/block:"),
    (Stale, ":material/history:"),
    (NotFound, ":material/search_off:"),
    (Invalid, ":material/error:"),
    (UserError, ":material/error:"),
)


@dataclass
class Shown:
    """What :func:`guard` showed: the error of the family (None: none, or not one of the family)."""

    error: UserError | None = None


@contextmanager
def guard(what: str = "This page") -> Iterator[Shown]:
    """Show any error as a readable ``st.error`` (never a traceback): a :class:`UserError` (or an error of
    the library's own a page not yet converted lets through) as its message, with its kind's icon; anything
    else as "``what`` could not be shown", its traceback in the server log. The page may read what was
    shown after the block (``with guard(...) as shown:``), to add a hint of its own.

    Streamlit's own control flow (``st.rerun``, ``st.switch_page``, ``st.stop``) derives from BaseException
    and passes through.
    """
    found = Shown()
    try:
        yield found
    except Exception as error:  # noqa: BLE001 - the last line of defence of a page
        shown = found.error = user_error(error)
        if shown is None:
            log.error("%s failed:\n%s", what, traceback.format_exc())
            st.error(f"{what} could not be shown: {plain(describe(error))}", icon=":material/error:")
            return
        icon = next(icon for kind, icon in ICONS if isinstance(shown, kind))
        st.error(plain(str(shown)), icon=icon)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#|~!$^=+:-])")
#: Where GitHub-flavoured Markdown would make a link of plain text (``x@y.z``, ``www.``, ``http://``, also
#: after ``_`` or a digit, where ``\b`` sees no word start): an invisible word joiner there keeps the text as
#: it reads but no autolink.
_AUTOLINK = re.compile(r"(?i)(@|(?<![a-z])www(?=\.)|(?<![a-z])https?(?=\\:))")
WORD_JOINER = "\u2060"


def plain(text: object) -> str:
    """Text shown literally where Streamlit reads Markdown: every Markdown and HTML character escaped,
    line breaks kept as spaces (a caption or a class name never becomes a link, an image or HTML; an
    e-mail, ``www.`` or ``http://`` is no autolink either)."""
    escaped = _MARKDOWN.sub(r"\\\1", " ".join(str(text).split()))
    return _AUTOLINK.sub(_joined, escaped)


def _joined(match: re.Match[str]) -> str:
    found = match.group(1)
    return WORD_JOINER + found if found == "@" else found + WORD_JOINER


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
        ws = session.workspace()
        indexing_banner(ws)
        body(ws)


#: Session state key: the images indexed when the page last ran in full (while a first index runs).
INDEXED_SEEN = "opsml_indexed_seen"
#: Seconds a page waits for a first index's first rows before drawing without them.
FIRST_ROWS_WAIT = 3.0


def indexing_banner(ws: Workspace) -> None:
    """While the folder's first index runs: "Indexing the dataset: n of N images" above the page, which
    runs again once its first images are in and when the index is complete; its failure, with a retry."""
    status = indexing(ws)
    if status is None:
        return
    if status.failed:
        st.error(plain(status.text), icon=":material/error:")
        if st.button("Index again", icon=":material/refresh:", key="index_again"):
            session.reopen_workspace(ws.path)
            st.rerun()
        return
    wait_first_rows(ws, FIRST_ROWS_WAIT)  # the first page in this run rather than in the next
    now = indexing(ws)
    st.session_state[INDEXED_SEEN] = now.indexed if now is not None else 0
    indexing_progress(ws)


@st.fragment(run_every=0.5)
def indexing_progress(ws: Workspace) -> None:
    """The index's progress, twice a second (one meta row read); the page runs again when its first
    images or all are in."""
    status = indexing(ws)
    if status is None or (st.session_state.get(INDEXED_SEEN) == 0 and status.indexed > 0):
        st.rerun()
    if status is not None:
        st.progress(status.fraction, text=plain(status.text))


# ------------------------------------------------------------------------------------------ sidebar


def sidebar(ws: Workspace | None, error: str | None = None, user: User | None = None) -> None:
    """Who is signed in, the dataset, its counts and annotation progress, save now, export, and (admins)
    open another folder."""
    with st.sidebar:
        st.markdown("### OpsML Image")
        account(user)
        if ws is None:
            st.error(plain(error) if error else "No dataset is open.")
            _open_other(user)
            return
        st.caption("Dataset")
        st.text(ws.path.name, help=plain(ws.path))
        counts = _counts(ws)
        if counts is None:
            return
        partial = counts.partial
        # plain Markdown, not st.metric: its number formatter is loaded with every page otherwise
        images = "images so far" if partial else "images"
        st.markdown(f"**{counts.images:,}** {images} · **{counts.classes:,}** classes")
        st.caption(plain(" · ".join(f"{name}: {n:,}" for name, n in counts.splits.items())))
        st.progress(
            counts.annotated / counts.images if counts.images else 0.0,
            text=f"{counts.annotated:,} of {counts.images:,} annotated" + (" so far" if partial else ""),
        )
        if st.button("Save metadata.jsonl now", icon=":material/save:", key="sidebar_flush", width="stretch"):
            with guard("Saving metadata.jsonl"):
                written = save_now(ws, user=user)
                st.toast(f"metadata.jsonl written ({written:,} records)", icon=":material/save:")
        _export(ws, user)
        _open_other(user)


def _counts(ws: Workspace) -> Summary | None:
    """The sidebar's counts; None (and why, shown) when they cannot be read."""
    with guard("The counts"):
        return summary(ws)
    return None


def _export(ws: Workspace, user: User | None) -> None:
    """Annotations of one split as a COCO detection JSON download (edits saved first)."""
    with st.expander("Export annotations"):
        names = splits(ws)
        if not names:
            st.caption("The dataset has no records yet.")
            return
        # keyed by folder: another folder's split names are no choice here
        split = st.selectbox("Split", names, key=f"export_split:{ws.path}") if len(names) > 1 else names[0]
        if st.button("Prepare COCO JSON", icon=":material/data_object:", key="export_go", width="stretch"):
            with guard("The export"), st.spinner("Exporting..."):
                st.session_state["export_ready"] = (str(ws.path), split, export_split(ws, split, user=user))
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


#: Session state key: the "Open another folder" dialog is open.
OPEN_FOLDER = "opsml_open_folder"


def _open_other(user: User | None) -> None:
    """Admins: open a folder inside a data root, in this browser session only (in a dialog, so its text
    input is not loaded with every page)."""
    if not can(user, Action.OPEN_FOLDER):
        return
    st.button("Open another folder", icon=":material/folder_open:", key="open_folder_button", width="stretch",
              on_click=lambda: st.session_state.update({OPEN_FOLDER: True}))  # fmt: skip
    if st.session_state.get(OPEN_FOLDER):  # open until a folder opens or it is dismissed
        _open_folder_dialog()


def _close_open_folder() -> None:
    st.session_state.pop(OPEN_FOLDER, None)


@st.dialog("Open another folder", on_dismiss=_close_open_folder)
def _open_folder_dialog() -> None:
    roots = session.roots()
    with st.form("open_folder", border=False):
        value = st.text_input(
            "Dataset folder", placeholder=str(roots[0] / "dataset") if roots else "/path/to/dataset"
        )
        st.caption("Inside a data root: " + plain(", ".join(str(root) for root in roots)))
        submitted = st.form_submit_button("Open", type="primary")
    if submitted and value.strip():
        with guard("Opening the folder"):
            path = access.open_folder(session.current_user(), value, roots)
            _close_open_folder()
            session.open_folder(path)
            st.rerun()


# ------------------------------------------------------------------------------------------ who is signed in


def account(user: User | None) -> None:
    """The signed-in user and Log out (team mode), or how to add accounts (single-user mode)."""
    if not session.team_mode():
        st.caption(
            "Single-user mode: this machine only, no log-in. To serve a team, add accounts with "
            "`python -m opsml_image users add NAME --role admin --password-stdin` and restart with "
            "`python -m opsml_image serve`."
        )
        return
    if user is None:
        return
    st.text(f"Signed in as {user.label}")
    if st.button("Log out", icon=":material/logout:", key="logout", width="stretch"):
        signed_in_by_oidc = session.oidc_email() is not None
        session.log_out()
        if signed_in_by_oidc:
            st.logout()  # Streamlit's identity cookie, then the provider's end-session and back
        else:
            st.rerun()


_COOKIE_JS = """
export default function (component) {
    const { data } = component;
    if (!data || !data.url || window.__opsmlCookieSent === data.nonce) { return; }
    window.__opsmlCookieSent = data.nonce;
    fetch(data.url, { method: "POST", credentials: "same-origin", cache: "no-store",
                      headers: { "Content-Type": "text/plain" }, body: data.code || "" });
}
"""


_cookie_component: list[Callable[..., object]] = []


def cookie_exchange(data: dict[str, str] | None) -> None:
    """Have the browser post ``data`` (:func:`pages._session.cookie_request`) to the server's cookie route:
    the answer sets or clears the ``HttpOnly`` session cookie. The token never reaches page scripts."""
    if not data:
        return
    if not _cookie_component:
        _cookie_component.append(st.components.v2.component("opsml_session_cookie", js=_COOKIE_JS))
    _cookie_component[0](data=data, key="opsml_cookie", height=0)


def forbidden(user: User | None, page: str) -> None:
    """What a page reached by URL shows a user whose role forbids it: why, and no data."""
    why = access.page_refusal(user, page)
    if why is not None:
        st.error(f"This page is not available to you: {plain(why)}.", icon=":material/block:")


# ------------------------------------------------------------------------------------------ history


def image_history(ws: Workspace, user: User | None, key: Key) -> None:
    """Who changed this image, when and what (newest first), as a table of text."""
    import pandas as pd

    rows = access.image_history(ws, user, key)
    if not rows:
        st.caption("No changes recorded for this image yet.")
        return
    frame = pd.DataFrame([{"when": r.at, "who": r.user, "action": r.action, "what": r.what} for r in rows])
    st.dataframe(frame, hide_index=True, width="stretch")
