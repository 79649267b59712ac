"""Team: per annotator (images submitted, boxes, approval rate, median time per image, rejections by tag),
per reviewer (decisions), progress over time, images per status; altair plots and a CSV download. Admins
assign a split or a list of images to a user here.

A thin view over :mod:`opsml_image.usecases.review` (reviewers and admins; the role check is there).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from opsml_image.usecases import Action, User, Workspace, access, can, review
from opsml_image.usecases.workspace import splits
from pages import _session as session
from pages import _widgets as ui


def assignment(ws: Workspace, user: User | None) -> None:
    with st.expander("Assign work (admins)"):
        people = access.assignees(session.accounts(), user)  # none: type the name
        cols = st.columns(2)
        if people:
            to = cols[0].selectbox("To", [*people, None], key="team_assign_to",
                                   format_func=lambda v: "Nobody (unassign)" if v is None else v)  # fmt: skip
        else:
            to = (
                cols[0].text_input("To (user name; empty: unassign)", key="team_assign_to_text").strip()
                or None
            )
        what = cols[1].radio("What", ["A split", "Listed images"], key="team_assign_what", horizontal=True)
        if what == "A split":
            split = st.selectbox("Split", splits(ws), key="team_assign_split")
            listed = ""
        else:
            split = None
            listed = st.text_area("Images, one split/file_name per line", key="team_assign_keys")
        if st.button("Assign", key="team_assign", icon=":material/assignment_ind:"):
            with ui.guard("Assigning"):
                keys = review.parse_keys(ws, listed) if split is None else []
                st.success(ui.plain(review.assign(ws, user, to, split=split, keys=keys)))


def body(ws: Workspace) -> None:
    user = session.current_user()
    st.title("Team")
    if not can(user, Action.REVIEW):
        st.error("This page is for reviewers and admins.", icon=":material/block:")
        return
    tables = review.team_tables(ws, user)
    st.subheader("Images per status")
    cols = st.columns(len(tables.status))
    for col, (label, n) in zip(cols, tables.status.items(), strict=True):
        col.metric(label.capitalize(), f"{n:,}")
    st.download_button("Download CSV", tables.csv(), file_name="team.csv", mime="text/csv", key="team_csv",
                       icon=":material/download:")  # fmt: skip
    st.subheader("Annotators")
    if tables.annotators:
        people = pd.DataFrame(tables.annotators)
        st.dataframe(people, hide_index=True, width="stretch", key="team_annotators")
        rate = people.dropna(subset=["approval_rate"])
        if not rate.empty:
            st.altair_chart(
                alt.Chart(rate)
                .mark_bar()
                .encode(
                    x=alt.X("user:N", title="Annotator"),
                    y=alt.Y("approval_rate:Q", title="Approval rate", scale=alt.Scale(domain=[0, 1])),
                    tooltip=["user", "approved", "rejected", "approval_rate"],
                ),
                width="stretch",
            )
    else:
        st.info("Nobody has submitted an image yet.")
    if tables.rejections:
        st.subheader("Rejections by issue tag")
        st.altair_chart(
            alt.Chart(pd.DataFrame(tables.rejections))
            .mark_bar()
            .encode(
                x=alt.X("user:N", title="Annotator"),
                y=alt.Y("rejections:Q", title="Rejections", axis=alt.Axis(tickMinStep=1)),
                color=alt.Color("tag:N", title="Issue"),
                tooltip=["user", "tag", "rejections"],
            ),
            width="stretch",
        )
    st.subheader("Reviewers")
    if tables.reviewers:
        st.dataframe(pd.DataFrame(tables.reviewers), hide_index=True, width="stretch", key="team_reviewers")
    else:
        st.info("No decisions yet.")
    if tables.progress:
        st.subheader("Progress over time")
        st.altair_chart(
            alt.Chart(pd.DataFrame(tables.progress))
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title="Day"),
                y=alt.Y("images:Q", title="Images", axis=alt.Axis(tickMinStep=1)),
                color=alt.Color("action:N", title=""),
                tooltip=["day", "action", "images"],
            ),
            width="stretch",
        )
    if access.may_assign(user):
        assignment(ws, user)


ui.run_page(body, "The Team page")
