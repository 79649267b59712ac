"""Users (admins): every account with its role, e-mail and live sessions; add, change role or e-mail,
remove. Each action goes through :mod:`opsml_image.usecases.access`, which checks the role again."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from opsml_image.usecases import access
from pages import _session as session
from pages import _widgets as ui
from pages._legacy import leave_legacy_pages

ROLES = list(access.ROLES)
KEEP = "(keep)"


def _table() -> None:
    accounts = access.users(session.accounts(), session.current_user())
    frame = pd.DataFrame(
        [
            {
                "user": a.name,
                "role": a.role.value,
                "e-mail": a.email or "",
                "password": "yes" if a.has_password else "no (OIDC only)",
                "live sessions": a.sessions,
                "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(a.created_at)),
            }
            for a in accounts
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")


def _add() -> None:
    with st.form("users_add", clear_on_submit=True):
        st.subheader("Add a user")
        name = st.text_input("User name", key="users_add_name")
        role = st.selectbox("Role", ROLES, key="users_add_role")
        password = st.text_input("Password (8+ characters)", type="password", key="users_add_password")
        email = st.text_input("E-mail (for single sign-on)", key="users_add_email")
        if st.form_submit_button("Add user"):
            added = access.add_user(session.accounts(), session.current_user(), name, role, password, email)
            st.success(f"Added {ui.plain(added.label)}.")


def _change(names: list[str]) -> None:
    with st.form("users_change"):
        st.subheader("Change a user")
        name = st.selectbox("User", names, key="users_change_name")
        role = st.selectbox("New role", [KEEP, *ROLES], key="users_change_role")
        email = st.text_input("New e-mail (blank: leave as is)", key="users_change_email")
        password = st.text_input("New password (blank: keep)", type="password", key="users_change_password")
        if st.form_submit_button("Change") and name:
            if role != KEEP:
                access.set_role(session.accounts(), session.current_user(), name, role)
            if email.strip():
                access.set_email(session.accounts(), session.current_user(), name, email)
            if password:
                access.set_password(session.accounts(), session.current_user(), name, password)
            st.success(f"{ui.plain(name)} changed: it applies at that user's next action.")


def _remove(names: list[str]) -> None:
    with st.form("users_remove"):
        st.subheader("Remove a user")
        name = st.selectbox("User", names, key="users_remove_name")
        sure = st.checkbox("Yes, remove this user and end their sessions", key="users_remove_sure")
        if st.form_submit_button("Remove") and name:
            if not sure:
                st.warning("Tick the box to confirm.")
            else:
                access.remove_user(session.accounts(), session.current_user(), name)
                st.success(f"Removed {ui.plain(name)}.")


def main() -> None:
    st.title("Users")
    st.caption(
        "Annotators browse, annotate and submit; reviewers also apply fixes and edit classes; admins also "
        "register, open folders, create and import datasets, see the history and manage users."
    )
    names = [a.name for a in access.users(session.accounts(), session.current_user())]
    left, middle, right = st.columns(3)
    with left, ui.guard("Adding a user"):
        _add()
    with middle, ui.guard("Changing a user"):
        _change(names)
    with right, ui.guard("Removing a user"):
        _remove(names)
    st.subheader("Accounts")
    _table()


leave_legacy_pages()
with ui.guard("Users"):
    main()
