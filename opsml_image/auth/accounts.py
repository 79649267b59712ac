"""Accounts in the app's database: users and roles, log-in with slow-down, server-side sessions.

:class:`Accounts` holds one engine. Every method is short transactions, so several app servers sharing one
database (PostgreSQL) see the same users, sessions and failure counts; a change that reads before it writes
locks its rows (``FOR UPDATE``; ``BEGIN IMMEDIATE`` on SQLite). A session is looked up with its user at each
call: removing the user or changing the role takes effect on the user's next action.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsml_image import config
from opsml_image.auth import ratelimit
from opsml_image.auth.db import database_url, make_engine, sessions, settings, users, write
from opsml_image.auth.errors import AccountError, AuthError
from opsml_image.auth.passwords import hash_password, needs_rehash, rehash, verify_password
from opsml_image.auth.permissions import LOCAL_ADMIN, Role, User
from opsml_image.auth.tokens import new_secret, new_token, token_id_hash
from opsml_image.rules import string_problem

__all__ = ["Accounts", "Account", "session_hours"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_RESERVED = {LOCAL_ADMIN.name}
_WRONG = "Wrong user name or password."


def session_hours() -> float:
    """How long a session lasts: ``OPSML_IMAGE_SESSION_HOURS`` (default 12)."""
    return _settings().session_hours


def _settings() -> config.Settings:
    """The process's settings; a bad one is an :class:`AccountError` naming the variable and value."""
    try:
        return config.settings()
    except ValueError as error:
        raise AccountError(str(error)) from None


@dataclass(frozen=True, slots=True)
class Account:
    """A user as ``users list`` shows it."""

    name: str
    role: Role
    email: str | None
    has_password: bool
    created_at: float
    sessions: int


class Accounts:
    """Users, log-in and sessions in one database (``url`` default: :func:`.db.database_url`)."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine(url or database_url())
        self._secret: str | None = None

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ users

    def add_user(
        self, name: str, role: Role | str, password: str | None = None, email: str | None = None
    ) -> User:
        """Add an account; without a password it can only sign in through OIDC (by ``email``)."""
        name, role, email = normalise_name(name), parse_role(role), normalise_email(email)
        if password is None and email is None:
            raise AccountError("give a password (--password-stdin) or an e-mail for OIDC sign-in")
        digest = hash_password(password) if password is not None else None
        now = time.time()
        row = dict(
            name=name, role=role.value, email=email, password_hash=digest, created_at=now, updated_at=now
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(users).values(**row))
        except sa.exc.IntegrityError:
            taken = self.get_user(name) is not None
            what = f"a user named {name}" if taken else f"a user with the e-mail {email}"
            raise AccountError(f"there is already {what}") from None
        return User(name, role, email)

    def get_user(self, name: str) -> User | None:
        """The user of that name, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == _clean(name))).first()
        return _user(row) if row else None

    def user_by_email(self, email: str) -> User | None:
        """The user with this e-mail (OIDC maps a signed-in identity to its role this way), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.email == _clean(email))).first()
        return _user(row) if row else None

    def list_users(self) -> list[Account]:
        """Every account with its number of live sessions, by name."""
        now = time.time()
        live = (
            sa.select(sessions.c.user_name, sa.func.count().label("n"))
            .where(sessions.c.expires_at > now)
            .group_by(sessions.c.user_name)
            .subquery()
        )
        query = (
            sa.select(users, sa.func.coalesce(live.c.n, 0).label("live"))
            .select_from(users.outerjoin(live, live.c.user_name == users.c.name))
            .order_by(users.c.name)
        )
        with self.engine.connect() as conn:
            return [
                Account(r.name, Role(r.role), r.email, r.password_hash is not None, r.created_at, r.live)
                for r in conn.execute(query)
            ]

    def has_accounts(self) -> bool:
        """False in single-user mode (no account at all)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.name).limit(1)).first() is not None

    def set_role(self, name: str, role: Role | str) -> User:
        """Change a user's role; it applies to their live sessions at their next action. Demoting the last
        admin is refused (:class:`AccountError`)."""
        role = parse_role(role)
        with write(self.engine) as conn:
            user = _keep_an_admin(conn, name, role)
            conn.execute(
                sa.update(users)
                .where(users.c.name == user.name)
                .values(role=role.value, updated_at=time.time())
            )
        return User(user.name, role, user.email)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password and end every session of that user."""
        digest = hash_password(password)
        with write(self.engine) as conn:
            user = self._locked_user(conn, name)
            conn.execute(
                sa.update(users)
                .where(users.c.name == user.name)
                .values(password_hash=digest, updated_at=time.time())
            )
            conn.execute(sa.delete(sessions).where(sessions.c.user_name == user.name))

    def set_email(self, name: str, email: str | None) -> None:
        """Set (or clear) the e-mail an OIDC sign-in maps to this user."""
        email = normalise_email(email)
        try:
            with write(self.engine) as conn:
                user = self._locked_user(conn, name)
                conn.execute(sa.update(users).where(users.c.name == user.name).values(email=email))
        except sa.exc.IntegrityError:
            raise AccountError(f"there is already a user with the e-mail {email}") from None

    def remove_user(self, name: str) -> None:
        """Delete a user and every session of theirs (they are logged out at their next action).

        The last admin, and the last account of all, are refused: without accounts the app lets anyone in
        as an admin (single-user mode)."""
        with write(self.engine) as conn:
            user = _keep_an_admin(conn, name, None)
            conn.execute(sa.delete(sessions).where(sessions.c.user_name == user.name))
            conn.execute(sa.delete(users).where(users.c.name == user.name))

    # ------------------------------------------------------------------ log-in

    def authenticate(self, name: str, password: str, client: str = "unknown") -> User:
        """The user whose name and password these are, or :class:`AuthError` (same text for unknown names).

        ``client`` is the address :func:`~opsml_image.auth.clients.client_address` gives. The attempt is
        counted before the password is checked, and refused while too many have failed (see
        :mod:`opsml_image.auth.ratelimit`).
        """
        name = _clean(name)
        keys = ratelimit.Keys.of(name, _clean(client))
        turn = ratelimit.reserve(self.engine, keys, time.time())
        if turn.wait > 0:
            raise AuthError(_too_many(turn.wait), retry_after=turn.wait)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        stored = row.password_hash if row is not None else None
        if not verify_password(stored, password if isinstance(password, str) else ""):
            lock = max(0.0, turn.until - time.time())
            message = _WRONG + (f" {_too_many(lock)}" if lock else "")
            raise AuthError(message, retry_after=lock)
        assert row is not None and stored is not None
        ratelimit.succeeded(self.engine, keys, time.time())
        if needs_rehash(stored):
            with write(self.engine) as conn:
                conn.execute(
                    sa.update(users).where(users.c.name == name).values(password_hash=rehash(password))
                )
        return _user(row)

    # ------------------------------------------------------------------ sessions

    def issue_session(self, user: User, hours: float | None = None) -> str:
        """A new signed session token for ``user``, valid ``OPSML_IMAGE_SESSION_HOURS`` (default 12)."""
        now = time.time()
        token, id_hash = new_token(self.secret())
        expires = now + 3600 * (hours if hours is not None else session_hours())
        # a writer from its start: a deferred SQLite reader turned writer fails at once ("database is
        # locked") when another log-in wrote in between
        with write(self.engine) as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == user.name)).first() is None:
                raise AccountError(f"no user named {user.name}")
            conn.execute(sa.delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                sa.insert(sessions).values(
                    id_hash=id_hash, user_name=user.name, created_at=now, expires_at=expires
                )
            )
        return token

    def session_user(self, token: str | None) -> User | None:
        """The user of a live session with the current role, or None (bad, expired, revoked, user removed)."""
        id_hash = token_id_hash(self.secret(), token) if token else None
        if id_hash is None:
            return None
        query = (
            sa.select(users)
            .select_from(sessions.join(users, users.c.name == sessions.c.user_name))
            .where(sessions.c.id_hash == id_hash, sessions.c.expires_at > time.time())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _user(row) if row else None

    def current_user(self, token: str | None) -> User | None:
        """:data:`~opsml_image.auth.permissions.LOCAL_ADMIN` in single-user mode, else the session's user."""
        return LOCAL_ADMIN if not self.has_accounts() else self.session_user(token)

    def revoke(self, token: str | None) -> None:
        """End one session (log out); an unknown token is ignored."""
        id_hash = token_id_hash(self.secret(), token) if token else None
        if id_hash is not None:
            with self.engine.begin() as conn:
                conn.execute(sa.delete(sessions).where(sessions.c.id_hash == id_hash))

    def revoke_user(self, name: str) -> int:
        """End every session of a user; returns how many there were."""
        with self.engine.begin() as conn:
            return conn.execute(sa.delete(sessions).where(sessions.c.user_name == _clean(name))).rowcount

    def secret(self) -> str:
        """The server secret: ``OPSML_IMAGE_SECRET``, else one made once and kept in the database."""
        env = _settings().secret
        if env:
            return env
        if self._secret is None:
            self._secret = self._stored_secret()
        return self._secret

    def _stored_secret(self) -> str:
        query = sa.select(settings.c.value).where(settings.c.key == "session_secret")
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        if found:
            return str(found)
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(settings).values(key="session_secret", value=new_secret()))
        except sa.exc.IntegrityError:
            pass  # another server made it first: use theirs
        with self.engine.connect() as conn:
            return str(conn.execute(query).scalar_one())

    def _locked_user(self, conn: sa.Connection, name: str) -> User:
        row = conn.execute(sa.select(users).where(users.c.name == _clean(name)).with_for_update()).first()
        if row is None:
            raise AccountError(f"no user named {_clean(name)}")
        return _user(row)


def normalise_name(name: str) -> str:
    """A user name in lower case: 1-64 of ``a-z 0-9 . _ @ -``, starting with a letter or digit."""
    clean = _clean(name)
    if not _NAME.match(clean):
        raise AccountError(
            f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if clean in _RESERVED:
        raise AccountError(f"the user name {clean!r} is reserved for single-user mode")
    return clean


def normalise_email(email: str | None) -> str | None:
    """An e-mail in lower case, or None; :class:`AccountError` when it does not look like one."""
    if email is None or not email.strip():
        return None
    clean = _clean(email)
    if not _EMAIL.match(clean) or len(clean) > 320:
        raise AccountError(f"invalid e-mail {email!r}")
    return clean


def parse_role(role: Role | str) -> Role:
    """The role named ``role``, or :class:`AccountError` listing the roles."""
    try:
        return Role(str(role).strip().lower())
    except ValueError:
        raise AccountError(f"unknown role {role!r}: choose {', '.join(r.value for r in Role)}") from None


def _clean(text: str) -> str:
    if not isinstance(text, str) or string_problem(text, None):
        return "\ufffd"  # matches no stored name: NUL and surrogates are never in one
    return text.strip().lower()


def _user(row: sa.Row) -> User:
    return User(row.name, Role(row.role), row.email)


def _keep_an_admin(conn: sa.Connection, name: str, role: Role | None) -> User:
    """The user ``name``, about to get ``role`` (None: to be removed); :class:`AccountError` if that would
    leave no admin, or no account at all (single-user mode: anyone is admin).

    Every user row is locked (``FOR UPDATE`` in name order; on SQLite the transaction began IMMEDIATE), so
    two admins demoted or removed at the same moment cannot both pass the count."""
    rows = conn.execute(sa.select(users).order_by(users.c.name).with_for_update()).all()
    clean = _clean(name)
    user = next((_user(row) for row in rows if row.name == clean), None)
    if user is None:
        raise AccountError(f"no user named {clean}")
    if role == Role.ADMIN:
        return user
    admins = [row.name for row in rows if row.role == Role.ADMIN.value and row.name != user.name]
    if user.role == Role.ADMIN and not admins:
        raise AccountError(f"{user.name} is the last admin: make another user admin first")
    if role is None and len(rows) == 1:
        raise AccountError(
            f"{user.name} is the last account: add an admin first (without accounts anyone is admin)"
        )
    return user


def _too_many(seconds: float) -> str:
    return f"Too many failed log-ins: try again in {math.ceil(seconds)} s."
