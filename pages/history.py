"""History (admins): the open dataset's changes by user and time, newest first, as a table of text."""

from __future__ import annotations

from datetime import datetime, time

import pandas as pd
import streamlit as st

from opsml_image.usecases import Workspace, access
from pages import _session as session
from pages import _widgets as ui


def body(ws: Workspace) -> None:
    st.title("History")
    st.caption("Every change to this dataset's annotations: who made it, when and what.")
    left, middle, right = st.columns(3)
    who = left.text_input("User (blank: everyone)", key="history_user").strip().lower()
    day = middle.date_input("Since", value=None, key="history_since")
    limit = right.number_input("At most", min_value=10, max_value=100_000, value=500, step=100,
                               key="history_limit")  # fmt: skip
    since = datetime.combine(day, time.min) if day else None
    rows = access.changes(ws, session.current_user(), who=who or None, since=since, limit=int(limit))
    if not rows:
        st.info("No changes match.")
        return
    frame = pd.DataFrame(
        [
            {
                "when": r.at,
                "who": r.user,
                "split": r.split,
                "file": r.file_name,
                "action": r.action,
                "what": r.what,
            }  # fmt: skip
            for r in rows
        ]
    )
    st.text(f"{len(rows):,} change(s), newest first")
    st.dataframe(frame, hide_index=True, width="stretch")


ui.run_page(body, "The history")
