"""The accounts' tables in the app's database (SQLAlchemy 2 Core), and the engine for its URL.

The URL is ``OPSML_IMAGE_STORE_URI`` (as the working store's), else a SQLite file ``<home>/app.db`` (made
0600 in a 0700 home: it holds password hashes and the session secret). The tables are prefixed ``auth_`` so
they can share a database with the store; several app servers on one PostgreSQL share accounts, sessions
and the log-in slow-down. :func:`write` is a transaction that takes SQLite's write lock at its start
(``BEGIN IMMEDIATE``), so a read-then-write in it is serialised with every other writer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsml_image import sqldb
from opsml_image.auth.errors import AccountError
from opsml_image.config import home, store_uri

__all__ = ["metadata", "users", "sessions", "failures", "settings", "database_url", "make_engine", "write"]

#: Execution option: on SQLite, begin the transaction with ``BEGIN IMMEDIATE`` (take the write lock first).
IMMEDIATE = "opsml_auth_begin_immediate"

metadata = sa.MetaData()

users = sa.Table(
    "auth_users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("email", sa.String(320), nullable=True, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=True),  # None: signs in through OIDC only
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

sessions = sa.Table(
    "auth_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # SHA-256 of the session id: the DB holds no token
    sa.Column("user_name", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

failures = sa.Table(
    "auth_failures",
    metadata,
    sa.Column("key", sa.String(400), primary_key=True),  # see ratelimit.Keys
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("last_at", sa.Float, nullable=False),
    sa.Column("locked_until", sa.Float, nullable=False),
)

settings = sa.Table(
    "auth_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def database_url() -> str:
    """The app database: ``OPSML_IMAGE_STORE_URI`` or ``sqlite:///<home>/app.db``."""
    return store_uri() or f"sqlite:///{home() / 'app.db'}"


def make_engine(url: str) -> Engine:
    """An engine with the tables created (idempotent); SQLite gets WAL, a busy timeout and explicit BEGINs."""
    engine = sqldb.make_engine(
        url,
        what="app database URI",
        error=AccountError,
        pragmas=("journal_mode=WAL", "busy_timeout=30000"),
        immediate=lambda connection: bool(connection.get_execution_options().get(IMMEDIATE)),
    )
    try:
        metadata.create_all(engine, checkfirst=True)
    except (sa.exc.IntegrityError, sa.exc.ProgrammingError) as error:
        if "already exists" not in str(error) and not isinstance(error, sa.exc.IntegrityError):
            raise
        # another server created the tables at the same moment: the same outcome
    sqldb.make_private(url)  # password hashes and the session secret: never readable by others
    return engine


@contextlib.contextmanager
def write(engine: Engine) -> Iterator[sa.Connection]:
    """A transaction that writes: ``BEGIN IMMEDIATE`` on SQLite; on PostgreSQL lock rows ``FOR UPDATE``."""
    with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
        yield conn
