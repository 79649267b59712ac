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

Passwords are hashed with Argon2id (argon2-cffi). Names are lower case ``a-z 0-9 . _ @ -``.

Log-in and sessions::

    user = accounts.authenticate(name, password, client=ip)   # User, or AuthError (.retry_after seconds)
    token = accounts.issue_session(user)           # put it in a cookie
    accounts.session_user(token)                   # User with the *current* role, or None
    accounts.current_user(token)                   # the same, or LOCAL_ADMIN in single-user mode
    accounts.revoke(token)                         # log out

:class:`AuthError` says "Wrong user name or password." whether the user exists or not (an unknown name
costs the same Argon2 time). After 3 failures for a name or a client, each further failure locks it for
1, 2, 4, 8 ... s (at most 15 min; :mod:`opsml_image.auth.ratelimit`); the counts are in the database, so
every server applies them. A token is ``<random id>.<HMAC-SHA256>`` signed with ``OPSML_IMAGE_SECRET`` or a
secret made once and kept in the database; it expires after ``OPSML_IMAGE_SESSION_HOURS`` (default 12)
and is revocable: the sessions table holds a hash of each live id.

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
    "data_roots",
    "require",
    "resolve_in_roots",
    "session_hours",
]
