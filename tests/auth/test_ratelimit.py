"""Log-in slow-down: the schedule, per user and per client, shared through the database."""

from __future__ import annotations

import time

import pytest

from opsml_image.auth import Accounts, AuthError, ratelimit
from opsml_image.auth.ratelimit import MAX_DELAY, RESET_AFTER, delay


def test_the_schedule() -> None:
    assert [delay(n) for n in range(1, 10)] == [0, 0, 0, 1, 2, 4, 8, 16, 32]
    assert delay(14) == 900 == MAX_DELAY and delay(10_000) == MAX_DELAY


class Clock:
    """time.time for the accounts module, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("opsml_image.auth.accounts.time.time", fake)
    return fake


def fail(accounts: Accounts, name: str, client: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        accounts.authenticate(name, "wrong password", client)
    return caught.value


def test_wrong_passwords_back_off_per_user(accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("ana", "admin", password="correct horse")
    waits = []
    for attempt in range(6):
        error = fail(accounts, "ana", f"10.0.0.{attempt}")  # a new client each time: the user key counts
        waits.append(error.retry_after)
        assert str(error).startswith("Wrong user name or password.")
        clock.now += error.retry_after
    assert waits == [0, 0, 0, 1, 2, 4]
    error = fail(accounts, "ana", "10.0.0.9")  # the 7th: locked 8 s
    assert error.retry_after == 8 and "Too many failed log-ins: try again in 8 s." in str(error)
    clock.now += 3
    locked = fail(accounts, "ana", "10.0.0.9")  # refused without checking: even the right password waits
    assert (
        locked.retry_after == pytest.approx(5) and str(locked) == "Too many failed log-ins: try again in 5 s."
    )
    with pytest.raises(AuthError, match="try again in 5 s"):
        accounts.authenticate("ana", "correct horse", "10.0.0.10")
    clock.now += 5
    assert accounts.authenticate("ana", "correct horse", "10.0.0.10").name == "ana"
    assert fail(accounts, "ana", "x").retry_after == 0  # a success cleared the count


def test_unknown_names_back_off_the_same_way(accounts: Accounts, clock: Clock) -> None:
    accounts.add_user("ana", "admin", password="correct horse")
    waits: dict[str, list[float]] = {"ana": [], "nobody": []}
    for name, seen in waits.items():
        for i in range(5):
            seen.append(fail(accounts, name, f"{name}{i}").retry_after)
            clock.now += seen[-1]
    assert waits["ana"] == waits["nobody"] == [0, 0, 0, 1, 2]


def test_one_client_trying_many_names_backs_off(accounts: Accounts, clock: Clock) -> None:
    waits = []
    for i in range(5):
        error = fail(accounts, f"user{i}", "203.0.113.7")
        waits.append(error.retry_after)
        clock.now += error.retry_after
    assert waits == [0, 0, 0, 1, 2]
    accounts.add_user("ana", "admin", password="correct horse")
    clock.now -= 1  # still locked for that client, not for another
    with pytest.raises(AuthError, match="Too many failed log-ins"):
        accounts.authenticate("ana", "correct horse", "203.0.113.7")
    assert accounts.authenticate("ana", "correct horse", "198.51.100.1").name == "ana"


def test_counts_start_over_after_an_idle_hour(accounts: Accounts, clock: Clock) -> None:
    for i in range(4):
        clock.now += fail(accounts, "ana", f"c{i}").retry_after
    clock.now += RESET_AFTER + 1
    assert fail(accounts, "ana", "c9").retry_after == 0


def test_servers_sharing_a_database_share_the_counts(app_db_url: str, clock: Clock) -> None:
    servers = [Accounts(app_db_url), Accounts(app_db_url)]
    try:
        waits = [fail(servers[i % 2], "ana", "c").retry_after for i in range(5)]
        assert waits == [0, 0, 0, 1, 1]  # the 5th is refused (still locked by the 4th), on either server
    finally:
        for server in servers:
            server.close()


def test_record_failure_counts_each_key(accounts: Accounts) -> None:
    with accounts.engine.begin() as conn:
        for _ in range(4):
            lock = ratelimit.record_failure(conn, ["user:a", "client:b"], 1000.0)
        assert lock == 1.0
        assert ratelimit.wait(conn, ["user:a"], 1000.5) == 0.5
        ratelimit.clear(conn, ["user:a", "client:b"])
        assert ratelimit.wait(conn, ["user:a", "client:b"], 1000.5) == 0
