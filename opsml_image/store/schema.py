"""The working store's engine, its schema (every table of :mod:`~opsml_image.store.tables`, created when a
store opens), transactions, and the dataset row every table is keyed by.

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
from opsml_image.store.tables import CATEGORY_TOTAL, DATASET, IMAGE, IMAGE_TOTAL, ISSUE, META, metadata

__all__ = [
    "SCHEMA_VERSION",
    "Scope",
    "make_engine",
    "create_schema",
    "dataset_id",
    "upsert",
    "lock_dataset",
    "IMAGE",
    "ISSUE",
    "META",
    "IMAGE_TOTAL",
    "CATEGORY_TOTAL",
]

#: Bumped with every change to the tables; a store written by newer code is refused.
SCHEMA_VERSION = 3
#: ``Connection.info`` flag: the next SQLite transaction begins ``BEGIN IMMEDIATE`` (takes the write lock).
WRITE_FLAG = "opsml_store_write"


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
    """Create every table of the database (the store's and review's) if missing; idempotent, concurrent
    callers wait for each other."""
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
    select = sa.select(DATASET.c.id, DATASET.c.schema_version).where(DATASET.c.path == path)
    row = conn.execute(select).first()
    if row is None:
        conn.execute(
            sa.text(
                "INSERT INTO store_dataset (path, schema_version) VALUES (:path, :version) "
                "ON CONFLICT (path) DO NOTHING"
            ),
            {"path": path, "version": SCHEMA_VERSION},
        )
        row = conn.execute(select).one()
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
        conn.execute(_LOCK_DATASET[exclusive], {"d": scope.dataset})


_LOCK_DATASET = {
    exclusive: sa.select(sa.literal(1))
    .select_from(DATASET)
    .where(DATASET.c.id == sa.bindparam("d"))
    .with_for_update(read=not exclusive)
    for exclusive in (False, True)
}


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


_READ_META = sa.select(META.c.value).where(
    META.c.dataset == sa.bindparam("d"), META.c.key == sa.bindparam("k")
)
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
