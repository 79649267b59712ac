"""Browse: a paginated thumbnail gallery with boxes, filters, statistics that follow them, a large preview
and links into Annotate. A thin view over :mod:`opsml_image.usecases.browse`; tiles are cached by content
and shown as one element (:mod:`pages._gallery`)."""

from __future__ import annotations

import streamlit as st

from opsml_image.usecases import Filter, Workspace, access, checking, review
from opsml_image.usecases import browse as uc
from opsml_image.usecases.workspace import splits as splits_of
from pages import _gallery
from pages import _session as session
from pages import _widgets as ui

PAGE_SIZES = (24, 48, 96)
TILE_SIZES = {"S": (160, 120), "M": (208, 156), "L": (300, 225)}  # tile frame (as many columns as fit)
ANNOTATED = {"All images": None, "Annotated": True, "Not annotated": False}
#: The two on/off buttons: a filter, and the statistics panel.
ERRORS, STATISTICS = "With errors", "Show statistics"
FILTER_KEYS = ("browse_category", "browse_text", "browse_split", "browse_annotated", "browse_errors")


@st.cache_data(show_spinner=False, max_entries=4096)
def tile(picture: uc.Picture, names: tuple[str, ...], frame: tuple[int, int]) -> uc.Drawn:
    """The tile of a picture with its boxes, or why it cannot be shown (cached by content: a replaced image's
    mtime keys it anew)."""
    return uc.render_tile(picture, names, frame)


@st.cache_data(show_spinner=False, max_entries=8)
def blank_tile(frame: tuple[int, int]) -> bytes:
    """The tile of an image that cannot be shown (its reason is in the caption and above the gallery)."""
    return uc.render_blank(frame)


@st.cache_data(show_spinner=False, max_entries=64)
def preview_image(picture: uc.Picture, names: tuple[str, ...]) -> uc.Drawn:
    """The large preview of a picture with its boxes (cached by content like the tiles)."""
    return uc.render_preview(picture, names)


@st.dialog("Preview", width="large")
def preview(ws: Workspace, split: str, file_name: str, names: tuple[str, ...]) -> None:
    """One image large with its boxes, its caption and boxes as text, and a link to Annotate."""
    annotation = uc.record(ws, split, file_name)
    st.text(f"{split}/{file_name}")
    if annotation is None:
        st.warning(f"{ui.plain(split)}/{ui.plain(file_name)} is no longer in the dataset.")
        return
    drawn = preview_image(uc.picture(ws, annotation), names)
    if drawn.jpeg is None:
        st.warning(ui.plain(drawn.problem), icon=":material/broken_image:")
    else:
        st.image(drawn.jpeg)
    if annotation.caption:
        st.text(annotation.caption)
    if annotation.boxes:
        import pandas as pd

        rows = [(ui.label_of(b.category, list(names)), b.x, b.y, b.w, b.h) for b in annotation.boxes]
        table = pd.DataFrame(rows, columns=["class", "x", "y", "w", "h"])
        st.dataframe(table, hide_index=True, width="stretch")
    else:
        st.caption("No boxes.")
    if st.button("Annotate this image", icon=":material/edit:", key="preview_annotate"):
        ui.open_in_annotate(split, file_name)


def _clear_filters() -> None:
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)


def filters(ws: Workspace, labels: dict[int, str]) -> tuple[Filter, int, str]:
    splits = splits_of(ws)
    cols = st.columns([2.2, 2.6, 1.8, 2], vertical_alignment="bottom")
    category = cols[0].selectbox(
        "Category",
        [None, *labels],
        format_func=lambda c: "All" if c is None else labels[c],
        key="browse_category",
    )
    text = cols[1].text_input("Caption contains", key="browse_text", placeholder="e.g. sunset")
    split = cols[2].selectbox(
        "Split", [None, *splits], format_func=lambda s: "All" if s is None else s, key="browse_split"
    )
    annotated = cols[3].selectbox("Annotation", list(ANNOTATED), key="browse_annotated")
    # the second row: what to show and how (at 1024 px one row of seven controls truncated them)
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        # buttons, not toggles or a segmented control: their code is loaded with the page already
        errors = ERRORS in ui.choice_buttons("browse_errors_choice", (ERRORS,), "browse_errors")
        per_page = st.selectbox("Per page", PAGE_SIZES, index=1, key="browse_per_page", width=110)
        st.session_state.setdefault("browse_tile_size", "M")
        size = ui.choice_buttons("browse_tile_sizes", tuple(TILE_SIZES), "browse_tile_size", single=True,
                                 label="Size")  # fmt: skip
    f = Filter(
        category=category,
        text=text.strip() or None,
        split=split,
        annotated=ANNOTATED[annotated],
        has_errors=True if errors else None,
    )
    return f, per_page, size


def show_statistics(ws: Workspace, f: Filter, labels: dict[int, str]) -> None:
    import altair as alt
    import pandas as pd

    stats = uc.statistics(ws, f)
    if stats.filtered:
        scope = f"the {stats.matching:,} images matching the filters"
        if stats.images < stats.matching:
            scope = f"the first {stats.images:,} of {stats.matching:,} images matching the filters"
        st.caption(f"Statistics of {scope}.")
    else:
        st.caption(f"Statistics of all {stats.images:,} images (no filter).")
    per_category = pd.DataFrame(
        [{"category": labels.get(c, str(c)), "images": n, "boxes": b, "color": uc.category_color(c)}
         for c, n, b in stats.per_category],
        columns=["category", "images", "boxes", "color"],
    )  # fmt: skip
    per_image = pd.DataFrame(stats.boxes_per_image, columns=["boxes", "images"])
    sizes = pd.DataFrame(stats.box_sizes, columns=["width", "height"])
    integer = alt.Axis(format="d", tickMinStep=1)
    panels = (
        ("Images per category", "No categories used.", alt.Chart(per_category).mark_bar().encode(
            x=alt.X("images:Q", title="images", axis=integer),
            y=alt.Y("category:N", sort="-x", title=None),
            color=alt.Color("color:N", scale=None, legend=None),
            tooltip=["category", "images", "boxes"],
        )),
        ("Boxes per image", "No images.", alt.Chart(per_image).mark_bar().encode(
            x=alt.X("boxes:Q", title="boxes in the image", axis=integer, bin=alt.Bin(step=1)),
            y=alt.Y("images:Q", title="images", axis=integer),
        )),
        ("Box sizes (pixels)", "No boxes.", alt.Chart(sizes).mark_circle(opacity=0.5, size=18).encode(
            x=alt.X("width:Q", title="width"), y=alt.Y("height:Q", title="height"),
        )),
    )  # fmt: skip
    for column, (title, empty, chart) in zip(st.columns(3), panels, strict=True):
        with column:
            st.markdown(f"**{title}**")
            if chart.data.empty:
                st.caption(empty)
            else:
                st.altair_chart(chart, width="stretch")


def unreadable(ws: Workspace) -> None:
    lines = uc.unreadable_lines(ws)
    if not lines:
        return
    import pandas as pd

    with st.expander(f"{len(lines):,} metadata line(s) cannot be read", icon=":material/warning:"):
        st.dataframe(
            pd.DataFrame([(x.file, x.line, x.code, x.message) for x in lines],
                         columns=["file", "line", "code", "problem"]),
            hide_index=True, width="stretch",
        )  # fmt: skip
        st.page_link(ui.PAGE_VALIDATE, label="Fix them on the Validate page", icon=":material/fact_check:")


def tile_caption(annotation, labels: dict[int, str]) -> str:  # noqa: ANN001
    used = sorted({box.category for box in annotation.boxes} | set(annotation.categories))
    names = ", ".join(labels.get(c, str(c)) for c in used) or "no labels"
    return f"{len(annotation.boxes)} boxes · {names}"


def gallery(ws: Workspace, f: Filter, per_page: int, size: str, labels: dict[int, str]) -> None:
    frame = TILE_SIZES[size]
    # a new filter starts again at page 1 (the key changes with the filter)
    pages = uc.page_count(ws, f, per_page)
    if pages == 0:
        st.info("No image matches these filters.", icon=":material/filter_alt_off:")
        st.button("Clear filters", icon=":material/filter_alt_off:", on_click=_clear_filters,
                  key="browse_clear")  # fmt: skip
        return
    number = st.pagination(pages, key=f"browse_page:{hash((f, per_page))}", max_visible_pages=9)
    page = uc.gallery(ws, f, int(number or 1), per_page)
    st.caption(f"{page.offset + 1:,}-{page.offset + len(page.items):,} of {page.total:,} images")
    names = tuple(labels.get(i, str(i)) for i in range(max(labels, default=-1) + 1))
    tiles, problems = [], []
    for annotation in page.items:
        split, file_name = annotation.split, annotation.file_name
        drawn = tile(uc.picture(ws, annotation), names, frame)  # a bad image is one tile's problem
        caption = tile_caption(annotation, labels)
        data = drawn.jpeg
        if data is None:
            caption = drawn.problem or "the image cannot be shown"
            problems.append(f"{file_name}: {caption}")
            data = blank_tile(frame)
        tiles.append(_gallery.Tile(split, file_name, data, caption, ui.annotate_url(split, file_name)))
    for problem in problems:
        st.warning(ui.plain(problem), icon=":material/broken_image:")
    action = _gallery.gallery(tiles, frame, key="browse_tiles")
    assign_selection(ws, [(a.split, a.file_name) for a in page.items])
    if action is not None and action.kind == "annotate":
        ui.open_in_annotate(action.split, action.file_name)
    elif action is not None:
        preview(ws, action.split, action.file_name, names)


def assign_selection(ws: Workspace, keys: list[tuple[str, str]]) -> None:
    """Admins (team mode): hand a selection of this page's images to a user (the Team page assigns splits)."""
    user = session.current_user()
    if not session.team_mode() or not access.may_assign(user):
        return
    with st.expander("Assign images of this page", icon=":material/assignment_ind:"):
        chosen = st.multiselect("Images", keys, format_func=lambda k: f"{k[0]}/{k[1]}",
                                key="browse_assign_keys")  # fmt: skip
        people = access.assignees(session.accounts(), user)
        to = st.selectbox("To", [*people, None], key="browse_assign_to",
                          format_func=lambda v: "Nobody (unassign)" if v is None else v)  # fmt: skip
        if st.button("Assign", key="browse_assign", icon=":material/assignment_ind:", disabled=not chosen):
            with ui.guard("Assigning"):
                st.success(ui.plain(review.assign(ws, user, to, keys=chosen)))


@st.fragment(run_every=1.0)
def validation_progress(ws: Workspace) -> None:
    """The background validation's progress while it runs; when it ends the page runs again, so "With
    errors" and the counts show what it found."""
    job = checking.start_validation(ws)
    if not job.running:
        st.rerun()
    st.progress(job.fraction(), text=checking.validation_status(ws))


def body(ws: Workspace) -> None:
    from opsml_image.usecases.annotate import classes  # loaded on use: Browse is the first page drawn

    st.title("Browse")
    labels = {c.id: c.name for c in classes(ws)}
    unreadable(ws)
    f, per_page, size = filters(ws, labels)
    job = checking.start_validation(ws)
    if job.running:
        validation_progress(ws)
    elif job.error:
        message = ui.describe_relative(RuntimeError(checking.validation_status(ws)), ws.path)
        st.warning(ui.plain(message), icon=":material/warning:")
    if STATISTICS in ui.choice_buttons("browse_stats_choice", (STATISTICS,), "browse_stats"):
        with st.container(border=True):
            show_statistics(ws, f, labels)
    with st.container(key="browse_gallery"):
        gallery(ws, f, per_page, size, labels)


ui.run_page(body, "The Browse page")
