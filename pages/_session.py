"""Per-session and per-server state of the app: who is signed in, which folder a session has open, the
shared workspaces, accounts and registry. Only state lives here; what to show is in :mod:`pages._widgets`,
what to do in :mod:`opsml_image.usecases`.

Signing in: a password log-in keeps its session token in this session's state and in the ``opsml_session``
cookie, so a reload finds it again in ``st.context.cookies``. The server sets that cookie (``HttpOnly``,
``SameSite=Strict``): the page posts a one-time code for it (:func:`cookie_request`), never the token.
With ``[auth]`` in ``.streamlit/secrets.toml`` an OIDC sign-in (``st.login``) maps ``st.user.email`` to an
account. :func:`current_user` looks the user up at every call, so a removed user or a changed role applies
at that user's next action.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

from opsml_image.usecases import LOCAL_ADMIN, User, UserError, Workspace, access, checking, register
from opsml_image.usecases.access import Accounts
from opsml_image.usecases.create import creation_folder as _creation_folder
from opsml_image.usecases.workspace import check_in_place, demo_folder, open_workspace, startup_folder

# The server half of the app (the cookie route), not a library layer: the one import of pages beyond the
# use cases (see the pages contract in pyproject.toml).
from opsml_image.web import asgi, handoff

#: Session state key of the folder this browser session has open.
SESSION_DIR = "opsml_data_dir"
#: Session state key of this session's log-in token ("" after logging out: the cookie is not read again).
SESSION_TOKEN = "opsml_session_token"
#: The cookie that keeps the token over a reload (set by the server: :mod:`opsml_image.web.asgi`).
COOKIE = asgi.COOKIE
#: Session state keys: the cookie post this session's browser is asked to make, and the token it is for.
COOKIE_REQUEST = "opsml_cookie_request"
COOKIE_FOR = "opsml_cookie_for"


def _cli_data_dir(argv: list[str]) -> str | None:
    """``--data-dir DIR`` or ``--data-dir=DIR`` from the arguments after ``streamlit run app.py --``."""
    for i, arg in enumerate(argv):
        if arg == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--data-dir="):
            return arg.split("=", 1)[1]
    return None


@st.cache_resource(show_spinner=False)
def _last_folders() -> access.LastFolders:
    return access.LastFolders(accounts().engine)


@st.cache_resource(show_spinner=False)
def accounts() -> Accounts:
    """The accounts in the app's database, shared by all sessions."""
    return access.open_accounts()


@st.cache_resource(show_spinner=False)
def _team_seen() -> list[bool]:
    return []


def team_mode() -> bool:
    """True once accounts exist: everyone signs in (else single-user mode, the local admin). A server that
    has been in team mode stays in it: removing every account (which ``users remove`` refuses for the last
    admin anyway) leaves a server nobody can sign in to, never one that serves anonymous users."""
    seen = _team_seen()
    if seen or access.has_accounts(accounts()):
        seen[:1] = [True]
        return True
    return False


def oidc_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (sign-in through ``st.login``)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file, or one that cannot be read: no OIDC
        return False


def oidc_email() -> str | None:
    """The e-mail of the OIDC identity signed in to this browser, or None."""
    if not oidc_configured() or not st.user.is_logged_in:
        return None
    email = st.user.get("email")
    return str(email) if email else ""


def token() -> str | None:
    """This session's log-in token: the one it logged in with, else the cookie's (after a reload)."""
    kept = st.session_state.get(SESSION_TOKEN)
    if kept is not None:
        return kept or None
    return st.context.cookies.get(COOKIE) or None


def current_user() -> User | None:
    """Who is acting now, with the role they have now; None when nobody (valid) is signed in."""
    if not team_mode():
        return LOCAL_ADMIN
    return access.session_user(accounts(), token=token(), email=oidc_email())


def cookie_request(signed_in: bool, max_age: int) -> dict[str, str] | None:
    """What the browser must post to keep the cookie in step: a code for this session's token after a
    log-in, the end of a cookie whose token no longer signs anyone in, or None when it is in step."""
    kept = token() if signed_in else None
    in_browser = st.context.cookies.get(COOKIE) or None
    if kept == in_browser:
        return None
    if st.session_state.get(COOKIE_FOR) != (kept or ""):
        if kept:
            code = handoff.issue(kept, max_age)
            request = {"url": asgi.SESSION_URL, "code": code, "nonce": code[:16]}
        else:
            request = {"url": asgi.END_URL, "code": "", "nonce": os.urandom(8).hex()}
        st.session_state[COOKIE_REQUEST] = request
        st.session_state[COOKIE_FOR] = kept or ""
    request = st.session_state.get(COOKIE_REQUEST)
    return dict(request) if request else None


def log_in(name: str, password: str) -> User:
    """Check the password (AuthError when wrong, slowed down) and keep the new session token."""
    client = st.context.ip_address or "unknown"
    found, new_token = access.log_in(accounts(), name, password, client)
    st.session_state[SESSION_TOKEN] = new_token
    st.session_state.pop(SESSION_DIR, None)
    return found


def log_out() -> None:
    """End this session's log-in server-side; the cookie is cleared at the next run."""
    access.log_out(accounts(), token())
    st.session_state[SESSION_TOKEN] = ""
    st.session_state.pop(SESSION_DIR, None)


def roots() -> list[Path]:
    """The data roots: ``OPSML_IMAGE_DATA_ROOTS``, else the start-up folder and ``<home>/datasets``."""
    return access.roots(startup_dir())


def creation_folder() -> Path:
    """Where New dataset and Import offer to create: ``<home>/datasets`` when it lies in a data root, else
    the first root."""
    return _creation_folder(roots())


def startup_dir() -> Path:
    """The folder named at start-up: ``--data-dir``, else ``OPSML_IMAGE_DIR``, else the demo working copy."""
    return startup_folder(_cli_data_dir(sys.argv[1:]))


def demo_dir() -> Path:
    """``<home>/demo``: a working copy of the shipped demo dataset (made on first use, never overwritten)."""
    return demo_folder()


def data_dir() -> Path:
    """The folder this browser session has open; a new session opens its user's last one, else the
    start-up folder."""
    chosen = st.session_state.get(SESSION_DIR)
    if chosen:
        return Path(chosen)
    acting = current_user()
    path = _usable(_last_folders().get(acting) if acting else None) or startup_dir()
    st.session_state[SESSION_DIR] = str(path)
    return path


def _usable(folder: Path | None) -> Path | None:
    """A user's last folder while it lies inside a data root and opens as a dataset (else the session
    starts on the start-up folder, not on an error)."""
    return access.LastFolders.usable(folder, roots(), lambda real: check_in_place(_workspace(str(real))))


def open_folder(path: Path) -> None:
    """Open a folder (checked by the caller: :func:`opsml_image.usecases.access.open_folder`) in this
    browser session only; once it opens as a dataset it becomes the acting user's folder for their next new
    session (one that does not open shows its error here and is not remembered)."""
    path = Path(path).expanduser().resolve()
    st.session_state[SESSION_DIR] = str(path)

    def opens(real: Path) -> None:  # a workspace whose folder was replaced since is opened anew
        try:
            check_in_place(_workspace(str(real)))
        except UserError:
            reopen_workspace(real)
            _workspace(str(real))

    acting = current_user()
    if acting is not None and access.LastFolders.usable(path, roots(), opens) is not None:
        _last_folders().set(acting, path)  # only a folder that opens is remembered


# One entry per folder opened since the server started, kept open: a session may be using any of them, and
# evicting one would close its store under that session.
@st.cache_resource(show_spinner="Opening the dataset...", on_release=Workspace.close)
def _workspace(path: str) -> Workspace:
    ws = open_workspace(Path(path))
    checking.start_validation(ws)  # "With errors" is current without a visit to Validate
    return ws


def workspace() -> Workspace:
    """This session's open dataset, its store and flusher; UserError with the reason when it cannot open."""
    path = data_dir()
    try:
        return _workspace(str(path))
    except UserError as error:
        hint = "Start the app with --data-dir DIR or create a dataset on the New dataset page."
        raise UserError(f"{error} {hint}") from None


def reopen_workspace(path: Path) -> None:
    """Forget the workspace of ``path`` (after its folder changed on disk, e.g. a new split)."""
    _workspace.clear(str(Path(path).expanduser().resolve()))


@st.cache_resource(show_spinner=False)
def registry() -> register.CardRegistry:
    """The data card registry (``CardRegistry("data")``) shared by all sessions; a :class:`UserError` when
    it cannot be opened."""
    return register.open_registry()
