"""Signing in, shown by ``app.py`` before any page: who acts this run, or the log-in form and a stop.

Single-user mode (no accounts) signs nobody in: the local admin acts. In team mode a session token (this
session's, else the cookie's) or an OIDC identity (``st.login``, mapped to an account by e-mail) names the
user; otherwise the form asks for **Username** and **Password**.
"""

from __future__ import annotations

import streamlit as st

from opsml_image.usecases import User, access
from pages import _session as session
from pages import _widgets as ui


def gate() -> User:
    """The user acting in this run; without one, the sign-in screen is the only page and the run stops."""
    if not session.team_mode():
        return access.LOCAL_ADMIN
    user = session.current_user()
    ui.cookie_exchange(session.cookie_request(user is not None, int(access.session_hours() * 3600)))
    if user is not None:
        return user
    # st.navigation runs even here: Streamlit then never serves a file of pages/ on its own. Every page's
    # URL shows the form (no "page not found"), and after logging in the user is on the page they asked for.
    deep = [st.Page(screen, title="Log in", url_path=path, visibility="hidden") for path in _urls()]
    start = st.Page(screen, title="Log in", url_path="login", default=True)
    st.navigation([start, *deep], position="hidden").run()
    st.stop()
    raise AssertionError("st.stop() returned")  # pragma: no cover - st.stop raises


def _urls() -> list[str]:
    return sorted({"home", *access.PAGE_ACTIONS} - {"login"})


def screen() -> None:
    """The sign-in screen: OIDC's refusal of an unknown e-mail, or the log-in form."""
    email = session.oidc_email()
    if email is not None:
        _unknown_identity(email)
    else:
        _form()


def _unknown_identity(email: str) -> None:
    with ui.guard("Signing in"):
        access.oidc_user(session.accounts(), email)
    if st.button("Sign out", key="oidc_sign_out"):
        st.logout()


def _form() -> None:
    st.title("OpsML Image")
    column, _ = st.columns([2, 3])
    with column:
        _fields()


def _fields() -> None:
    if session.oidc_configured():
        st.button("Sign in with single sign-on", key="oidc_sign_in", type="primary", on_click=st.login)
        st.caption("Or with a user name and password:")
    with st.form("login"):
        name = st.text_input("Username", key="login_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="login_password",
                                 autocomplete="current-password")  # fmt: skip
        if st.form_submit_button("Log in", type="primary"):
            with ui.guard("Logging in"):
                with st.spinner("Checking..."):
                    session.log_in(name, password)
                st.rerun()


if __name__ == "__main__":  # served by URL as a legacy page of pages/: run app.py (and its gate) instead
    from pages._legacy import leave_legacy_pages

    leave_legacy_pages()
