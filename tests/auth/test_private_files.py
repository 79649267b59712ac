"""The app's home and the SQLite databases it creates are private to the user, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsml_image import config
from opsml_image.auth import Accounts
from opsml_image.registry.db import create_schema
from opsml_image.registry.db import make_engine as registry_engine
from opsml_image.store.schema import make_engine as store_engine
from opsml_image.store.workstore import store_url


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "parent" / "opsml-image"
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(home))
    for name in ("OPSML_IMAGE_STORE_URI", "OPSML_TRACKING_URI", "OPSML_IMAGE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_a_fresh_home_and_its_databases_are_private(umask_022: None, fresh_home: Path) -> None:
    assert config.home() == fresh_home and mode(fresh_home) == 0o700
    accounts = Accounts()  # <home>/app.db
    try:
        accounts.add_user("ana", "admin", password="correct horse")
        accounts.secret()  # the session secret, kept in the database
        app_db = fresh_home / "app.db"
        assert app_db.exists() and (fresh_home / "app.db-wal").exists()
        for path in (app_db, fresh_home / "app.db-wal", fresh_home / "app.db-shm"):
            assert mode(path) == 0o600, path
    finally:
        accounts.close()

    registry = registry_engine(config.tracking_uri())  # <home>/registry.db
    try:
        create_schema(registry)
        for name in ("registry.db", "registry.db-wal"):
            assert mode(fresh_home / name) == 0o600, name
    finally:
        registry.dispose()

    store = store_engine(store_url(fresh_home / "dataset"))  # <home>/stores/<hash>.db
    try:
        with store.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        (found,) = (fresh_home / "stores").glob("*.db")
        assert mode(fresh_home / "stores") == 0o700
        assert mode(found) == 0o600 and mode(found.with_name(found.name + "-wal")) == 0o600
    finally:
        store.dispose()


def test_existing_files_and_folders_keep_their_mode(umask_022: None, fresh_home: Path) -> None:
    fresh_home.mkdir(parents=True, mode=0o755)
    os.chmod(fresh_home, 0o750)
    shared = fresh_home / "shared.db"
    shared.touch()
    os.chmod(shared, 0o640)
    assert config.home() == fresh_home and mode(fresh_home) == 0o750
    accounts = Accounts(f"sqlite:///{shared}")
    try:
        accounts.add_user("ana", "admin", password="correct horse")
    finally:
        accounts.close()
    assert mode(shared) == 0o640


def test_an_older_app_database_is_made_private(tmp_path: Path) -> None:
    """An app.db left 0644 by an older version holds password hashes: opening it takes others' access off
    (a group the deployment chose keeps its access)."""
    db = tmp_path / "app.db"
    Accounts(f"sqlite:///{db}").close()
    for path in tmp_path.glob("app.db*"):
        path.chmod(0o644)
    Accounts(f"sqlite:///{db}").close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in tmp_path.glob("app.db*"))
