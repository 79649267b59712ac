"""Browse: a paginated thumbnail gallery with boxes, filters, statistics, and links into Annotate.

All work is O(page): the store counts and pages the filtered keys in SQLite, and each tile is a thumbnail
cached on disk (``opsml_image.thumbnails``) with its boxes drawn, cached in memory by its content.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import streamlit as st

from pages import _shared as ui

PAGE_SIZES = (24, 48, 96)
COLUMNS = 6
THUMB_SIZE = 256
TILE_FRAME = (256, 192)
TILE_BACKGROUND = (240, 242, 246)
ANNOTATED = {"All images": None, "Annotated": True, "Not annotated": False}


@st.cache_data(show_spinner=False, max_entries=4096)
def tile(
    path: str,
    mtime_ns: int,
    boxes: tuple[tuple[float, float, float, float, int], ...],
    names: tuple[str, ...],
) -> bytes:
    """JPEG bytes of the thumbnail of ``path`` with ``boxes`` drawn (cached by content; ``mtime_ns`` keys a
    replaced image file to a new tile)."""
    from PIL import Image

    from opsml_image.annotation import Box
    from opsml_image.images import probe
    from opsml_image.thumbnails import render_boxes, thumbnail

    thumb_path = thumbnail(Path(path), size=THUMB_SIZE)
    with Image.open(thumb_path) as thumb:
        thumb.load()
        image = thumb.convert("RGB")
    if boxes:
        info = probe(path)
        width = getattr(info, "width", None) or image.width
        image = render_boxes(image, [Box(*b) for b in boxes], list(names), image.width / width)
    # letterbox every tile to one 4:3 frame so the gallery's rows line up whatever the image shape
    image.thumbnail(TILE_FRAME)
    frame = Image.new("RGB", TILE_FRAME, TILE_BACKGROUND)
    corner = ((TILE_FRAME[0] - image.width) // 2, (TILE_FRAME[1] - image.height) // 2)
    frame.paste(image.convert("RGB"), corner)
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=64)
def statistics(_store, token: tuple, names: tuple[str, ...]):  # noqa: ANN001, ANN201 - the store is not hashed
    """Statistics tables (images and boxes per category, boxes per image, box sizes) of one store state."""
    import pandas as pd

    from opsml_image.colors import category_color
    from opsml_image.store import Filter

    boxes = _store.category_counts()
    ids = sorted(set(range(len(names))) | set(boxes))
    per_category = pd.DataFrame(
        [
            {
                "category": ui.label_of(c, list(names)),
                "images": _store.count(Filter(category=c)),
                "boxes": int(boxes.get(c, 0)),
                "color": category_color(c),
            }
            for c in ids
        ],
        columns=["category", "images", "boxes", "color"],
    )
    hist = _store.boxes_per_image_hist()
    per_image = pd.DataFrame(
        [{"boxes": int(b), "images": int(n)} for b, n in hist.items()], columns=["boxes", "images"]
    )
    sizes = pd.DataFrame(_store.box_sizes(5000), columns=["width", "height"])
    return per_category, per_image, sizes


def show_statistics(ws: ui.Workspace, names: list[str]) -> None:
    import altair as alt

    per_category, per_image, sizes = statistics(ws.store, ui.store_token(ws), tuple(names))
    panels = (
        (
            "Images per category",
            "No categories used yet.",
            alt.Chart(per_category)
            .mark_bar()
            .encode(
                x=alt.X("images:Q", title="images"),
                y=alt.Y("category:N", sort="-x", title=None),
                color=alt.Color("color:N", scale=None, legend=None),  # each bar in its category's colour
                tooltip=["category", "images", "boxes"],
            ),
        ),
        (
            "Boxes per image",
            "No images.",
            alt.Chart(per_image)
            .mark_bar()
            .encode(x=alt.X("boxes:O", title="boxes in the image"), y=alt.Y("images:Q", title="images")),
        ),
        (
            "Box sizes (pixels)",
            "No boxes yet.",
            alt.Chart(sizes)
            .mark_circle(opacity=0.5, size=18)
            .encode(x=alt.X("width:Q", title="width"), y=alt.Y("height:Q", title="height")),
        ),
    )
    for column, (title, empty, chart) in zip(st.columns(3), panels, strict=True):
        with column:
            st.markdown(f"**{title}**")
            if chart.data.empty:
                st.caption(empty)
            else:
                st.altair_chart(chart, width="stretch")


def filters(ws: ui.Workspace, names: list[str]):  # noqa: ANN201
    from opsml_image.store import Filter

    splits = list(ws.dataset.splits)
    cols = st.columns([2, 2.6, 1.5, 2, 2, 1.2], vertical_alignment="bottom")
    category = cols[0].selectbox(
        "Category",
        [None, *range(len(names))],
        format_func=lambda c: "All categories" if c is None else names[c],
        key="browse_category",
    )
    text = cols[1].text_input("Caption contains", key="browse_text", placeholder="e.g. sunset")
    split = cols[2].selectbox(
        "Split", [None, *splits], format_func=lambda s: "All splits" if s is None else s, key="browse_split"
    )
    annotated = cols[3].selectbox("Annotation", list(ANNOTATED), key="browse_annotated")
    errors = cols[4].toggle(
        "With errors", key="browse_errors", help="Images with validation issues (run Validate)"
    )
    per_page = cols[5].selectbox("Per page", PAGE_SIZES, index=1, key="browse_per_page")
    return (
        Filter(
            category=category,
            text=text.strip() or None,
            split=split,
            annotated=ANNOTATED[annotated],
            has_errors=True if errors else None,
        ),
        per_page,
    )


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0  # the tile then reports the missing file


def caption_of(annotation, names: list[str]) -> str:  # noqa: ANN001
    used = sorted({box.category for box in annotation.boxes} | set(annotation.categories))
    labels = ", ".join(ui.label_of(c, names) for c in used) or "no labels"
    text = (annotation.caption or "").strip()
    if len(text) > 70:
        text = text[:67] + "..."
    head = f"{annotation.split}/{annotation.file_name} · {len(annotation.boxes)} boxes · {labels}"
    return f"{head}  \n{text}" if text else head


def gallery(ws: ui.Workspace, names: list[str]) -> None:
    f, per_page = filters(ws, names)
    total = ws.store.count(f)
    if total == 0:
        st.info("No image matches these filters.", icon=":material/filter_alt_off:")
        return
    pages = max(1, math.ceil(total / per_page))
    # a new filter starts again at page 1 (the key changes with the filter)
    page = st.pagination(pages, key=f"browse_page:{hash((f, per_page))}", max_visible_pages=9)
    page = min(max(1, int(page or 1)), pages)
    offset = (page - 1) * per_page
    items = ws.store.page(f, offset, per_page)
    st.caption(f"{offset + 1:,}-{offset + len(items):,} of {total:,} images")
    names_key = tuple(names)
    for i, annotation in enumerate(items):
        if i % COLUMNS == 0:  # row by row, so the tiles of a row line up
            columns = st.columns(COLUMNS)
        with columns[i % COLUMNS], st.container(border=True):
            split, file_name = annotation.split, annotation.file_name
            path = ws.dataset.image_path(split, file_name)
            boxes = tuple((b.x, b.y, b.w, b.h, b.category) for b in annotation.boxes)
            try:
                data = tile(str(path), _mtime_ns(path), boxes, names_key)
            except Exception as error:  # noqa: BLE001 - a bad image is one tile's problem, not the page's
                st.warning(f"{file_name}: {ui.plain(ui.describe(error))}", icon=":material/broken_image:")
            else:
                st.image(data, caption=caption_of(annotation, names), link=ui.annotate_url(split, file_name))
            if st.button(
                "Annotate",
                key=f"open:{split}:{file_name}",
                icon=":material/edit:",
                type="tertiary",
                width="stretch",
            ):
                ui.open_in_annotate(split, file_name)


def body(ws: ui.Workspace) -> None:
    st.title("Browse")
    names = ui.category_names(ws)
    if st.toggle("Show statistics", key="browse_stats"):
        with st.container(border=True):
            show_statistics(ws, names)
    gallery(ws, names)


ui.run_page(body, "The Browse page")
