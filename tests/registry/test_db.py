from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import free_port
from opsml_image.registry import RegistryConnectionError, RegistryError
from opsml_image.registry.db import SCHEMA_VERSION, cards, create_schema, make_engine, schema_version


def _row(version: str) -> dict:
    return {
        "uid": f"u{version.replace('.', '')}",
        "team": "vision",
        "name": "signs",
        "version": version,
        "version_key": version,
        "created_at": datetime.now(UTC),
        "user_email": "a@b.co",
        "description": "",
        "tags": {},
        "images": 1,
        "records": 1,
        "boxes": 0,
        "files": 1,
        "total_bytes": 1,
        "content_digest": "d",
        "manifest_digest": "m",
        "validated": True,
        "facts": {},
        "uri": "x",
    }


def test_schema_creation_is_idempotent_and_versioned(tracking_uri: str) -> None:
    engine = make_engine(tracking_uri)
    create_schema(engine)
    create_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(schema_version.c.version)).scalars().all() == [SCHEMA_VERSION]
        assert set(sa.inspect(conn).get_table_names()) >= {cards.name, schema_version.name}
    engine.dispose()


def test_unique_version_per_team_and_name(tracking_uri: str) -> None:
    engine = make_engine(tracking_uri)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(cards).values(**_row("1.0.0")))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.insert(cards).values(**{**_row("1.0.0"), "uid": "other"}))
    with engine.begin() as conn:  # the same version under another team is fine
        conn.execute(sa.insert(cards).values(**{**_row("1.0.0"), "uid": "other", "team": "audio"}))
    engine.dispose()


def test_newer_schema_is_refused(tracking_uri: str) -> None:
    engine = make_engine(tracking_uri)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(sa.update(schema_version).values(version=SCHEMA_VERSION + 1))
    with pytest.raises(RegistryError, match="newer than this code"):
        create_schema(engine)
    engine.dispose()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'r.db'}")
    create_schema(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_unreachable_postgres_is_a_clear_error() -> None:
    engine = make_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nothing")
    with pytest.raises(RegistryConnectionError, match="cannot reach the registry database"):
        create_schema(engine)


def test_bad_uri_is_a_clear_error() -> None:
    with pytest.raises(RegistryConnectionError, match="invalid tracking URI"):
        make_engine("not a url")
    with pytest.raises(RegistryConnectionError):
        make_engine("nosuchdialect://x/y")
