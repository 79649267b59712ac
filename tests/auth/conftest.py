"""Accounts on a fresh database: a SQLite file, or a new database on the test PostgreSQL server.

Argon2 runs with cheap parameters here (a hash in ~1 ms); the parameters of the real hasher are checked
once in test_passwords.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from conftest import fresh_database
from opsml_image.auth import Accounts, passwords

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hasher() -> Iterator[None]:
    real = passwords._hasher
    passwords.use_hasher(CHEAP)
    yield
    passwords.use_hasher(real)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from fresh_database(request, tmp_path, request.param, "auth")


@pytest.fixture
def accounts(app_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Accounts]:
    monkeypatch.delenv("OPSML_IMAGE_SECRET", raising=False)
    monkeypatch.delenv("OPSML_IMAGE_SESSION_HOURS", raising=False)
    found = Accounts(app_db_url)
    yield found
    found.close()
