"""Accounts, roles, sessions and data roots: the library side of serving the app to a team.

Accounts live in the app's database (``OPSML_IMAGE_STORE_URI``, else ``sqlite:///<home>/app.db``;
tables ``auth_*``). Without any account the app is in **single-user mode**: :meth:`Accounts.current_user`
gives :data:`LOCAL_ADMIN`.

Users and roles (:class:`Accounts`; the CLI is ``python -m opsml_image users ...``)::

    accounts = Accounts()                          # or Accounts("postgresql+psycopg://...")
    accounts.add_user("ana", "reviewer", password="correct horse", email="ana@example.com")
    accounts.set_role("ana", Role.ADMIN); accounts.set_password("ana", "...")   # passwd ends her sessions
    accounts.remove_user("ana")                    # her sessions end too
    accounts.list_users()                          # [Account(name, role, email, has_password, ...)]
    accounts.user_by_email("ana@example.com")      # OIDC: the signed-in e-mail gives the User and role

Passwords are hashed with Argon2id (argon2-cffi). Names are lower case ``a-z 0-9 . _ @ -``. Removing or
demoting the last admin, and removing the last account, are refused (:class:`AccountError`): without
accounts the app is open to anyone as an admin. The check and the change are one transaction that locks
every user row (``FOR UPDATE``; ``BEGIN IMMEDIATE`` on SQLite), so two admins removed at once cannot both go.

Log-in and sessions::

    ip = client_address(peer, x_forwarded_for, config.trusted_proxies())  # X-Forwarded-For only from a proxy
    user = accounts.authenticate(name, password, client=ip)   # User, or AuthError (.retry_after seconds)
    token = accounts.issue_session(user)           # put it in a cookie
    accounts.session_user(token)                   # User with the *current* role, or None
    accounts.current_user(token)                   # the same, or LOCAL_ADMIN in single-user mode
    accounts.revoke(token)                         # log out

:class:`AuthError` says "Wrong user name or password." whether the user exists or not (an unknown name
costs the same Argon2 time). Each attempt is counted in the database before its password is checked
(:mod:`opsml_image.auth.ratelimit`), per name and client (3 at once, then 1, 2, 4 ... s apart, at most
15 min), per client over all names (10 at once, then the same) and per name (applied only to clients that
have failed on it): parallel attempts get no more checks than the budget, and a name under attack still
opens at once for its owner from a client that has not failed. A token is ``<random id>.<HMAC-SHA256>``
signed with ``OPSML_IMAGE_SECRET`` or a secret made once and kept in the database; it expires after
``OPSML_IMAGE_SESSION_HOURS`` (default 12) and is revocable: the sessions table holds a hash of each live id.
The app database, when it is the default SQLite file, is made 0600 in a 0700 home.

Permissions (:mod:`opsml_image.auth.permissions`)::

    require(user, Action.REGISTER)                 # Forbidden unless the role allows it
    can(user, "apply_fix")                         # bool

Annotators browse, annotate, submit, validate and export; reviewers also review, apply fixes and edit
classes; admins may do everything (register, open folders, create datasets, import, view history, manage
users).

Data roots (:mod:`opsml_image.auth.roots`)::

    data_roots()                                   # OPSML_IMAGE_DATA_ROOTS (os.pathsep separated), else
                                                   # [OPSML_IMAGE_DIR, <home>/datasets]
    resolve_in_roots("/data/team/set1")            # the real Path, or OutsideRootsError (same message
                                                   # whether the path exists or not); FIFOs etc. Forbidden
"""

from __future__ import annotations

from opsml_image.auth.accounts import Account, Accounts, session_hours
from opsml_image.auth.clients import client_address
from opsml_image.auth.errors import AccountError, AuthError, Forbidden, OutsideRootsError
from opsml_image.auth.permissions import LOCAL_ADMIN, ROLE_ACTIONS, Action, Role, User, can, require
from opsml_image.auth.roots import data_roots, resolve_in_roots

__all__ = [
    "Account",
    "AccountError",
    "Accounts",
    "Action",
    "AuthError",
    "Forbidden",
    "LOCAL_ADMIN",
    "OutsideRootsError",
    "ROLE_ACTIONS",
    "Role",
    "User",
    "can",
    "client_address",
    "data_roots",
    "require",
    "resolve_in_roots",
    "session_hours",
]
