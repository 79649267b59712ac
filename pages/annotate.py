"""Annotate: draw, move, resize, relabel and delete boxes on one image; caption and image categories.

The image is shown on a ``streamlit-drawable-canvas`` in ``labeled_rect`` mode, scaled down to the canvas
(a 4000x3000 photo is sent at canvas size) and mapped back to image pixels exactly with
:mod:`opsml_image.canvas_geometry`. Every change is saved to the working store at once (a toast says so)
and the AutoFlusher rewrites ``metadata.jsonl`` a couple of seconds later.
"""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path
from typing import Any

import streamlit as st

from pages import _shared as ui

#: Canvas size bounds (CSS pixels): the canvas must fit its column, or the browser squeezes it.
CANVAS_SIZES = {"Small": (560, 480), "Medium": (700, 560), "Large": (960, 720)}
FILL = "rgba(255, 255, 255, 0.08)"


# ------------------------------------------------------------------------------------------ cached image


@st.cache_data(show_spinner=False, max_entries=64)
def display_image(path: str, mtime_ns: int, width: int, height: int) -> bytes:
    """The image resized to exactly the canvas size, as JPEG bytes (what the browser receives)."""
    from PIL import Image

    from opsml_image.images import open_image

    image = open_image(path).convert("RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ state helpers


def flash(kind: str, text: str) -> None:
    """A message shown on the next run (callbacks cannot show elements themselves)."""
    st.session_state.setdefault("annotate_flash", []).append((kind, text))


#: A message shown in one run is shown again by the runs of the next seconds (see :func:`show_flash`).
FLASH_SECONDS = 3.0


def show_flash() -> None:
    """Show the queued messages, and again those shown in the last :data:`FLASH_SECONDS`.

    Two Streamlit behaviours would lose a message. A run can stop for a pending rerun inside the next ``st``
    call, before that call's element is sent: so a message leaves the queue only once shown. And a canvas
    remounted by :func:`bump` asks for another run at once, whose end can clear a toast the browser has not
    mounted yet (seen under load: the toast was sent, never displayed). So recent messages are sent again,
    first and in the same order: the browser keeps one toast per position, and a normal element stays.
    """
    now = time.monotonic()
    kept = [m for m in st.session_state.get("annotate_flash_recent", []) if now - m[0] < FLASH_SECONDS]
    recent = st.session_state["annotate_flash_recent"] = kept  # updated in place: a run may stop anywhere
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
        st.toast(text, icon=":material/check_circle:")
    elif kind == "warning":
        st.warning(text, icon=":material/warning:")
    else:
        st.error(text, icon=":material/error:")


def bump() -> None:
    """Reset the canvas (a new key) after a change made outside it."""
    st.session_state["annotate_rev"] = st.session_state.get("annotate_rev", 0) + 1


def save(ws: ui.Workspace, annotation: Any, version: int, what: str) -> bool:
    """Save an edited annotation; on a conflict, say so and reload. Returns True when saved."""
    from opsml_image.store import StaleEdit

    try:
        ws.store.save(annotation, expected_version=version)
    except StaleEdit as error:
        flash("warning", f"Not saved: {error}")
        bump()
        return False
    except Exception as error:  # noqa: BLE001 - shown, never a traceback
        flash("error", f"Not saved: {ui.plain(ui.describe(error))}")
        bump()
        return False
    ws.flusher.notify()
    flash("toast", f"Saved {annotation.file_name}: {what}")
    return True


def go(key: tuple[str, str] | None, message: str = "") -> None:
    if key is None:
        flash("warning", message or "There is no such image.")
        return
    st.query_params["split"], st.query_params["file"] = key
    st.session_state.pop("annotate_canvas_init", None)
    bump()


# ------------------------------------------------------------------------------------------ callbacks


def _save_edit(ws: ui.Workspace, before: Any, after: Any, version: int, what: str) -> None:
    """Save ``after`` and reset the canvas, unless it changes nothing.

    A widget's ``on_change`` can fire again after its rerun is over: when a rerun races the canvas remounted
    by :func:`bump`, the browser sends the states of the previous run's widgets (whose keys carry the old
    revision) once more. Their values are what the image already holds, and saving them with that run's
    version would only report a stale edit and reset the canvas again.
    """
    if after != before and save(ws, after, version, what):
        bump()


def _relabel(ws: ui.Workspace, key: tuple[str, str], version: int, index: int, widget: str) -> None:
    annotation = ws.store.get(*key)
    if annotation is None or index >= len(annotation.boxes):
        return
    boxes = list(annotation.boxes)
    boxes[index] = dataclasses.replace(boxes[index], category=st.session_state[widget])
    edited = dataclasses.replace(annotation, boxes=boxes)
    _save_edit(ws, annotation, edited, version, f"box {index + 1} relabelled")


def _delete_box(ws: ui.Workspace, key: tuple[str, str], version: int, index: int) -> None:
    annotation = ws.store.get(*key)
    if annotation is None or index >= len(annotation.boxes):
        return
    edited = dataclasses.replace(annotation, boxes=[b for i, b in enumerate(annotation.boxes) if i != index])
    _save_edit(ws, annotation, edited, version, f"box {index + 1} deleted")


def _caption(ws: ui.Workspace, key: tuple[str, str], version: int, widget: str) -> None:
    annotation = ws.store.get(*key)
    if annotation is None:
        return
    text = (st.session_state[widget] or "").strip() or None
    _save_edit(ws, annotation, dataclasses.replace(annotation, caption=text), version, "caption")


def _image_categories(ws: ui.Workspace, key: tuple[str, str], version: int, widget: str) -> None:
    annotation = ws.store.get(*key)
    if annotation is None:
        return
    edited = dataclasses.replace(annotation, categories=list(st.session_state[widget]))
    _save_edit(ws, annotation, edited, version, "image categories")


def _add_class(ws: ui.Workspace, widget: str) -> None:
    name = (st.session_state.get(widget) or "").strip()
    if not name:
        return
    try:
        category = ws.store.add_category(name)
    except Exception as error:  # noqa: BLE001
        flash("error", f"Class not added: {ui.plain(ui.describe(error))}")
        return
    st.session_state["annotate_class"] = category
    st.session_state[widget] = ""
    flash("toast", f"Class '{name}' is id {category}")


def _copy_previous(ws: ui.Workspace, key: tuple[str, str], version: int) -> None:
    from opsml_image.images import ImageInfo, probe

    previous = ws.store.neighbor(key, step=-1)
    if previous is None:
        flash("warning", "This is the first image: there is no previous image to copy boxes from.")
        return
    source = ws.store.get(*previous)
    annotation = ws.store.get(*key)
    if source is None or annotation is None:
        return
    info = probe(ws.dataset.image_path(*key))  # the size is read only when the button is pressed
    if not isinstance(info, ImageInfo):
        flash("error", f"No boxes copied: {ui.plain(info.message)}")
        return
    copied = [
        c
        for c in (b.clipped(info.width, info.height) for b in source.boxes)
        if c is not None and c not in annotation.boxes
    ]
    if not copied:
        flash("warning", f"{previous[1]} has no boxes to copy.")
        return
    edited = dataclasses.replace(annotation, boxes=[*annotation.boxes, *copied])
    _save_edit(ws, annotation, edited, version, f"{len(copied)} boxes copied from {previous[1]}")


# ------------------------------------------------------------------------------------------ page


def current_key(ws: ui.Workspace) -> tuple[str, str] | None:
    split, file_name = st.query_params.get("split"), st.query_params.get("file")
    if split and file_name:
        return split, file_name
    key = ws.store.next_unlabeled() or next(iter(ws.store.keys(limit=1)), None)
    if key is not None:
        st.query_params["split"], st.query_params["file"] = key
    return key


def navigation(ws: ui.Workspace, key: tuple[str, str], version: int) -> None:
    store = ws.store
    cols = st.columns(4)
    for col, (label, icon, shortcut, widget, target, message) in zip(
        cols[:3],
        (
            (
                "Previous",
                "arrow_back",
                "Left",
                "nav_prev",
                lambda: store.neighbor(key, step=-1),
                "the first image",
            ),
            (
                "Next",
                "arrow_forward",
                "Right",
                "nav_next",
                lambda: store.neighbor(key, step=1),
                "the last image",
            ),
            ("Next unlabelled", "skip_next", "U", "nav_unlabelled", lambda: store.next_unlabeled(key), None),
        ),
        strict=True,
    ):
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
        on_click=_copy_previous,
        args=(ws, key, version),
    )


def _pick_class(category: int) -> None:
    st.session_state["annotate_class"] = category


def class_picker(ws: ui.Workspace, names: list[str]) -> int:
    """The class stamped on new boxes; a new class can be added in place."""
    from opsml_image.colors import category_color

    if names:
        if st.session_state.get("annotate_class") not in range(len(names)):
            st.session_state["annotate_class"] = 0
        category = st.selectbox(
            "Class for new boxes",
            list(range(len(names))),
            format_func=lambda c: names[c],
            key="annotate_class",
        )
        with st.container(horizontal=True, gap="small"):
            for i, name in enumerate(names[:9]):  # a label bar: a click or the key 1-9 picks the class
                st.button(
                    name,
                    key=f"annotate_pick_{i}",
                    shortcut=str(i + 1),
                    on_click=_pick_class,
                    args=(i,),
                    type="primary" if i == category else "secondary",
                    help=f"Draw new boxes as {name}",
                )
        color = category_color(category)
        st.markdown(
            f"<span style='display:inline-block;width:.9em;height:.9em;background:{color};border-radius:2px'>"
            f"</span>&nbsp; new boxes are drawn as **{names[category]}**",
            unsafe_allow_html=True,
        )
    else:
        st.info("The dataset has no classes yet: add one to start drawing boxes.")
        category = -1
    with st.popover("Add a class", icon=":material/add:"):
        st.text_input(
            "New class name", key="annotate_new_class", on_change=_add_class, args=(ws, "annotate_new_class")
        )
        st.caption("Press Enter to add it; it gets the next id in categories.json.")
    return category


def box_list(
    ws: ui.Workspace, key: tuple[str, str], annotation: Any, version: int, names: list[str], rev: str
) -> None:
    from opsml_image.colors import category_color

    st.markdown(f"**Boxes ({len(annotation.boxes)})**")
    if not annotation.boxes:
        st.caption("Draw a box on the image: press, drag, release.")
        return
    options = sorted(set(range(len(names))) | {b.category for b in annotation.boxes})
    with st.container(height=min(60 + 52 * len(annotation.boxes), 320), border=False):
        for i, box in enumerate(annotation.boxes):
            cols = st.columns([0.5, 4, 1], vertical_alignment="center")
            cols[0].markdown(
                f"<span style='color:{category_color(box.category)};font-weight:700'>{i + 1}</span>",
                unsafe_allow_html=True,
            )
            widget = f"box_cat:{rev}:{i}"
            cols[1].selectbox(
                f"Box {i + 1} class",
                options,
                index=options.index(box.category),
                format_func=lambda c: ui.label_of(c, names),
                key=widget,
                label_visibility="collapsed",
                on_change=_relabel,
                args=(ws, key, version, i, widget),
                help=f"[{box.x:g}, {box.y:g}, {box.w:g}, {box.h:g}]",
            )
            cols[2].button(
                "",
                icon=":material/delete:",
                key=f"box_del:{rev}:{i}",
                help=f"Delete box {i + 1}",
                on_click=_delete_box,
                args=(ws, key, version, i),
            )


def details(
    ws: ui.Workspace, key: tuple[str, str], annotation: Any, version: int, names: list[str], rev: str
) -> None:
    widget = f"caption:{rev}"
    st.text_area(
        "Caption",
        value=annotation.caption or "",
        key=widget,
        height=90,
        on_change=_caption,
        args=(ws, key, version, widget),
    )
    options = sorted(set(range(len(names))) | set(annotation.categories))
    widget = f"imgcats:{rev}"
    st.multiselect(
        "Image categories",
        options,
        default=[c for c in annotation.categories if c in options],
        format_func=lambda c: ui.label_of(c, names),
        key=widget,
        on_change=_image_categories,
        args=(ws, key, version, widget),
    )


def canvas(
    ws: ui.Workspace, key: tuple[str, str], annotation: Any, version: int, names: list[str], category: int
) -> Any:
    """Show the canvas, save what the user drew, and return the (possibly updated) annotation."""
    from streamlit_drawable_canvas import st_canvas

    from opsml_image.canvas_geometry import Fit, boxes_from_drawing, canvas_size, initial_drawing
    from opsml_image.colors import category_color
    from opsml_image.images import probe

    path = ws.dataset.image_path(*key)
    info = probe(path)
    if not hasattr(info, "width"):
        st.error(f"The image cannot be shown: {info.message}", icon=":material/broken_image:")
        return annotation
    size = (info.width, info.height)
    width, height = canvas_size(size, *CANVAS_SIZES[st.session_state.get("annotate_canvas_size") or "Medium"])
    fit = Fit.contain(size, (width, height), display_size=(width, height))
    background = display_image(str(path), Path(path).stat().st_mtime_ns, width, height)

    rev = st.session_state.get("annotate_rev", 0)
    canvas_key = f"canvas:{key[0]}:{key[1]}:{rev}"
    st.session_state["annotate_canvas_key"] = canvas_key
    inits = st.session_state.setdefault("annotate_canvas_init", {})
    if canvas_key not in inits:
        inits.clear()
        pairs = [(b.as_bbox(), ui.label_of(b.category, names)) for b in annotation.boxes]
        colors = [category_color(b.category) for b in annotation.boxes]
        inits[canvas_key] = (pairs, initial_drawing(pairs, fit, colors, stroke_width=2, fill=FILL))
    pairs, drawing = inits[canvas_key]

    label = names[category] if 0 <= category < len(names) else ""
    result = st_canvas(
        background_image=background,
        background_image_fit="contain",
        drawing_mode="labeled_rect",
        label=label,
        stroke_color=category_color(category) if category >= 0 else "#000000",
        stroke_width=2,
        fill_color=FILL,
        font_size=13,
        width=width,
        height=height,
        initial_drawing=drawing,
        key=canvas_key,
        disabled=category < 0 and not annotation.boxes,
    )
    st.caption(
        f"{key[0]}/{key[1]} · {size[0]}x{size[1]} px, shown at {fit.scale_x:.0%}. Draw: press, drag, release."
        " "
        "Move/resize/delete/relabel: the canvas toolbar's edit toggle."
    )
    drawn = boxes_from_drawing(result.json_data, fit, default_label=label, unchanged=pairs)
    from opsml_image.annotation import Box

    boxes, added = [], []
    for item in drawn:
        category_id = ui.category_of(item.label, names)
        if category_id is None:  # a label typed on the canvas: a new class
            category_id = ws.store.add_category(item.label)
            if category_id == len(names):
                names.append(item.label)
            added.append(item.label)
        boxes.append(Box(item.x, item.y, item.w, item.h, category_id))
    if boxes != list(annotation.boxes):
        what = _describe_change(annotation.boxes, boxes)
        if added:
            what += f" (new class {', '.join(added)})"
        if save(ws, dataclasses.replace(annotation, boxes=boxes), version, what):
            annotation = ws.store.get(*key) or annotation
            if added:
                bump()  # show the new class's colour
    return annotation


def _describe_change(before: list[Any], after: list[Any]) -> str:
    if len(after) > len(before):
        return f"{len(after) - len(before)} box(es) added"
    if len(after) < len(before):
        return f"{len(before) - len(after)} box(es) removed"
    return "boxes changed"


def body(ws: ui.Workspace) -> None:
    st.session_state.setdefault("annotate_rev", 0)
    key = current_key(ws)
    if key is None:
        st.title("Annotate")
        st.info("The dataset has no images yet. Add some on the New dataset page.")
        return
    annotation = ws.store.get(*key)
    if annotation is None:
        st.title("Annotate")
        st.error(f"There is no image {key[0]}/{key[1]} in this dataset.", icon=":material/error:")
        st.button("Open the first image", on_click=lambda: go(next(iter(ws.store.keys(limit=1)), None)))
        return
    names = ui.category_names(ws)
    rev = f"{key[0]}:{key[1]}:{st.session_state.get('annotate_rev', 0)}"

    head, progress_col = st.columns([3, 1.3], vertical_alignment="bottom")
    head.title("Annotate")
    left, right = st.columns([3, 1.3], gap="medium")
    with right:
        category = class_picker(ws, names)
    with left:
        annotation = canvas(ws, key, annotation, ws.store.version(*key), names, category)
    version = ws.store.version(*key)
    show_flash()
    with progress_col:
        done, total = ws.store.progress()
        position = ws.store.position(key)
        st.progress(
            done / total if total else 0.0, text=f"{done:,} of {total:,} annotated · image {position + 1:,}"
        )
    with right:
        info = ws.store.image_info(*key) or {}
        if info.get("errors"):
            st.warning(
                f"{info['errors']} validation error(s) on this image (see Validate).",
                icon=":material/warning:",
            )
        if info.get("dropped"):
            st.warning(
                f"{info['dropped']} malformed box(es) in the records are not shown.",
                icon=":material/warning:",
            )
        box_list(ws, key, annotation, version, names, rev)
        details(ws, key, annotation, version, names, rev)
    navigation(ws, key, version)
    st.segmented_control(
        "Canvas size", list(CANVAS_SIZES), default="Medium", key="annotate_canvas_size", on_change=bump
    )
    st.caption(
        "Shortcuts: ← previous · → next · U next unlabelled · B copy previous boxes · 1-9 class for new "
        "boxes (when not typing)"
    )


ui.run_page(body, "The Annotate page")
