"""Users and roles, log-in, sessions: on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from opsml_image.auth import LOCAL_ADMIN, AccountError, Accounts, AuthError, Role, User
from opsml_image.auth import accounts as accounts_module
from opsml_image.auth.db import users


def test_add_list_and_look_up_users(accounts: Accounts) -> None:
    assert not accounts.has_accounts()
    ana = accounts.add_user(" Ana ", "reviewer", password="correct horse", email="Ana@Example.com")
    assert ana == User("ana", Role.REVIEWER, "ana@example.com")
    accounts.add_user("oidc-only", Role.ANNOTATOR, email="bo@example.com")  # no password: OIDC sign-in only
    assert accounts.has_accounts()
    assert [(a.name, a.role, a.has_password) for a in accounts.list_users()] == [
        ("ana", Role.REVIEWER, True),
        ("oidc-only", Role.ANNOTATOR, False),
    ]
    assert accounts.get_user("ANA") == ana and accounts.get_user("nobody") is None
    assert accounts.user_by_email("ana@EXAMPLE.com") == ana and accounts.user_by_email("x@y.z") is None


def test_password_is_stored_as_argon2id_never_in_clear(accounts: Accounts) -> None:
    accounts.add_user("ana", "admin", password="correct horse")
    with accounts.engine.connect() as conn:
        stored = conn.execute(users.select()).one().password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "a b", "role": "admin", "password": "long enough"}, "invalid user name"),
        ({"name": "x\x00", "role": "admin", "password": "long enough"}, "invalid user name"),
        ({"name": "local", "role": "admin", "password": "long enough"}, "reserved"),
        ({"name": "ana", "role": "boss", "password": "long enough"}, "unknown role 'boss': choose annotator"),
        ({"name": "ana", "role": "admin", "password": "short"}, "at least 8 characters"),
        ({"name": "ana", "role": "admin", "password": "nul\x00in password"}, "NUL"),
        ({"name": "ana", "role": "admin", "password": "bad \ud800 surrogate"}, "surrogate"),
        ({"name": "ana", "role": "admin"}, "give a password"),
        ({"name": "ana", "role": "admin", "email": "not-an-email"}, "invalid e-mail"),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(accounts: Accounts, kwargs: dict, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.add_user(**kwargs)
    assert not accounts.has_accounts()


def test_duplicates_are_refused(accounts: Accounts) -> None:
    accounts.add_user("ana", "admin", password="correct horse", email="a@x.org")
    with pytest.raises(AccountError, match="already a user named ana"):
        accounts.add_user("ANA", "admin", password="correct horse")
    with pytest.raises(AccountError, match="already a user with the e-mail a@x.org"):
        accounts.add_user("bo", "admin", password="correct horse", email="A@x.org")


def test_authenticate(accounts: Accounts) -> None:
    accounts.add_user("ana", "reviewer", password="correct horse")
    assert accounts.authenticate("Ana", "correct horse", "10.0.0.1") == User("ana", Role.REVIEWER)
    with pytest.raises(AuthError) as wrong:
        accounts.authenticate("ana", "wrong horse", "10.0.0.1")
    with pytest.raises(AuthError) as unknown:
        accounts.authenticate("nobody", "wrong horse", "10.0.0.2")
    assert str(wrong.value) == str(unknown.value) == "Wrong user name or password."  # no user oracle
    for strange in ("\x00", "\ud800", ""):
        with pytest.raises(AuthError, match="Wrong user name or password"):
            accounts.authenticate(strange, strange, strange)


def test_an_oidc_only_account_cannot_log_in_with_a_password(accounts: Accounts) -> None:
    accounts.add_user("bo", "annotator", email="bo@example.com")
    with pytest.raises(AuthError, match="Wrong user name or password"):
        accounts.authenticate("bo", "", "c")


def test_sessions_follow_the_user_row(accounts: Accounts) -> None:
    ana = accounts.add_user("ana", "admin", password="correct horse")
    bo = accounts.add_user("bo", "annotator", password="correct horse")
    token = accounts.issue_session(bo)
    assert accounts.session_user(token) == bo
    accounts.set_role("bo", "reviewer")
    assert accounts.session_user(token) == User("bo", Role.REVIEWER)  # the next action sees the new role
    accounts.remove_user("bo")
    assert accounts.session_user(token) is None  # removed: logged out at once
    token = accounts.issue_session(ana)
    other = accounts.issue_session(ana)
    accounts.revoke(token)
    assert accounts.session_user(token) is None and accounts.session_user(other) == ana
    accounts.set_password("ana", "new password")  # ends every session of hers
    assert accounts.session_user(other) is None
    assert accounts.authenticate("ana", "new password", "c") == ana


def test_forged_altered_and_expired_tokens_open_nothing(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = accounts.add_user("ana", "admin", password="correct horse")
    token = accounts.issue_session(ana)
    session_id, signature = token.split(".")

    def flipped(text: str) -> str:  # the last character changed (to "A", or "B" when it already is "A")
        return text[:-1] + ("B" if text.endswith("A") else "A")

    for bad in (
        None,
        "",
        "garbage",
        f"{session_id}.",
        f"{session_id}.{flipped(signature)}",
        f"{flipped(session_id)}.{signature}",
        f"{session_id}.{signature}\x00",
        "é.é",
        "\ud800.\ud800",
        "x" * 10_000,
    ):
        assert accounts.session_user(bad) is None
    short = accounts.issue_session(ana, hours=-1)  # already expired
    assert accounts.session_user(short) is None
    monkeypatch.setenv("OPSML_IMAGE_SECRET", "another server secret")
    assert accounts.session_user(token) is None  # signed with the old secret


def test_session_hours_come_from_the_environment(accounts: Accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from opsml_image.auth.db import sessions

    ana = accounts.add_user("ana", "admin", password="correct horse")
    monkeypatch.setenv("OPSML_IMAGE_SESSION_HOURS", "0.5")
    accounts.issue_session(ana)
    with accounts.engine.connect() as conn:
        row = conn.execute(sessions.select()).one()
    assert row.expires_at - row.created_at == pytest.approx(1800) and row.expires_at > time.time()
    monkeypatch.setenv("OPSML_IMAGE_SESSION_HOURS", "soon")
    with pytest.raises(AccountError, match="OPSML_IMAGE_SESSION_HOURS must be a number"):
        accounts.issue_session(ana)


def test_the_secret_is_made_once_and_shared_by_servers(app_db_url: str) -> None:
    first, second = Accounts(app_db_url), Accounts(app_db_url)
    try:
        ana = first.add_user("ana", "admin", password="correct horse")
        token = first.issue_session(ana)
        assert second.session_user(token) == ana  # another server on the same database
        second.revoke(token)
        assert first.session_user(token) is None
    finally:
        first.close()
        second.close()


def test_single_user_mode_is_the_local_admin(accounts: Accounts) -> None:
    assert accounts.current_user(None) == LOCAL_ADMIN
    ana = accounts.add_user("ana", "annotator", password="correct horse")
    assert accounts.current_user(None) is None
    assert accounts.current_user(accounts.issue_session(ana)) == ana


def test_the_last_admin_stays(accounts: Accounts) -> None:
    accounts.add_user("ana", "admin", password="correct horse")
    accounts.add_user("bo", "annotator", password="correct horse")
    with pytest.raises(AccountError, match="ana is the last admin"):
        accounts.set_role("ana", "reviewer")
    with pytest.raises(AccountError, match="ana is the last admin"):
        accounts.remove_user("ana")
    accounts.set_role("bo", "admin")
    accounts.remove_user("ana")
    with pytest.raises(AccountError, match="no user named ana"):
        accounts.set_role("ana", "admin")
    with pytest.raises(AccountError, match="bo is the last admin: make another user admin first"):
        accounts.remove_user("bo")  # the last account of all: it would open the app to anyone
    assert accounts.set_role("bo", "admin") == User("bo", Role.ADMIN)  # admin to admin is no demotion
    assert [a.name for a in accounts.list_users()] == ["bo"]


def test_the_last_account_stays_even_without_an_admin(accounts: Accounts) -> None:
    accounts.add_user("cy", "annotator", password="correct horse")
    accounts.add_user("di", "reviewer", password="correct horse")
    accounts.remove_user("di")
    with pytest.raises(AccountError, match="cy is the last account"):
        accounts.remove_user("cy")
    assert accounts.has_accounts()


@pytest.mark.parametrize(
    "changes",
    [
        (lambda a: a.remove_user("ana"), lambda a: a.remove_user("eve")),
        (lambda a: a.set_role("ana", "annotator"), lambda a: a.remove_user("eve")),
        (lambda a: a.set_role("ana", "reviewer"), lambda a: a.set_role("eve", "annotator")),
    ],
    ids=["remove+remove", "demote+remove", "demote+demote"],
)
def test_two_admins_leaving_at_once_leave_one(
    accounts: Accounts, monkeypatch: pytest.MonkeyPatch, changes: tuple[Callable[[Accounts], object], ...]
) -> None:
    """Each change holds its transaction open after the count: without the row locks (or BEGIN IMMEDIATE)
    both would pass it and leave no admin."""
    accounts.add_user("ana", "admin", password="correct horse")
    accounts.add_user("eve", "admin", password="correct horse")
    accounts.add_user("bo", "annotator", password="correct horse")
    counted = accounts_module._keep_an_admin

    def slow(*args: object) -> User:
        user = counted(*args)  # type: ignore[arg-type]
        time.sleep(0.5)
        return user

    monkeypatch.setattr(accounts_module, "_keep_an_admin", slow)
    start = threading.Barrier(2)
    outcome: list[str] = []

    def run(change: Callable[[Accounts], object]) -> None:
        start.wait()
        try:
            change(accounts)
            outcome.append("done")
        except AccountError as error:
            outcome.append(str(error))

    threads = [threading.Thread(target=run, args=(change,)) for change in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcome.count("done") == 1 and any("is the last admin" in text for text in outcome), outcome
    assert [a.name for a in accounts.list_users() if a.role == Role.ADMIN] in (["ana"], ["eve"])
