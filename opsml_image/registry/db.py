"""The registry database (SQLAlchemy 2): tables, engine creation, idempotent schema set-up.

One table of data cards, unique on ``(team, name, version_key)`` where ``version_key`` is the version
without build metadata, so two registrations racing for a version cannot both commit it; and a
``schema_version`` table so a later release can migrate. The same code runs on SQLite (the embedded
default, WAL mode) and PostgreSQL (``postgresql+psycopg://...``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsml_image import sqldb
from opsml_image.registry.errors import RegistryConnectionError, RegistryError

__all__ = [
    "SCHEMA_VERSION",
    "metadata",
    "cards",
    "schema_version",
    "make_engine",
    "create_schema",
    "IMMEDIATE",
]

#: Bumped with every change to the tables; :func:`create_schema` refuses a database newer than the code.
SCHEMA_VERSION = 1
#: Execution option: on SQLite, begin the transaction with ``BEGIN IMMEDIATE`` (take the write lock first).
IMMEDIATE = "opsml_begin_immediate"

metadata = sa.MetaData()

schema_version = sa.Table(
    "opsml_image_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

cards = sa.Table(
    "opsml_image_data_cards",
    metadata,
    sa.Column("uid", sa.String(32), primary_key=True),
    sa.Column("team", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("version", sa.String(128), nullable=False),
    sa.Column("version_key", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_email", sa.String(320), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("images", sa.Integer, nullable=False),
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("boxes", sa.Integer, nullable=False),
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("total_bytes", sa.BigInteger, nullable=False),
    sa.Column("content_digest", sa.String(64), nullable=False),
    sa.Column("manifest_digest", sa.String(64), nullable=False),
    sa.Column("validated", sa.Boolean, nullable=False),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("uri", sa.Text, nullable=False),
    sa.UniqueConstraint("team", "name", "version_key", name="uq_opsml_image_card_version"),
    sa.Index("ix_opsml_image_cards_name", "name", "team"),
    sa.Index("ix_opsml_image_cards_digest", "team", "name", "content_digest"),
)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and explicit BEGIN (IMMEDIATE on request)."""
    return sqldb.make_engine(
        url,
        what="tracking URI",
        error=RegistryConnectionError,
        pragmas=("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=60000"),
        immediate=lambda connection: bool(connection.get_execution_options().get(IMMEDIATE)),
    )


def create_schema(engine: Engine) -> None:
    """Create the tables if missing and record the schema version (idempotent, safe concurrently)."""
    url = engine.url.render_as_string()
    try:
        with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
            metadata.create_all(conn, checkfirst=True)
            row = conn.execute(sa.select(schema_version.c.version).where(schema_version.c.id == 1)).first()
            if row is None:
                conn.execute(
                    sa.insert(schema_version).values(
                        id=1, version=SCHEMA_VERSION, updated_at=datetime.now(UTC)
                    )
                )
            elif row.version > SCHEMA_VERSION:
                raise RegistryError(
                    f"the registry at {url} has schema version {row.version}, newer than this code's "
                    f"{SCHEMA_VERSION}: upgrade opsml-image"
                )
    except sa.exc.IntegrityError:
        # Another process created the schema at the same moment: that is the same outcome.
        return
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise RegistryConnectionError(f"cannot reach the registry database {url}: {_reason(error)}") from None
    except sa.exc.ProgrammingError as error:
        if "already exists" in str(error):
            return
        raise RegistryConnectionError(
            f"cannot set up the registry database {url}: {_reason(error)}"
        ) from None


def _reason(error: sa.exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
