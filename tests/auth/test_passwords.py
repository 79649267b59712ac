"""Argon2id with argon2-cffi's RFC 9106 parameters; hashes made with older parameters are upgraded at log-in."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from opsml_image.auth import AccountError, Accounts, passwords
from opsml_image.auth.db import users


def test_the_real_hasher_is_argon2id_rfc_9106_low_memory() -> None:
    digest = passwords.DEFAULT_HASHER.hash("correct horse")
    assert digest.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.DEFAULT_HASHER.verify(digest, "correct horse")


def test_verify() -> None:
    digest = passwords.hash_password("correct horse")
    assert passwords.verify_password(digest, "correct horse")
    assert not passwords.verify_password(digest, "wrong horse")
    assert not passwords.verify_password(None, "opsml-image: no such user")  # the dummy hash opens nothing
    assert not passwords.verify_password("not a hash", "x")
    assert not passwords.verify_password(digest, "\ud800")
    with pytest.raises(AccountError, match="at most 1024"):
        passwords.hash_password("x" * 1025)


def test_a_hash_with_old_parameters_is_upgraded_at_log_in(accounts: Accounts) -> None:
    accounts.add_user("ana", "admin", password="correct horse")  # made with the tests' cheap hasher
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    passwords.use_hasher(stronger)
    accounts.authenticate("ana", "correct horse", "c")
    with accounts.engine.connect() as conn:
        stored = conn.execute(users.select()).one().password_hash
    assert "m=2048,t=2,p=1" in stored and not stronger.check_needs_rehash(stored)
