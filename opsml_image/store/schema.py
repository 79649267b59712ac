"""The working store's tables (SQLAlchemy 2 Core), its engine, and the dataset row every table is keyed by.

The same tables serve SQLite (one file per dataset folder by default: WAL, ``synchronous=FULL``, writes in
``BEGIN IMMEDIATE`` transactions) and PostgreSQL (one database shared by several dataset folders and
app servers). Every table has a ``dataset`` column: the id of the folder's row in ``store_dataset``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import xxhash
from sqlalchemy.engine import Connection, Engine

from opsml_image import sqldb
from opsml_image.store.errors import StoreError

__all__ = ["SCHEMA_VERSION", "Scope", "make_engine", "create_schema", "dataset_id", "upsert", "lock_dataset"]

#: Bumped with every change to the tables; a store written by newer code is refused.
SCHEMA_VERSION = 3
#: ``Connection.info`` flag: the next SQLite transaction begins ``BEGIN IMMEDIATE`` (takes the write lock).
WRITE_FLAG = "opsml_store_write"

metadata = sa.MetaData()


def _key_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("dataset", sa.Integer, primary_key=True),
        sa.Column("split_order", sa.Integer, primary_key=True),
        sa.Column("file_name", sa.Text, primary_key=True),
    ]


DATASET = sa.Table(
    "store_dataset",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.Text, nullable=False, unique=True),
    sa.Column("schema_version", sa.Integer, nullable=False),
)

META = sa.Table(
    "store_meta",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

IMAGE = sa.Table(
    "store_image",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("split_order", sa.Integer, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("caption", sa.Text),
    sa.Column("search", sa.Text),  # casefolded caption, for the text filter
    sa.Column("categories", sa.Text, nullable=False, server_default="[]"),  # image-level ids (JSON)
    sa.Column("boxes", sa.Text, nullable=False, server_default="[]"),  # [[x, y, w, h, category(, extra)]]
    sa.Column("extra", sa.Text, nullable=False, server_default="{}"),  # other record keys (JSON object)
    sa.Column("n_boxes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("annotated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lines", sa.Text, nullable=False, server_default="[]"),  # source lines in the metadata file
    sa.Column("first_line", sa.Integer),
    sa.Column("last_line", sa.Integer),
    sa.Column("dropped", sa.Integer, nullable=False, server_default="0"),  # malformed boxes merge() left out
    sa.Column("has_record", sa.Integer, nullable=False, server_default="1"),
    sa.Column("on_disk", sa.Integer, nullable=False, server_default="0"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("dirty", sa.Integer, nullable=False, server_default="0"),
    sa.Column("errors", sa.Integer, nullable=False, server_default="0"),
    sa.Column("warnings", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ux_store_image_key", "dataset", "split_order", "file_name", unique=True),
    sa.Index("ix_store_image_annotated", "dataset", "annotated", "split_order", "file_name"),
    sa.Index(
        "ix_store_image_errors",
        "dataset",
        "split_order",
        "file_name",
        sqlite_where=sa.text("errors > 0"),
        postgresql_where=sa.text("errors > 0"),
    ),
    sa.Index(  # "dirty" is a column too, so the planner prefers it to the other indexes led by dataset
        "ix_store_image_dirty",
        "dataset",
        "dirty",
        "split_order",
        sqlite_where=sa.text("dirty = 1"),
        postgresql_where=sa.text("dirty = 1"),
    ),
    sa.Index("ix_store_image_last_line", "dataset", "split_order", "last_line"),
)

IMAGE_CATEGORY = sa.Table(
    "store_image_category",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("split_order", sa.Integer, primary_key=True),
    sa.Column("file_name", sa.Text, primary_key=True),
    sa.Column("category", sa.Integer, primary_key=True),
    sa.Column("n_boxes", sa.Integer, nullable=False),
    sa.Column("tagged", sa.Integer, nullable=False),
    # the category filter walks this index in key order (the primary key serves one image's rows)
    sa.Index("ix_store_image_category", "dataset", "category", "split_order", "file_name"),
    sqlite_with_rowid=False,
)

IMAGE_TOTAL = sa.Table(  # images per split and annotated, kept by the editing code in each transaction
    "store_image_total",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("split_order", sa.Integer, primary_key=True),
    sa.Column("annotated", sa.Integer, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

CATEGORY_TOTAL = sa.Table(
    "store_category_total",
    metadata,
    sa.Column("dataset", sa.Integer, primary_key=True),
    sa.Column("category", sa.Integer, primary_key=True),
    sa.Column("n_boxes", sa.Integer, nullable=False),
    sa.Column("images", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)

TOMBSTONE = sa.Table(  # source lines of deleted records whose image file is missing (flush removes them)
    "store_tombstone",
    metadata,
    *_key_columns(),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("lines", sa.Text, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

CHANGE = sa.Table(
    "store_change",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("user", sa.Text),
    sa.Column("split", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("before", sa.Text),
    sa.Column("after", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_store_change_key", "dataset", "split", "file_name", "id"),
    sa.Index("ix_store_change_user", "dataset", "user", "id"),
    sqlite_autoincrement=True,  # ids are never reused: undo names them
)

ISSUE = sa.Table(
    "store_issue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dataset", sa.Integer, nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("line", sa.Integer),
    sa.Column("field", sa.Text),
    sa.Column("code", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text),
    sa.Column("split", sa.Text),
    sa.Index("ix_store_issue_code", "dataset", "code", "id"),
    sa.Index("ix_store_issue_key", "dataset", "split", "file_name"),
)


@dataclass(frozen=True)
class Scope:
    """Which dataset a statement is about: its id in ``store_dataset`` and its split names and orders."""

    dataset: int
    orders: dict[str, int]

    def order(self, split: str) -> int:
        """The split's order; ``KeyError`` naming the dataset's splits when it has no such split."""
        try:
            return self.orders[split]
        except KeyError:
            raise KeyError(f"no split {split!r}; the dataset has {', '.join(self.orders)}") from None

    def split_of(self, order: int) -> str:
        return next(name for name, value in self.orders.items() if value == order)


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL; SQLite gets WAL, ``synchronous=FULL`` and explicit BEGINs."""
    return sqldb.make_engine(
        url,
        what="working store URI",
        error=StoreError,
        pragmas=("journal_mode=WAL", "synchronous=FULL", "busy_timeout=60000", "temp_store=MEMORY",
                 "cache_size=-65536"),  # fmt: skip
        immediate=lambda connection: bool(connection.info.get(WRITE_FLAG)),
        sqlite_file_only=True,
        backends=("sqlite", "postgresql"),
    )


def create_schema(engine: Engine) -> None:
    """Create the tables if missing (idempotent; concurrent callers wait for each other)."""
    url = engine.url.render_as_string()
    try:
        with engine.connect() as conn:
            conn.info[WRITE_FLAG] = True
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        key = xxhash.xxh3_64_intdigest(b"opsml-image-store/schema") - (1 << 63)
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                    metadata.create_all(conn, checkfirst=True)
            finally:
                conn.info[WRITE_FLAG] = False
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise StoreError(f"cannot reach the working store database {url}: {reason(error)}") from None


def refuse_unflushed_legacy(conn: Connection, path: str) -> None:
    """Refuse a SQLite store file that still holds unflushed edits in the tables of opsml-image before
    SQLAlchemy (``image``/``tombstone``, no ``store_`` prefix): they would be silently ignored."""
    if conn.dialect.name != "sqlite":
        return
    tables = {r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    if not {"image", "tombstone"} <= tables:
        return
    pending = conn.execute(
        sa.text("SELECT (SELECT count(*) FROM image WHERE dirty = 1) + (SELECT count(*) FROM tombstone)")
    ).scalar_one()
    if pending:
        raise StoreError(
            f"the working store {conn.engine.url.database} of {path} holds {pending} edits saved by an older "
            "opsml-image and not yet written to metadata.jsonl: open the folder once with that version (it "
            "writes them on opening), or delete the store file to drop them"
        )


def dataset_id(conn: Connection, path: str) -> int:
    """The id of the dataset folder ``path`` (its row is created on first use); refuses a newer schema."""
    select = sa.text("SELECT id, schema_version FROM store_dataset WHERE path = :path")
    row = conn.execute(select, {"path": path}).first()
    if row is None:
        conn.execute(
            sa.text(
                "INSERT INTO store_dataset (path, schema_version) VALUES (:path, :version) "
                "ON CONFLICT (path) DO NOTHING"
            ),
            {"path": path, "version": SCHEMA_VERSION},
        )
        row = conn.execute(select, {"path": path}).one()
    if row.schema_version > SCHEMA_VERSION:
        raise StoreError(
            f"the working store of {path} has schema version {row.schema_version}, newer than this "
            f"code's {SCHEMA_VERSION}: upgrade opsml-image"
        )
    return int(row.id)


@functools.cache
def _upsert_statement(
    table: str, columns: tuple[str, ...], keys: tuple[str, ...], add: tuple[str, ...]
) -> sa.TextClause:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c``: the same text on SQLite and
    PostgreSQL, built once per shape."""
    increments = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in add)
    return sa.text(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {increments}"
    )


def upsert(
    conn: Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str], add: list[str]
) -> None:
    """Insert ``rows``; where the key exists already, add the rows' ``add`` columns to the stored values."""
    if rows:
        conn.execute(_upsert_statement(table.name, tuple(rows[0]), tuple(keys), tuple(add)), rows)


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert many plain tuples with the driver's ``executemany`` (no per-row parameter processing: a
    re-index writes hundreds of thousands of rows)."""
    if rows:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(mark for _ in columns)})"
        conn.exec_driver_sql(sql, list(rows))


def lock_dataset(conn: Connection, scope: Scope, exclusive: bool) -> None:
    """On PostgreSQL, lock the dataset's row for this transaction: shared by edits, exclusive for the
    moments a flush or re-index renumbers lines. SQLite needs nothing (one writer at a time)."""
    if conn.dialect.name == "postgresql":
        mode = "UPDATE" if exclusive else "SHARE"
        conn.execute(sa.text(f"SELECT 1 FROM store_dataset WHERE id = :d FOR {mode}"), {"d": scope.dataset})


@contextlib.contextmanager
def write_transaction(conn: Connection) -> Iterator[Connection]:
    """A write transaction on ``conn`` (``BEGIN IMMEDIATE`` on SQLite); nested use joins the outer one."""
    if conn.in_transaction():
        yield conn
        return
    conn.info[WRITE_FLAG] = True
    try:
        transaction = conn.begin()
    finally:
        conn.info[WRITE_FLAG] = False
    with transaction:
        yield conn


@contextlib.contextmanager
def read_transaction(conn: Connection) -> Iterator[Connection]:
    """A read transaction on ``conn`` (ended at once, so no old snapshot stays open); nested use joins."""
    if conn.in_transaction():
        yield conn
        return
    with conn.begin():
        yield conn


_READ_META = sa.text("SELECT value FROM store_meta WHERE dataset = :d AND key = :k")
_WRITE_META = sa.text(
    "INSERT INTO store_meta (dataset, key, value) VALUES (:d, :k, :v) "
    "ON CONFLICT (dataset, key) DO UPDATE SET value = excluded.value"
)


def read_meta(conn: Connection, scope: Scope, key: str) -> str | None:
    """A ``store_meta`` value of the dataset (None when unset)."""
    value: str | None = conn.execute(_READ_META, {"d": scope.dataset, "k": key}).scalar()
    return value


def write_meta(conn: Connection, scope: Scope, key: str, value: str) -> None:
    conn.execute(_WRITE_META, {"d": scope.dataset, "k": key, "v": value})


def reason(error: sa.exc.DBAPIError) -> str:
    """The first line of a database error's message."""
    return str(error.orig).strip().splitlines()[0] if error.orig is not None else str(error)
