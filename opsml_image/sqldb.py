"""One way to open a SQLAlchemy engine on SQLite or PostgreSQL, for the registry, the working store and the
app's accounts.

SQLite gets its folder made (0700 when new) and its file made 0600 before SQLite opens it (SQLite gives its
``-wal``, ``-shm`` and journal files the database file's mode), so a database the app creates is private to
the user; an existing file keeps its mode. It gets WAL and the given pragmas on every connection and, when
``immediate`` is given, explicit transactions (pysqlite cannot ``BEGIN IMMEDIATE`` itself: SQLAlchemy's
documented recipe), so a writer takes the write lock at its start. PostgreSQL gets a connect timeout and
pre-ping. A URL that cannot be used raises ``error`` with a message that says which setting (``what``) is
wrong.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

__all__ = ["make_engine", "make_private"]

_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def make_engine(
    url: str,
    *,
    what: str,
    error: type[Exception],
    pragmas: Sequence[str] = ("journal_mode=WAL", "busy_timeout=60000"),
    immediate: Callable[[Connection], bool] | None = None,
    sqlite_file_only: bool = False,
    sqlite_timeout: float = 60,
    backends: Sequence[str] | None = None,
) -> Engine:
    """An engine for ``url``; ``immediate(connection)`` says whether a SQLite transaction begins IMMEDIATE;
    ``backends`` limits the database kinds accepted."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as problem:
        raise error(f"invalid {what} {url!r}: {problem}") from None
    backend = parsed.get_backend_name()
    if backends is not None and backend not in backends:
        kinds = " or ".join(_NAMES.get(b, b) for b in backends)
        raise error(f"the {what.removesuffix(' URI')} runs on {kinds}, not {backend} ({url})")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            if sqlite_file_only:
                raise error(f"the {what} needs a SQLite file (several connections share it)")
        elif not parsed.database.startswith("file:"):  # a uri=true "file:..." URL is SQLite's to open
            _private_file(Path(parsed.database).expanduser())
        kwargs["connect_args"] = {"timeout": sqlite_timeout, "check_same_thread": False}
    elif backend == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": 10}
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (ImportError, sa.exc.ArgumentError) as problem:
        raise error(f"cannot use {what} {parsed.render_as_string()}: {problem}") from None
    if backend == "sqlite":
        _sqlite_events(engine, pragmas, immediate)
    return engine


def _sqlite_events(
    engine: Engine, pragmas: Sequence[str], immediate: Callable[[Connection], bool] | None
) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        if immediate is not None:
            dbapi_connection.isolation_level = None  # transactions are begun by the "begin" event below
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    if immediate is not None:

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate(connection) else "BEGIN")


def _private_file(path: Path) -> None:
    """Create ``path`` (and its folder, 0700) as an empty file with mode 0600, unless it exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # an existing database (or a link to one) keeps its mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_private(url: str) -> None:
    """Take others' access (not the group's: a deployment may share it on purpose) off an existing SQLite
    database of ``url`` and its ``-wal``/``-shm`` files: one that holds secrets, made world-readable by an
    older version under umask 022. Other URLs: nothing."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database.startswith("file:"):
        return
    if parsed.database == ":memory:":
        return
    base = Path(parsed.database).expanduser()
    for path in (base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")):
        with contextlib.suppress(OSError):
            mode = path.lstat().st_mode
            if path.is_file() and not path.is_symlink() and mode & 0o007:
                path.chmod(mode & 0o770)
