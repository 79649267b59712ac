"""Log-in slow-down: counted before the check, per (name, client), per client and per name, shared through
the database."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from opsml_image.auth import Accounts, AuthError
from opsml_image.auth import accounts as accounts_module
from opsml_image.auth.db import failures
from opsml_image.auth.ratelimit import (
    CLIENT_FREE_FAILURES,
    FORGET_EVERY,
    FREE_FAILURES,
    MAX_DELAY,
    Keys,
    delay,
)

RIGHT = "correct horse"


def test_the_schedule() -> None:
    assert [delay(n) for n in range(1, 10)] == [0, 0, 1, 2, 4, 8, 16, 32, 64]
    assert delay(12) == 512 and delay(13) == 900 == MAX_DELAY and delay(10_000) == MAX_DELAY
    assert [delay(n, CLIENT_FREE_FAILURES) for n in range(8, 13)] == [0, 0, 1, 2, 4]


def test_keys_cannot_collide() -> None:
    assert Keys.of("a:b", "c").pair != Keys.of("a", "b:c").pair
    assert len(set(Keys.of("ana", "10.0.0.1").all())) == 3


class Clock:
    """time.time for the accounts module, moved by hand (frozen unless moved)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(accounts_module, "time", SimpleNamespace(time=fake))
    return fake


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords Argon2 checked (the verify function of the accounts module, wrapped)."""
    seen: list[str] = []
    real = accounts_module.verify_password
    lock = threading.Lock()

    def counted(stored: str | None, password: str) -> bool:
        with lock:
            seen.append(password)
        return real(stored, password)

    monkeypatch.setattr(accounts_module, "verify_password", counted)
    return seen


def fail(accounts: Accounts, name: str, client: str, password: str = "wrong password") -> AuthError:
    with pytest.raises(AuthError) as caught:
        accounts.authenticate(name, password, client)
    return caught.value


def test_parallel_attempts_get_only_the_free_budget_checked(
    accounts: Accounts, clock: Clock, checks: list[str]
) -> None:
    accounts.add_user("ana", "admin", password=RIGHT)
    start = threading.Barrier(16)
    errors: list[AuthError] = []

    def attempt(i: int) -> None:
        start.wait()
        try:
            accounts.authenticate("ana", f"guess {i}", "203.0.113.7")
        except AuthError as error:
            errors.append(error)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(errors) == 16
    assert len(checks) == FREE_FAILURES  # the 13 others were refused before Argon2
    assert sum(str(e).startswith("Too many failed log-ins") for e in errors) == 16 - FREE_FAILURES
    with pytest.raises(AuthError, match="Too many failed log-ins"):  # even the right password waits now
        accounts.authenticate("ana", RIGHT, "203.0.113.7")
    assert len(checks) == FREE_FAILURES


def test_one_client_backs_off_on_one_name(accounts: Accounts, clock: Clock, checks: list[str]) -> None:
    accounts.add_user("ana", "admin", password=RIGHT)
    waits = []
    for _ in range(5):
        error = fail(accounts, "ana", "10.0.0.1")
        assert str(error).startswith("Wrong user name or password.")
        waits.append(error.retry_after)
        clock.now += error.retry_after
    assert waits == [0, 0, 1, 2, 4]
    error = fail(accounts, "ana", "10.0.0.1")  # the 6th: the 7th waits 8 s
    assert error.retry_after == 8 and "Too many failed log-ins: try again in 8 s." in str(error)
    clock.now += 3
    locked = fail(accounts, "ana", "10.0.0.1", RIGHT)  # refused without a check or a count
    assert (
        locked.retry_after == pytest.approx(5) and str(locked) == "Too many failed log-ins: try again in 5 s."
    )
    assert len(checks) == 6
    clock.now += 5
    assert accounts.authenticate("ana", RIGHT, "10.0.0.1").name == "ana"
    assert fail(accounts, "ana", "10.0.0.1").retry_after == 0  # a success cleared the pair


def test_a_name_under_attack_still_opens_for_its_owner(accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("admin", "admin", password=RIGHT)
    accounts.add_user("bo", "annotator", password="bo's password")
    early = fail(accounts, "admin", "198.51.100.99")  # one mistake, before the attack
    assert early.retry_after == 0
    for attacker in range(40):  # many addresses, several guesses each, all at once
        for _ in range(4):
            fail(accounts, "admin", f"10.66.{attacker}.1")
    for i in range(6):  # wrong names from the shared loopback address (the audit's lock-out)
        fail(accounts, f"nobody{i}", "127.0.0.1")
    assert accounts.authenticate("admin", RIGHT, "192.0.2.44").name == "admin"  # a fresh client
    assert accounts.authenticate("admin", RIGHT, "127.0.0.1").name == "admin"  # shared, within its budget
    assert accounts.authenticate("bo", "bo's password", "127.0.0.1").name == "bo"
    refused = fail(accounts, "admin", "198.51.100.99", RIGHT)  # it has failed on admin: the name's lock
    assert refused.retry_after > 0 and str(refused).startswith("Too many failed log-ins")
    refused = fail(accounts, "admin", "10.66.3.1", RIGHT)  # an attacker stays locked out
    assert str(refused).startswith("Too many failed log-ins")


def test_a_fresh_address_gets_one_check_while_a_name_is_attacked(
    accounts: Accounts, clock: Clock, checks: list[str]
) -> None:
    for attacker in range(20):
        fail(accounts, "admin", f"10.66.{attacker}.1")
        fail(accounts, "admin", f"10.66.{attacker}.1")
    # the name's first 3 attempts (2 from the first address) go through; then an address's first only
    assert len(checks) == 21
    for attacker in range(20, 30):
        fail(accounts, "admin", f"10.66.{attacker}.1")
        fail(accounts, "admin", f"10.66.{attacker}.1")
    assert len(checks) == 31


def test_a_client_guessing_across_names_backs_off(accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("ana", "admin", password=RIGHT)
    waits = []
    for i in range(CLIENT_FREE_FAILURES + 2):
        error = fail(accounts, f"user{i}", "203.0.113.7")
        waits.append(error.retry_after)
        clock.now += error.retry_after
    assert waits == [0] * (CLIENT_FREE_FAILURES - 1) + [1, 2, 4]
    clock.now -= 1  # still locked for that client, not for another
    with pytest.raises(AuthError, match="Too many failed log-ins"):
        accounts.authenticate("ana", RIGHT, "203.0.113.7")
    assert accounts.authenticate("ana", RIGHT, "198.51.100.1").name == "ana"


def test_a_success_gives_back_only_its_own_count(accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("ana", "admin", password=RIGHT)
    for i in range(CLIENT_FREE_FAILURES - 1):
        fail(accounts, f"typo{i}", "127.0.0.1")
    for _ in range(20):  # log-ins from the shared address do not use its budget up...
        assert accounts.authenticate("ana", RIGHT, "127.0.0.1").name == "ana"
    assert fail(accounts, "typo", "127.0.0.1").retry_after == 1  # ...nor forgive the failures before them


def test_failures_are_forgotten_over_time(accounts: Accounts, clock: Clock) -> None:
    waits = [fail(accounts, "ana", "c").retry_after for _ in range(3)]
    clock.now += 2 * FORGET_EVERY  # two of the three failures forgotten
    waits.append(fail(accounts, "ana", "c").retry_after)
    clock.now += 4 * FORGET_EVERY  # an idle hour: everything
    waits.append(fail(accounts, "ana", "c").retry_after)
    assert waits == [0, 0, 1, 0, 0]


def test_servers_sharing_a_database_share_the_counts(app_db_url: str, clock: Clock) -> None:
    servers = [Accounts(app_db_url), Accounts(app_db_url)]
    try:
        waits = [fail(servers[i % 2], "ana", "c").retry_after for i in range(5)]
        assert waits == [0, 0, 1, 1, 1]  # the 4th and 5th are refused (locked by the 3rd), on either server
    finally:
        for server in servers:
            server.close()


def test_a_success_drops_rows_that_forgot_everything(accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("ana", "admin", password=RIGHT)
    for i in range(5):
        fail(accounts, f"n{i}", f"10.0.0.{i}")
    clock.now += 2 * FORGET_EVERY + 1
    accounts.authenticate("ana", RIGHT, "10.9.9.9")
    with accounts.engine.connect() as conn:
        keys = set(conn.execute(sa.select(failures.c.key)).scalars())
    assert keys == {"user:ana", "client:10.9.9.9"}  # with counts given back: dropped at the next success
