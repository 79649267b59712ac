"""``python -m opsml_image users ...``: through typer's CliRunner, and once as the user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT
from opsml_image.auth import Accounts, AuthError, Role, User
from opsml_image.cli import app

runner = CliRunner()


@pytest.fixture
def db_env(app_db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPSML_IMAGE_STORE_URI", app_db_url)
    return app_db_url


def users(*args: str, stdin: str | None = None):
    return runner.invoke(app, ["users", *args], input=stdin)


def test_the_account_lifecycle(db_env: str) -> None:
    assert "single-user mode" in users("list").output
    added = users(
        "add", "Ana", "--role", "admin", "--password-stdin", "--email", "ana@x.org", stdin="correct horse\n"
    )
    assert added.exit_code == 0 and "added ana (admin) <ana@x.org>" in added.output
    assert (
        users("add", "bo", "--role", "annotator", "--password-stdin", stdin="another secret\n").exit_code == 0
    )
    listed = [json.loads(line) for line in users("list", "--json").output.splitlines()]
    assert [(u["name"], u["role"], u["email"], u["password"]) for u in listed] == [
        ("ana", "admin", "ana@x.org", True),
        ("bo", "annotator", None, True),
    ]
    table = users("list").output
    assert "ana" in table and "annotator" in table and "correct horse" not in table
    assert users("set-role", "bo", "reviewer").exit_code == 0
    accounts = Accounts(db_env)
    try:
        assert accounts.authenticate("bo", "another secret", "cli-test") == User("bo", Role.REVIEWER)
        token = accounts.issue_session(accounts.get_user("bo"))  # type: ignore[arg-type]
        assert users("passwd", "bo", "--password-stdin", stdin="a third secret\r\n").exit_code == 0
        assert accounts.session_user(token) is None  # a new password ends the sessions
        with pytest.raises(AuthError):
            accounts.authenticate("bo", "another secret", "cli-test")
        assert accounts.authenticate("bo", "a third secret", "cli-test").name == "bo"  # CRLF stripped
        assert users("remove", "bo").exit_code == 0
        assert accounts.get_user("bo") is None
    finally:
        accounts.close()


@pytest.mark.parametrize(
    ("args", "stdin", "message", "code"),
    [
        (["add", "ana", "--role", "boss", "--password-stdin"], "correct horse\n", "unknown role 'boss'", 2),
        (["add", "ana", "--role", "admin", "--password-stdin"], "short\n", "at least 8 characters", 2),
        (["add", "ana", "--role", "admin", "--password-stdin"], "", "no password on standard input", 2),
        (["add", "ana", "--role", "admin"], None, "give a password (--password-stdin) or an e-mail", 2),
        (["add", "../etc", "--role", "admin", "--password-stdin"], "correct horse\n", "invalid user name", 2),
        (["set-role", "nobody", "admin"], None, "no user named nobody", 1),
        (["passwd", "nobody", "--password-stdin"], "correct horse\n", "no user named nobody", 1),
        (["passwd", "nobody"], None, "--password-stdin", 2),
        (["remove", "nobody"], None, "no user named nobody", 1),
    ],
)
def test_errors_are_one_line_without_traceback(db_env, args, stdin, message, code) -> None:
    result = users(*args, stdin=stdin)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output


def test_the_last_admin_cannot_be_removed_or_demoted(db_env: str) -> None:
    assert users("add", "ana", "--role", "admin", "--password-stdin", stdin="correct horse\n").exit_code == 0
    for args in (["remove", "ana"], ["set-role", "ana", "annotator"]):
        result = users(*args)
        assert result.exit_code == 1, result.output
        assert "error: ana is the last admin: make another user admin first" in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "ana" in users("list").output and "single-user mode" not in users("list").output


def test_as_a_subprocess_the_password_comes_from_stdin_only(tmp_path: Path) -> None:
    env = {**os.environ, "OPSML_IMAGE_HOME": str(tmp_path / "home")}
    env.pop("OPSML_IMAGE_STORE_URI", None)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "opsml_image", "users", *args]
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120
        )

    added = run("add", "ana", "--role", "reviewer", "--password-stdin", stdin="correct horse\n")
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "home" / "app.db").exists()  # the default database: <home>/app.db
    assert "ana" in run("list").stdout
    refused = run("set-role", "ana", "root")
    assert refused.returncode == 2 and refused.stderr.startswith("error: unknown role 'root'")
    assert "Traceback" not in refused.stderr
    refused = run("remove", "ana")  # the only account: removing it would open the app to anyone
    assert refused.returncode == 1 and refused.stderr.startswith("error: ana is the last account")
    accounts = Accounts(f"sqlite:///{tmp_path / 'home' / 'app.db'}")
    try:
        assert accounts.authenticate("ana", "correct horse", "t") == User("ana", Role.REVIEWER)
    finally:
        accounts.close()
