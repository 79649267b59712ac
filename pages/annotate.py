"""Annotate: draw, move, resize, relabel and delete boxes on one image; zoom and pan; caption and classes.

A thin view over :mod:`opsml_image.usecases.annotate`: what the person is doing (image, view, mode, selection,
undo history ids, kept edits) is one :class:`~opsml_image.usecases.annotate_state.AnnotateState` in session
state (:data:`STATE`), replaced by its pure transitions; this page calls one use-case function per action and
renders.

Every edit carries the view (and so the version) its widget was drawn from: a button's callback gets the
view of the run that drew it, and the canvas's drawing is read against the image as that canvas's drawing
stands (:class:`~opsml_image.usecases.annotate_state.CanvasMemo`). An edit of an image someone else changed
since is refused as stale; the page then shows the image as it is now and keeps what was refused (new boxes,
dashed on the image; a caption; image categories) with a button to apply it again.

Undo and redo are the store's: a saved edit's history id is recorded, and undo puts the image back as it was
before that entry (:func:`opsml_image.usecases.annotate.undo`), refused when someone changed it since.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import streamlit as st

from opsml_image.usecases import LOCAL_ADMIN, Action, Forbidden, Key, User, can, review
from opsml_image.usecases import annotate as uc
from opsml_image.usecases.annotate_state import CANVAS_HEIGHTS, AnnotateState, CanvasMemo, Mode
from opsml_image.usecases.workspace import UserError, Workspace, summary
from pages import _session as session
from pages import _widgets as ui
from pages._boxlink import box_link
from pages._viewport import viewport

#: Session state key: the page's :class:`AnnotateState`.
STATE = "annotate"
#: The browser helper's key (column width, wheel, pan drags, keys; see pages/_viewport.py).
HELPER = "annotate_viewport"
#: The box list's rows are containers keyed with this prefix and the box's index (see pages/_boxlink.py).
BOX_ROW = "annotate_box_"
#: What the buttons below the box list open.
MORE = ("Caption and image categories", "History of this image")
#: How a kept edit is applied again.
REDO: dict[str, Callable[..., uc.Outcome]] = {
    "boxes": uc.add_boxes,
    "caption": uc.set_caption,
    "categories": uc.set_image_categories,
}
#: What each mode lets a drag on the image do.
MODE_HINTS: dict[Mode, str] = {
    "draw": "Draw: press, drag, release.",
    "edit": "Edit boxes: click a box, drag it to move it, drag a corner to resize it.",
    "pan": "Pan: drag the image to move the view.",
}
SHORTCUTS = [
    ("← / →", "previous / next image"),
    ("U", "next unlabelled image (with accounts: the next image handed to you)"),
    ("S", "submit this image for review; the next one opens"),
    ("B", "copy the previous image's boxes"),
    ("1-9", "class for new boxes (and for the selected box)"),
    ("E", "edit boxes on/off: select a box, drag to move it, drag a corner to resize it"),
    ("P", "pan mode on/off: drag to move the view"),
    ("Delete", "delete the selected box"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo your last edit (one history: every edit, on the canvas or not)"),
    ("+ / − or the wheel", "zoom in / out around the pointer (I / O also)"),
    ("F", "fit the image; 0: 100% (one image pixel a screen pixel)"),
    ("?", "this sheet (H also)"),
]


# ------------------------------------------------------------------------------------------ state


def state() -> AnnotateState:
    """This session's Annotate state (a fresh one at first)."""
    found = st.session_state.get(STATE)
    return found if isinstance(found, AnnotateState) else AnnotateState()


def update(change: Callable[..., AnnotateState], *args: Any) -> AnnotateState:
    """Replace the state by ``change(state, *args)`` (a transition of :class:`AnnotateState`)."""
    new = change(state(), *args)
    st.session_state[STATE] = new
    return new


def act(change: Callable[..., AnnotateState], *args: Any) -> None:
    """:func:`update` as a widget's callback."""
    update(change, *args)


# ------------------------------------------------------------------------------------------ messages


def flash(kind: str, text: str) -> None:
    """A message shown on the next run (callbacks cannot show elements themselves)."""
    st.session_state.setdefault("annotate_flash", []).append((kind, text))


#: A message shown in one run is shown again by the runs of the next seconds (see :func:`show_flash`).
FLASH_SECONDS = 3.0


def show_flash() -> None:
    """Show the queued messages, and again those shown in the last :data:`FLASH_SECONDS`.

    A run can stop for a pending rerun inside the next ``st`` call, before that call's element is sent: so
    a message leaves the queue only once shown. And a remounted canvas asks for another run at once, whose
    end can clear a toast the browser has not mounted yet: so recent messages are sent again (the browser
    keeps one toast per position).
    """
    now = time.monotonic()
    kept = [m for m in st.session_state.get("annotate_flash_recent", []) if now - m[0] < FLASH_SECONDS]
    recent = st.session_state["annotate_flash_recent"] = kept
    for _, kind, text in list(recent):
        _show(kind, text)
    pending = st.session_state.get("annotate_flash") or []
    while pending:
        kind, text = pending[0]
        _show(kind, text)
        recent.append((now, kind, text))
        pending.pop(0)


def _show(kind: str, text: str) -> None:
    if kind == "toast":
        st.toast(ui.plain(text), icon=":material/check_circle:")
    elif kind == "warning":
        st.warning(ui.plain(text), icon=":material/warning:")
    else:
        st.error(ui.plain(text), icon=":material/error:")


def bump() -> None:
    """Reset the canvas (a new key) after a change made outside it."""
    update(AnnotateState.bumped)


def report(ws: Workspace, outcome: uc.Outcome, reset: bool = True) -> None:
    """Queue what an edit did; record a saved edit's history entry for undo; reset the canvas after a change
    or a refusal."""
    if outcome.status == "unchanged":
        return
    if outcome.saved:
        flash("toast", outcome.message)
        entry = uc.entry_of(ws, outcome)
        if entry is not None and outcome.after is not None:
            update(AnnotateState.recorded, (outcome.after.split, outcome.after.file_name), entry)
    else:
        flash("warning" if outcome.status == "stale" else "error", outcome.message)
    if reset or not outcome.saved:
        bump()


def image_id(key: Key) -> str:
    """A short id of an image for widget keys, which never carry a file name (a name with ``__`` is no
    component key, and names may hold anything)."""
    return hashlib.blake2s(f"{key[0]}\0{key[1]}".encode()).hexdigest()[:12]


# ------------------------------------------------------------------------------------------ callbacks


def _on_view(ws: Workspace, view: uc.ImageView, action: Any, *args: Any) -> None:
    """Run an edit on ``view``, the image as the widget that asks for it showed it (its version)."""
    report(ws, action(ws, view, *args, user=session.current_user()))


def _keep(view: uc.ImageView, kind: str, outcome: uc.Outcome, value: Any) -> None:
    """Keep what a stale edit would have done, for a redo on the image as it is now."""
    if outcome.status == "stale":
        update(AnnotateState.kept, (*view.key, kind), value)


def _caption(ws: Workspace, view: uc.ImageView, widget: str) -> None:
    text = st.session_state[widget]
    outcome = uc.set_caption(ws, view, text, user=session.current_user())
    _keep(view, "caption", outcome, text)
    report(ws, outcome)


def _image_categories(ws: Workspace, view: uc.ImageView, widget: str) -> None:
    chosen = list(st.session_state[widget])
    outcome = uc.set_image_categories(ws, view, chosen, user=session.current_user())
    _keep(view, "categories", outcome, chosen)
    report(ws, outcome)


def _redo_pending(ws: Workspace, view: uc.ImageView, kind: str) -> None:
    """Apply a kept edit to ``view`` (the image as the page shows it now): a versioned edit like any other."""
    value = state().pending_of(view.key).get(kind)
    if value is None:
        return
    update(AnnotateState.dropped, (*view.key, kind))
    outcome = REDO[kind](ws, view, value, user=session.current_user())
    _keep(view, kind, outcome, value)
    report(ws, outcome)


def _drop_pending(view: uc.ImageView, kind: str) -> None:
    update(AnnotateState.dropped, (*view.key, kind))
    bump()


def _delete_selected(ws: Workspace, view: uc.ImageView) -> None:
    index = state().selected
    if index is None:
        flash("warning", "Select a box first (click its number in the box list).")
        return
    update(AnnotateState.selecting, None)
    _on_view(ws, view, uc.delete_box, index)


def _undo(ws: Workspace, view: uc.ImageView, redo: bool = False) -> None:
    """Undo (or redo) this person's newest edit of the image through the store's history."""
    target = state().target(view.key, redo)
    if target is None:
        flash("warning", "Nothing to redo on this image." if redo else "Nothing to undo on this image.")
        return
    what = "redo" if redo else "undo"
    outcome = uc.undo(ws, view, target, what, user=session.current_user())
    if outcome.saved:
        flash("toast", outcome.message)
        update(AnnotateState.stepped_back, view.key, target, uc.entry_of(ws, outcome), redo)
    elif outcome.status == "stale":
        flash("warning", f"{outcome.message} Your earlier edits of it can no longer be undone.")
        update(AnnotateState.forgotten, view.key)
    elif outcome.status != "unchanged":
        flash("warning", outcome.message)
    bump()


def go(key: Key | None, message: str = "") -> None:
    if key is None:
        flash("warning", message or "There is no such image.")
        return
    st.query_params["split"], st.query_params["file"] = key


def _helper(name: str) -> Any:
    """The browser helper's value ``name`` (its state or the trigger of this run)."""
    value = st.session_state.get(HELPER)
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _on_width() -> None:
    width = _helper("width")
    if isinstance(width, int | float) and width > 0:
        update(AnnotateState.measured, int(width))


def _on_zoom() -> None:
    """A wheel turn over the canvas (around its point ``x, y`` of view ``view``) or ``+``/``-``."""
    request = _helper("zoom")
    if not isinstance(request, Mapping) or not request.get("step"):
        return
    at = (float(request["x"]), float(request["y"])) if "x" in request and "y" in request else None
    update(AnnotateState.zoom_step, int(request["step"]), at, request.get("view"))


def _on_pan() -> None:
    """A drag of the image in pan mode: ``dx, dy`` canvas pixels on view ``view``."""
    request = _helper("pan")
    if isinstance(request, Mapping) and "dx" in request and "dy" in request:
        update(AnnotateState.panned, float(request["dx"]), float(request["dy"]), request.get("view"))


def _on_help() -> None:
    if _helper("help"):
        update(AnnotateState.showing, True)


def _select(index: int) -> None:
    update(AnnotateState.selecting, index)


# ------------------------------------------------------------------------------------------ parts


@st.cache_data(show_spinner=False, max_entries=64)
def background(
    path: str, mtime_ns: int, region: tuple[float, float, float, float], size: tuple[int, int]
) -> bytes:
    """The image region as the canvas shows it (cached by file, region and size)."""
    return uc.canvas_background(path, region, size)


def _team_user() -> User | None:
    """The acting annotator when the app has accounts (their work is handed out by leases), else None.

    Reviewers and admins take no lease by opening or browsing images: they move through the folder as in
    single-user mode (a save of theirs still follows the review rule)."""
    user = session.current_user()
    if user is None or user == LOCAL_ADMIN or can(user, Action.REVIEW):
        return None
    return user


def _leased(ws: Workspace, current: Key | None) -> Key | None:
    """The next image leased to the team user (their rejected images first); None when none is left."""
    try:
        return review.next_image(ws, _team_user(), current)
    except (UserError, Forbidden) as error:
        flash("error", str(error))
        return None


def _submit(ws: Workspace, key: Key) -> None:
    done = review.submit(ws, session.current_user(), key, take_next=True)
    flash("toast" if done.ok else "error", done.message)
    if done.next_key is not None:
        go(done.next_key)


def _reopen(ws: Workspace, key: Key) -> None:
    try:
        flash("toast", review.reopen(ws, session.current_user(), key))
    except UserError as error:
        flash("error", str(error))
    bump()


def review_bar(ws: Workspace, key: Key) -> None:
    """The image's review status, the reviewer's comment on a rejected image, Submit for review (S), and
    for reviewers and admins Reopen for editing on an approved image."""
    item = review.item(ws, key)
    if item.feedback:
        tags = f" ({', '.join(item.tags)})" if item.tags else ""
        comment = ui.plain(f"Rejected by {item.reviewer}{tags}: {item.feedback}")
        st.warning(comment, icon=":material/rate_review:")
    holder = item.leased_to(time.time())
    leased = f" · leased to {ui.plain(holder)}" if holder else ""  # a user name is text, never a link
    st.caption(f"Review status: {item.status.label}{leased}")
    user = session.current_user()
    if item.status == review.Status.APPROVED and can(user, Action.REVIEW):
        st.button("Reopen for editing", key="annotate_reopen", icon=":material/lock_open:",
                  on_click=_reopen, args=(ws, key),
                  help="Approved images are closed; reopened, it needs a new review")  # fmt: skip
    theirs = holder is not None and (user is None or holder != user.name)  # leased to someone else
    closed = theirs or item.status in (review.Status.SUBMITTED, review.Status.APPROVED)
    st.button("Submit for review", key="annotate_submit", shortcut="S", icon=":material/send:",
              help="Hand this image to review (S); your next image opens", on_click=_submit, args=(ws, key),
              disabled=closed)  # fmt: skip


def current_key(ws: Workspace) -> Key | None:
    split, file_name = st.query_params.get("split"), st.query_params.get("file")
    if split and file_name:
        return split, file_name
    team = _team_user() is not None
    key = _leased(ws, None) if team else None
    if team and key is None:
        st.info("Nothing is left to hand out to you: every image is taken, submitted or done.")
    key = key or ws.store.next_unlabeled() or next(iter(ws.store.keys(limit=1)), None)
    if key is not None:
        st.query_params["split"], st.query_params["file"] = key
    return key


def navigation(ws: Workspace, view: uc.ImageView) -> None:
    store, key = ws.store, view.key
    cols = st.columns(4)
    targets: tuple[tuple[str, str, str, str, Callable[[], Key | None], str | None], ...] = (
        (
            "Previous",
            "arrow_back",
            "Left",
            "nav_prev",
            lambda: store.neighbor(key, step=-1),
            "the first image",
        ),
        ("Next", "arrow_forward", "Right", "nav_next", lambda: store.neighbor(key, step=1), "the last image"),
        ("Next unlabelled", "skip_next", "U", "nav_unlabelled", lambda: store.next_unlabeled(key), None),
    )
    if _team_user() is not None:  # with accounts, Next and U hand out an image leased to this user
        handed = ("the end: nothing is left to hand out to you", lambda: _leased(ws, key))
        targets = (targets[0], ("Next", "arrow_forward", "Right", "nav_next", handed[1], handed[0]),
                   ("Next for me", "skip_next", "U", "nav_unlabelled", handed[1], handed[0]))  # fmt: skip
    for col, (label, icon, shortcut, widget, target, message) in zip(cols[:3], targets, strict=True):
        col.button(
            label,
            icon=f":material/{icon}:",
            shortcut=shortcut,
            key=widget,
            width="stretch",
            on_click=lambda target=target, message=message: go(
                target(), f"This is {message}." if message else "Every image has boxes."
            ),
        )
    cols[3].button(
        "Copy previous boxes",
        icon=":material/content_copy:",
        shortcut="B",
        key="nav_copy",
        width="stretch",
        help="Add the previous image's boxes to this image (clipped to it)",
        on_click=_on_view,
        args=(ws, view, uc.copy_previous_boxes),
    )


def _pick_class(ws: Workspace, view: uc.ImageView, category: int) -> None:
    """The class for new boxes; with a box selected, that box is relabelled too (as in Label Studio)."""
    update(AnnotateState.picked, category)
    selected = state().selected
    if selected is not None:
        _on_view(ws, view, uc.relabel_box, selected, category)


def _pick_from_menu(ws: Workspace, view: uc.ImageView) -> None:
    _pick_class(ws, view, st.session_state[CLASS_MENU])


#: The class menu's widget key (a menu is shown only with more classes than the label bar's nine keys).
CLASS_MENU = "annotate_class_menu"


def current_class(found: list[uc.ClassInfo]) -> int:
    """The class stamped on new boxes (the first class when the chosen one is gone)."""
    ids = [c.id for c in found] or [0]
    category = state().category
    if category not in ids:
        category = update(AnnotateState.picked, ids[0]).category
    assert category is not None
    return category


def class_picker(ws: Workspace, view: uc.ImageView, found: list[uc.ClassInfo]) -> None:
    """The label bar: the class stamped on new boxes, and the class of the selected box; a class can be
    added, and one known only by its id named (in a dialog, so its inputs load only when opened)."""
    ids = [c.id for c in found] or [0]
    labels = {c.id: c.name for c in found}
    category = current_class(found)
    boxes = len(view.annotation.boxes)
    selected = state().selected
    with st.container(horizontal=True, gap="small"):
        for i, c in enumerate(ids[:9]):  # a click or the key 1-9 picks the class
            st.button(
                ui.plain(labels.get(c, str(c))),
                key=f"annotate_pick_{i}",
                shortcut=str(i + 1),
                on_click=_pick_class,
                args=(ws, view, c),
                type="primary" if c == category else "secondary",
            )
    if len(ids) > 9:  # beyond the keys 1-9: a menu (its code is loaded only for such datasets)
        st.session_state[CLASS_MENU] = category
        st.selectbox("Class", ids, format_func=lambda c: labels.get(c, str(c)), key=CLASS_MENU,
                     on_change=_pick_from_menu, args=(ws, view))  # fmt: skip
    # plain Markdown, no HTML: raw HTML would load the browser's HTML renderer on every Annotate page
    text = f"new boxes are drawn as **{ui.plain(labels.get(category, str(category)))}**"
    if selected is not None and selected < boxes:
        text += f" · box {selected + 1} is selected: a class (or its key) relabels it"
    st.markdown(text)
    if not found:
        st.info(
            "The dataset has no classes yet: draw a box, then name its class below.", icon=":material/info:"
        )
    if not can(session.current_user(), Action.EDIT_CLASSES):
        st.caption("Reviewers and admins add and name classes.")
        return
    st.button("Add or name a class", icon=":material/add:", key="annotate_classes",
              on_click=act, args=(AnnotateState.showing, None, True))  # fmt: skip


def _close_classes() -> None:
    update(AnnotateState.showing, None, False)


@st.dialog("Add or name a class", on_dismiss=_close_classes)
def class_dialog(ws: Workspace, found: list[uc.ClassInfo]) -> None:
    """A new class, and names for the classes known only by their id; saved together, then the page runs
    again with them."""
    unnamed = [c for c in found if not c.named] or ([] if found else [uc.ClassInfo(0, "0", False)])
    with st.form("annotate_class_form", border=False):
        st.text_input("New class name", key="annotate_new_class",
                      help="It gets the next id in categories.json")  # fmt: skip
        for c in unnamed:
            st.text_input(f"Name class {c.id}", key=f"annotate_name_{c.id}")
        submitted = st.form_submit_button("Save", type="primary")
    if not submitted:
        return
    user = session.current_user()
    try:
        for c in unnamed:
            name = (st.session_state.get(f"annotate_name_{c.id}") or "").strip()
            if name:
                uc.name_class(ws, c.id, name, user=user)
                flash("toast", f"Class {c.id} is now '{name}'")
        name = (st.session_state.get("annotate_new_class") or "").strip()
        if name:
            category = uc.add_class(ws, name, user=user)
            update(AnnotateState.picked, category)
            flash("toast", f"Class '{name}' is id {category}")
    except (ValueError, OSError, Forbidden) as error:
        st.error(f"Not saved: {ui.plain(ui.describe(error))}", icon=":material/error:")
        return
    _close_classes()
    bump()
    st.rerun()


def box_list(ws: Workspace, view: uc.ImageView, labels: dict[int, str], rev: str) -> None:

    boxes = view.annotation.boxes
    st.markdown(f"**Boxes ({len(boxes)})**")
    if not boxes:
        st.caption("Draw a box on the image: press, drag, release.")
        return
    problems = {p.index: p for p in uc.box_problems(view)}
    selected = state().selected
    with st.container(height=min(80 + 64 * len(boxes), 360), border=False):
        for i, box in enumerate(boxes):
            # a keyed row: the box link (pages/_boxlink.py) colours it and highlights its box on hover
            row = st.container(key=f"{BOX_ROW}{i}", gap=None)
            line = row.container(horizontal=True, vertical_alignment="center", gap="small")
            line.button(
                str(i + 1),
                key=f"box_sel:{rev}:{i}",
                type="primary" if selected == i else "tertiary",
                help="Select this box (highlighted on the image; a class relabels it, Delete removes it)",
                on_click=_select,
                args=(i,),
            )
            line.text(labels.get(box.category, str(box.category)), width="stretch")  # text, never Markdown
            line.button(
                "",
                icon=":material/delete:",
                key=f"box_del:{rev}:{i}",
                help=f"Delete box {i + 1}",
                on_click=_on_view,
                args=(ws, view, uc.delete_box, i),
            )
            row.caption(f"x {box.x:g} · y {box.y:g} · w {box.w:g} · h {box.h:g}")
            problem = problems.get(i)
            if problem is not None:
                fix = row.columns([3, 1.4], vertical_alignment="center")
                fix[0].warning(f"Box {i + 1}: {problem.message}", icon=":material/warning:")
                if problem.fixable:
                    fix[1].button(
                        "Clip",
                        key=f"box_fix:{rev}:{i}",
                        icon=":material/crop:",
                        help="Cut the box to the image",
                        on_click=_on_view,
                        args=(ws, view, uc.clip_box, i),
                    )


def details(ws: Workspace, view: uc.ImageView, labels: dict[int, str], rev: str) -> None:
    widget = f"caption:{rev}"
    st.text_area(
        "Caption",
        value=view.annotation.caption or "",
        key=widget,
        height=90,
        on_change=_caption,
        args=(ws, view, widget),
    )
    options = sorted(set(labels) | set(view.annotation.categories))
    widget = f"imgcats:{rev}"
    st.multiselect(
        "Image categories",
        options,
        default=list(view.annotation.categories),
        format_func=lambda c: labels.get(c, str(c)),
        key=widget,
        on_change=_image_categories,
        args=(ws, view, widget),
    )


def zoom_bar(ws: Workspace, view: uc.ImageView) -> None:
    """Zoom, the edit and pan modes, undo/redo and the shortcut sheet: icon buttons with their keys, on one
    row from 1024 px (the zoom and the mode are said below the canvas)."""
    s = state()
    zoom = s.view.zoom if s.view is not None else 1.0
    top = s.view.max_zoom if s.view is not None else 1.0
    with st.container(horizontal=True, gap="xxsmall", vertical_alignment="center", key="annotate_toolbar"):
        st.button("", icon=":material/zoom_out:", key="zoom_out", shortcut="O", help="Zoom out (− or O)",
                  on_click=act, args=(AnnotateState.zoom_step, -1), disabled=zoom <= 1.0)  # fmt: skip
        st.button("", icon=":material/zoom_in:", key="zoom_in", shortcut="I", help="Zoom in (+ or I)",
                  on_click=act, args=(AnnotateState.zoom_step, 1), disabled=zoom >= top)  # fmt: skip
        st.button("Fit", key="zoom_fit", shortcut="F", on_click=act, args=(AnnotateState.zoom_whole,),
                  help="Whole image (F)")  # fmt: skip
        if view.size is not None:
            st.button("1:1", key="zoom_100", shortcut="0", on_click=act, args=(AnnotateState.zoom_actual,),
                      help="100%: one image pixel a screen pixel (0)")  # fmt: skip
        st.button("", icon=":material/open_with:", key="edit_key", shortcut="E",
                  on_click=act, args=(AnnotateState.toggled, "edit"),
                  type="primary" if s.mode == "edit" else "secondary",
                  help="Edit boxes (E): click a box, drag it to move it, a corner to resize it")  # fmt: skip
        st.button("", icon=":material/pan_tool:", key="pan_key", shortcut="P",
                  on_click=act, args=(AnnotateState.toggled, "pan"),
                  type="primary" if s.mode == "pan" else "secondary",
                  help="Pan mode (P): drag on the image to move the view")  # fmt: skip
        st.button("", icon=":material/undo:", key="undo", shortcut="Ctrl+Z", help="Undo (Ctrl+Z)",
                  on_click=_undo, args=(ws, view))  # fmt: skip
        st.button("", icon=":material/redo:", key="redo", shortcut="Ctrl+Shift+Z", help="Redo (Ctrl+Shift+Z)",
                  on_click=_undo, args=(ws, view, True))  # fmt: skip
        st.button("", icon=":material/keyboard:", key="help_key", shortcut="H", help="All shortcuts (? or H)",
                  on_click=act, args=(AnnotateState.showing, True))  # fmt: skip


@st.dialog("Keyboard shortcuts")
def shortcut_sheet() -> None:
    import pandas as pd

    st.dataframe(pd.DataFrame(SHORTCUTS, columns=["key", "does"]), hide_index=True, width="stretch")


def canvas(
    ws: Workspace, view: uc.ImageView, names: list[str], category: int, locked: bool
) -> uc.CanvasView | None:
    """Show the canvas (the region the state's viewport shows) and save what the person drew, moved or
    resized, read against the image as that canvas's drawing stands (:class:`CanvasMemo`); returns what the
    canvas was given (None for an image that cannot be shown). A canvas is given one drawing for as long as
    its key lives, so it never reloads one and sends it back as an edit. A drawing on a version someone else
    changed since is refused: its new boxes are kept and the page runs again with the image as it is now."""
    from streamlit_drawable_canvas import st_canvas

    s = state()
    if view.size is None or s.view is None:
        st.error(f"The image cannot be shown: {ui.plain(view.problem)}", icon=":material/broken_image:")
        return None
    # the key names everything the drawing's coordinates depend on: a canvas of another size or region is a
    # new canvas, never an old drawing read with a new mapping; and no file name (see image_id)
    canvas_key = f"canvas:{image_id(view.key)}:{s.rev}:{s.view.key}"
    memo = s.canvas if s.canvas is not None and s.canvas.key == canvas_key else None
    if memo is None:
        kept = s.pending_of(view.key).get("boxes", ())
        # refused boxes, dashed: seen, never read back as boxes
        board = uc.with_outlines(uc.canvas_view(view, names, s.view, s.selected), kept)
        memo = update(AnnotateState.remembered, CanvasMemo(canvas_key, board, view)).canvas
        assert memo is not None
    path = ws.dataset.image_path(*view.key)
    image = background(str(path), Path(path).stat().st_mtime_ns, memo.board.region, memo.board.size)
    result = st_canvas(
        background_image=image,
        background_image_fit="stretch",
        drawing_mode="labeled_rect",
        label=uc.label_of(category, names),
        stroke_color=uc.category_color(category),
        stroke_width=2,
        fill_color=uc.BOX_FILL,
        font_size=13,
        width=memo.board.size[0],
        height=memo.board.size[1],
        initial_drawing=memo.board.drawing,
        key=canvas_key,
        disabled=locked or s.mode == "pan",
    )
    st.caption(
        ui.plain(
            f"{view.key[0]}/{view.key[1]} · {view.size[0]}x{view.size[1]} px · {s.view.zoom:.1f}×, shown at "
            f"{memo.board.fit.scale_x:.0%} · {MODE_HINTS[s.mode]}"
        )
    )
    json_data = result.json_data if result is not None else None
    basis, board = memo.basis, memo.shown
    outcome = uc.apply_drawing(ws, basis, board, json_data, category, user=session.current_user())
    if outcome.saved and outcome.after is not None and outcome.version is not None:
        basis = replace(basis, annotation=outcome.after, version=outcome.version)
        update(AnnotateState.remembered, replace(memo, basis=basis))
    if outcome.status == "stale":
        if outcome.added:
            kept = state().pending_of(view.key).get("boxes", ())
            added = (*kept, *(b for b in outcome.added if b not in kept))
            update(AnnotateState.kept, (*view.key, "boxes"), added)
        report(ws, outcome)
        st.rerun()  # the image as it is now, at once
    if outcome.status == "unchanged" and basis.version != view.version:
        bump()  # someone else changed the image and nothing new is drawn: show it as it is now
        st.rerun()
    report(ws, outcome, reset=False)
    return board


def redo_bar(ws: Workspace, view: uc.ImageView, labels: dict[int, str]) -> None:
    """What this person's stale edits would have done to the image, kept: shown as text, each with a button
    that applies it to the image as the page shows it now, and one that drops it."""
    for kind, value in state().pending_of(view.key).items():
        if kind == "boxes":
            n = len(value)
            text = f"Your {n} new box(es) were not saved: they are dashed on the image."
            label = f"Add my {n} box again" if n == 1 else f"Add my {n} boxes again"
        elif kind == "caption":
            text, label = f"Your caption was not saved: {value}", "Save my caption again"
        else:
            shown = ", ".join(labels.get(c, str(c)) for c in value) or "none"
            text, label = f"Your image categories were not saved: {shown}", "Set my image categories again"
        st.warning(ui.plain(text), icon=":material/history:")
        with st.container(horizontal=True, gap="small"):
            st.button(ui.plain(label), key=f"annotate_redo_{kind}", type="primary", icon=":material/redo:",
                      on_click=_redo_pending, args=(ws, view, kind))  # fmt: skip
            st.button("Discard", key=f"annotate_drop_{kind}", on_click=_drop_pending, args=(view, kind))


def size_buttons() -> None:
    """The canvas size setting: a row of buttons, the chosen one primary."""
    chosen = state().size
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key="annotate_canvas_size",
                      width="content"):  # fmt: skip
        st.caption("Canvas size", width="content")
        for i, option in enumerate(CANVAS_HEIGHTS):
            st.button(option, key=f"annotate_canvas_size_{i}", on_click=act,
                      type="primary" if option == chosen else "secondary",
                      args=(AnnotateState.sized, option))  # fmt: skip


def body(ws: Workspace) -> None:
    key = current_key(ws)
    if key is None:
        st.title("Annotate")
        st.info("The dataset has no images yet. Add some on the New dataset page.")
        return
    s = update(AnnotateState.opened, key, str(ws.path))
    view = uc.open_image(ws, key)
    if view is None:
        st.title("Annotate")
        st.error(
            f"There is no image {ui.plain(key[0])}/{ui.plain(key[1])} in this dataset.",
            icon=":material/error:",
        )
        st.button("Open the first image", on_click=lambda: go(next(iter(ws.store.keys(limit=1)), None)))
        return
    found = uc.classes(ws)
    names = list(ws.store.category_names())
    labels = {c.id: c.name for c in found}
    locked = review.edit_refusal(ws, session.current_user(), key)

    head, progress_col = st.columns([2.6, 1.4], vertical_alignment="bottom")
    head.title("Annotate")
    notices = st.container()
    left, right = st.columns([2.6, 1.4], gap="medium")
    with right:
        picker = st.container()  # filled after the canvas: its buttons act on the image as saved by it
    with left:
        if view.size is not None:
            s = update(AnnotateState.framed, view.size)
        viewport(HELPER, s.width, s.view if view.size is not None else None, s.mode,
                 on_width=_on_width, on_zoom=_on_zoom, on_pan=_on_pan, on_help=_on_help)  # fmt: skip
        toolbar = st.container()
        board = canvas(ws, view, names, current_class(found), locked is not None)
    view = uc.open_image(ws, key) or view  # after a save on the canvas: the stored state
    rev = f"{image_id(key)}:{state().rev}"
    with toolbar:
        zoom_bar(ws, view)
    with picker:
        class_picker(ws, view, found)
    with notices:
        show_flash()
        if locked is not None:
            st.info(ui.plain(f"You cannot change this image: {locked}."), icon=":material/lock:")
        redo_bar(ws, view, labels)
    counts = summary(ws)
    with progress_col:  # the sidebar's figures, as text: its progress bar is the page's one
        position = ws.store.position(key)
        st.markdown(f"**{counts.annotated:,}** of **{counts.images:,}** annotated · image {position + 1:,}")
    with right:
        if view.errors:
            st.warning(f"{view.errors} validation error(s) on this image: see the box list and Validate.",
                       icon=":material/warning:")  # fmt: skip
        if view.dropped:
            st.warning(
                f"{view.dropped} malformed box(es) in the records are not shown.", icon=":material/warning:"
            )
        with ui.guard("Review"):
            review_bar(ws, key)
        st.button("Delete selected box", key="delete_selected", shortcut="Delete", icon=":material/delete:",
                  on_click=_delete_selected, args=(ws, view), disabled=state().selected is None)  # fmt: skip
        box_list(ws, view, labels, rev)
        # on demand, remembered for the session: the caption's text area, the categories' multiselect and the
        # history's table are not loaded with every Annotate page
        shown = ui.choice_buttons("annotate_more", MORE, "annotate_shown", on_change=bump)
        if MORE[0] in shown:
            details(ws, view, labels, rev)
        if MORE[1] in shown:
            with ui.guard("The image's history"):
                ui.image_history(ws, session.current_user(), key)
    navigation(ws, view)
    size_buttons()
    st.caption(
        "Shortcuts: ← → U B 1-9 · E edit boxes · P pan · Delete · Ctrl+Z / Ctrl+Shift+Z · + − wheel · "
        "F fit · 0 100% · ?"
    )
    if board is not None:
        boxes = view.annotation.boxes
        rows = [(board.fit.box_to_canvas(b.as_bbox()), uc.category_color(b.category)) for b in boxes]
        box_link("annotate_boxlink", BOX_ROW, board.size[0], rows)
    if state().sheet:
        update(AnnotateState.showing, False)
        shortcut_sheet()
    if state().classes_open:  # open until saved or dismissed
        class_dialog(ws, found)


ui.run_page(body, "The Annotate page")
