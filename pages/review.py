"""Review: the queue of submitted images (filter by annotator, class, split), the image with its boxes,
Approve (A) and Reject (R) with a required comment and issue tags; after each decision the next image opens.

A thin view over :mod:`opsml_image.usecases.review`; the role check is there (reviewers and admins).
A correction opens the image on Annotate: the reviewer's edit is recorded as theirs and the image stays
in the queue at its corrected version.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from opsml_image.usecases import Action, User, Workspace, browse, can, review
from opsml_image.usecases.review import ReviewItem
from opsml_image.usecases.workspace import splits
from pages import _session as session
from pages import _widgets as ui

PAGE_SIZE = 50
FLASH = "review_flash"
SHORTCUTS = "A approve · R reject (comment and an issue tag first) · N skip · P previous"


# Streamlit keeps R (rerun) for itself: this element catches R first (outside text fields) and clicks Reject.
_REJECT_KEY_JS = """
export default function(component) {
    const typing = (event) => {
        const tag = (event.composedPath()[0] || {}).tagName || '';
        return ['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || event.target.isContentEditable;
    };
    const onKey = (event) => {
        if (event.key !== 'r' && event.key !== 'R') return;
        if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
        const button = document.querySelector('.st-key-review_reject button');
        if (!button) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        button.click();
    };
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
}
"""
_reject_key = st.components.v2.component("opsml_review_reject_key", js=_REJECT_KEY_JS)


@st.cache_data(show_spinner=False, max_entries=32)
def rendering(picture: browse.Picture, names: tuple[str, ...]) -> browse.Drawn:
    """The image with its boxes drawn, or why it cannot be shown (cached by file and boxes)."""
    return browse.render_preview(picture, names)


def _decide(ws: Workspace, item: ReviewItem, approve: bool) -> None:
    """Approve or reject as the user signed in *now*, with their role now (a callback runs before the
    sign-in gate: a role changed, a password reset or an account removed since the button was drawn
    counts)."""
    comment = st.session_state.get("review_comment") or ""
    tags = st.session_state.get("review_tags") or []
    done = review.decide(ws, session.current_user(), item.key, approve, item.rev, comment, tags)
    st.session_state[FLASH] = ("success" if done.ok else "error", done.message)
    if done.ok or done.status in ("taken", "stale"):
        st.session_state["review_comment"] = ""
        st.session_state["review_tags"] = []
        st.session_state.pop("review_key", None)  # the next image of the queue opens


def _move(items: list[ReviewItem], at: int, step: int) -> None:
    if items:
        st.session_state["review_key"] = items[(at + step) % len(items)].key
        st.session_state["review_comment"] = ""
        st.session_state["review_tags"] = []


def filters(ws: Workspace, user: User | None) -> review.QueueFilter:
    names = browse.category_names(ws)
    cols = st.columns(3)
    annotator = cols[0].selectbox(
        "Annotator", [None, *review.annotators(ws, user)], format_func=lambda v: "All" if v is None else v,
        key="review_annotator",
    )  # fmt: skip
    categories = [None, *range(len(names))]
    category = cols[1].selectbox(
        "Class", categories, format_func=lambda c: "All" if c is None else ui.label_of(c, names),
        key="review_class",
    )  # fmt: skip
    split = cols[2].selectbox(
        "Split",
        [None, *splits(ws)],
        format_func=lambda v: "All" if v is None else v,
        key="review_split",
    )
    return review.QueueFilter(annotator=annotator, category=category, split=split)


def show_item(ws: Workspace, item: ReviewItem) -> None:
    split, file_name = item.key
    annotation = browse.record(ws, split, file_name)
    names = tuple(browse.category_names(ws))
    when = datetime.fromtimestamp(item.submitted_at).strftime("%Y-%m-%d %H:%M") if item.submitted_at else "?"
    st.text(f"{split}/{file_name} · by {item.annotator or '?'} · submitted {when}")
    if annotation is None:
        st.warning("This image is no longer in the dataset.")
        return
    drawn = rendering(browse.picture(ws, annotation), names)  # an image linked outside the folder: why not
    if drawn.jpeg is None:
        st.warning(ui.plain(drawn.problem), icon=":material/broken_image:")
    else:
        st.image(drawn.jpeg, width="stretch")
    if annotation.caption:
        st.text(annotation.caption)
    if annotation.boxes:
        import pandas as pd

        rows = [(ui.label_of(b.category, list(names)), b.x, b.y, b.w, b.h) for b in annotation.boxes]
        st.dataframe(
            pd.DataFrame(rows, columns=["class", "x", "y", "w", "h"]), hide_index=True, width="stretch"
        )
    else:
        st.caption("No boxes.")


def body(ws: Workspace) -> None:
    user = session.current_user()
    st.title("Review")
    if not can(user, Action.REVIEW):
        st.error("This page is for reviewers and admins.", icon=":material/block:")
        return
    flash = st.session_state.pop(FLASH, None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(ui.plain(flash[1]))
    f = filters(ws, user)
    items, total = review.queue(ws, user, f, 0, PAGE_SIZE)
    st.caption(
        f"{total:,} image(s) wait for review"
        + (f"; the oldest {PAGE_SIZE} are listed" if total > PAGE_SIZE else "")
    )
    if not items:
        st.info("Nothing waits for review under these filters.")
        return
    keys = [i.key for i in items]
    wanted = st.session_state.get("review_key")
    at = keys.index(wanted) if wanted in keys else 0
    item = items[at]
    st.session_state["review_key"] = item.key
    left, right = st.columns([2.4, 1.6], gap="medium")
    with left:
        show_item(ws, item)
    with right:
        st.text(f"Image {at + 1} of {len(items)}")
        st.text_area("Comment", key="review_comment", placeholder="What should the annotator fix?")
        st.pills("Issue tags", review.ISSUE_TAGS, selection_mode="multi", key="review_tags")
        cols = st.columns(2)
        cols[0].button("Approve", key="review_approve", shortcut="A", icon=":material/check:", type="primary",
                       width="stretch", on_click=_decide, args=(ws, item, True))  # fmt: skip
        cols[1].button("Reject", key="review_reject", icon=":material/close:", width="stretch",
                       help="Reject (R)", on_click=_decide, args=(ws, item, False))  # fmt: skip
        _reject_key(key="review_keys")
        cols = st.columns(2)
        cols[0].button("Previous", key="review_prev", shortcut="P", icon=":material/arrow_back:",
                       width="stretch", on_click=_move, args=(items, at, -1))  # fmt: skip
        cols[1].button("Skip", key="review_next", shortcut="N", icon=":material/arrow_forward:",
                       width="stretch", on_click=_move, args=(items, at, 1))  # fmt: skip
        if st.button("Correct the boxes on Annotate", key="review_correct", icon=":material/edit:"):
            ui.open_in_annotate(*item.key)
        st.caption(SHORTCUTS)


ui.run_page(body, "The Review page")
