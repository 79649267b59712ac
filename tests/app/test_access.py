"""AppTest of team mode: the log-in form, every role x every page (forbidden ones say so and show no data),
a removed user's stale action refused, Log out, the Users and History pages, single-user mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from streamlit.testing.v1 import AppTest

from conftest import open_app, open_folder, sidebar_counts
from opsml_image.auth import Accounts, passwords

PASSWORD = "correct horse"
PAGES = {
    "pages/browse.py": None,
    "pages/annotate.py": "annotate",
    "pages/validate.py": "validate",
    "pages/register.py": "register",
    "pages/new_dataset.py": "create dataset",
    "pages/transfer.py": "export",
    "pages/users.py": "manage users",
    "pages/history.py": "view history",
}
ALLOWED = {
    "annotator": {"pages/browse.py", "pages/annotate.py", "pages/validate.py", "pages/transfer.py"},
    "reviewer": {"pages/browse.py", "pages/annotate.py", "pages/validate.py", "pages/transfer.py"},
    "admin": set(PAGES),
}
FORBIDDEN_TEXT = "This page is not available to you"


@pytest.fixture
def team(app_demo: Path) -> Iterator[Accounts]:
    """Team mode: three accounts in the app's database (cheap Argon2 parameters)."""
    real = passwords._hasher
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts = Accounts()
    for name, role in (("ada", "admin"), ("rex", "reviewer"), ("anna", "annotator")):
        accounts.add_user(name, role, password=PASSWORD, email=f"{name}@example.com")
    yield accounts
    accounts.close()
    passwords.use_hasher(real)


def add_in_form(at: AppTest, name: str, role: str | None = None) -> None:
    """Fill the Users page's add form (name, role when given, the test password) and submit it."""
    at.text_input(key="users_add_name").input(name)
    if role is not None:
        at.selectbox(key="users_add_role").set_value(role)
    at.text_input(key="users_add_password").input(PASSWORD)
    at.button(key="FormSubmitter:users_add-Add user").click().run()


def log_in(name: str, password: str = PASSWORD, at: AppTest | None = None) -> AppTest:
    at = at or open_app()
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(password)
    at.button(key="FormSubmitter:login-Log in").click().run()
    assert not at.exception, at.exception
    return at


def errors(at: AppTest) -> list[str]:
    """The error messages as shown (Markdown escapes removed)."""
    return [e.value.replace("\\", "") for e in at.error]


def test_team_mode_asks_to_log_in_and_shows_no_data(team: Accounts):
    at = open_app()
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert at.button(key="FormSubmitter:login-Log in").label == "Log in"
    assert sidebar_counts(at) is None and not at.dataframe and not at.main.metric
    at = log_in("anna", "wrong password", at)
    assert errors(at) == ["Wrong user name or password."]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    at = log_in("nobody", PASSWORD, at)
    assert errors(at) == ["Wrong user name or password."]  # the same for an unknown name


def test_repeated_failures_show_the_wait(team: Accounts):
    at = open_app()
    for _ in range(4):
        at = log_in("rex", "wrong password", at)
    assert "Too many failed log-ins: try again in" in errors(at)[0]
    at = log_in("rex", PASSWORD, at)  # locked: even the right password waits
    assert "Too many failed log-ins" in errors(at)[0]


@pytest.mark.parametrize("role_user", ["anna", "rex", "ada"])
def test_every_role_on_every_page(team: Accounts, role_user: str):
    user = team.get_user(role_user)
    assert user is not None
    at = log_in(role_user)
    assert f"Signed in as {user.label}" in [t.value for t in at.sidebar.text]
    for page, action in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        shown = errors(at)
        if page in ALLOWED[user.role.value]:
            assert not any(FORBIDDEN_TEXT in e for e in shown), (page, shown)
        else:
            assert len(shown) == 1 and FORBIDDEN_TEXT in shown[0], (page, shown)
            assert f"may {action}" in shown[0], shown
            # nothing of the page: no title, tables, forms or metrics in the main area
            assert not at.main.title and not at.main.dataframe and not at.main.metric, page
            assert not [b for b in at.main.button if b.label not in ("Log out",)], page


def test_annotators_see_export_but_not_import(team: Accounts):
    at = log_in("anna")
    at.switch_page("pages/transfer.py").run()
    assert any("Only admins can import" in i.value for i in at.info)


def test_a_removed_users_stale_edit_is_refused(team: Accounts):
    at = log_in("anna")
    at.switch_page("pages/annotate.py").run()
    assert not at.exception, at.exception
    at.button(key="annotate_more_0").click().run()  # the caption is shown on demand
    area = next(t for t in at.text_area if t.label == "Caption")
    area.input("typed by anna").run()  # saved as anna
    team.remove_user("anna")
    area = next(t for t in at.text_area if t.label == "Caption")
    area.input("typed after removal").run()  # the callback runs with no user: refused, then the log-in form
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    at = log_in("ada")
    at.switch_page("pages/history.py").run()
    frame = at.dataframe[0].value
    assert list(frame["who"]) == ["anna"] and list(frame["what"]) == ["caption set"]  # the later one refused


def test_log_out_revokes_the_session(team: Accounts):
    at = log_in("rex")
    token = at.session_state["opsml_session_token"]
    assert team.session_user(token) is not None
    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert not at.exception, at.exception
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert team.session_user(token) is None


def test_a_role_change_applies_at_the_next_action(team: Accounts):
    at = log_in("rex")
    at.switch_page("pages/register.py").run()
    assert FORBIDDEN_TEXT in errors(at)[0]
    team.set_role("rex", "admin")
    at.run()
    assert not any(FORBIDDEN_TEXT in e for e in errors(at))
    team.set_role("rex", "annotator")
    at.switch_page("pages/validate.py").run()
    assert "Signed in as rex (annotator)" in [t.value for t in at.sidebar.text]


def test_admin_manages_users_in_the_app(team: Accounts):
    at = log_in("ada")
    at.switch_page("pages/users.py").run()
    assert not at.exception, at.exception
    assert sorted(at.dataframe[0].value["user"]) == ["ada", "anna", "rex"]
    add_in_form(at, "<img src=x onerror=alert(1)>")
    assert "invalid user name" in errors(at)[0]
    add_in_form(at, "eve", "reviewer")
    assert team.get_user("eve") is not None and team.get_user("eve").role == "reviewer"  # type: ignore[union-attr]
    at.run()
    assert "eve" in list(at.dataframe[0].value["user"])
    at.selectbox(key="users_remove_name").set_value("eve")
    at.checkbox(key="users_remove_sure").check()
    at.button(key="FormSubmitter:users_remove-Remove").click().run()
    assert team.get_user("eve") is None


def test_only_admins_see_open_another_folder(team: Accounts, app_demo: Path):
    at = log_in("rex")
    assert not [b for b in at.sidebar.button if b.label == "Open another folder"]
    at = log_in("ada")
    assert not [t for t in at.text_input if t.label == "Dataset folder"]  # in a dialog, loaded when opened
    at.button(key="open_folder_button").click().run()
    next(t for t in at.text_input if t.label == "Dataset folder").input("/etc")
    next(b for b in at.button if b.label == "Open").click().run()
    assert "is not inside a data root" in " ".join(e.value for e in at.error).replace("\\", "")
    assert [t for t in at.text_input if t.label == "Dataset folder"]  # still open, with the message
    next(t for t in at.text_input if t.label == "Dataset folder").input(str(app_demo))  # the start-up root
    next(b for b in at.button if b.label == "Open").click().run()
    assert not at.exception and not [t for t in at.text_input if t.label == "Dataset folder"]  # opened, closed


def test_single_user_mode_has_no_log_in_and_says_how_to_add_accounts(app_demo: Path):
    at = open_app()
    assert not [t for t in at.text_input if t.label == "Username"]
    assert any("Single-user mode" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/users.py").run()
    assert not at.exception, at.exception  # the local admin may open it: no accounts listed yet


def test_plain_text_is_no_markdown_link_image_or_html():
    from pages._widgets import WORD_JOINER, plain

    shown = plain("**b** ![t](http://127.0.0.1:9/x.png) <img src=x> eve@example.com www.example.org")
    assert "\\*\\*b\\*\\*" in shown and "\\!\\[t\\]\\(" in shown and "\\<img src\\=x\\>" in shown
    assert f"eve{WORD_JOINER}@example.com" in shown and f"www{WORD_JOINER}.example" in shown
    assert f"http{WORD_JOINER}\\:" in shown


def test_annotators_get_no_class_form(team: Accounts):
    at = log_in("anna")
    at.switch_page("pages/annotate.py").run()
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.key == "annotate_classes"]
    assert any("Reviewers and admins add and name classes" in c.value for c in at.caption)
    at = log_in("rex")
    at.switch_page("pages/annotate.py").run()
    at.button(key="annotate_classes").click().run()  # the class dialog opens
    assert [t for t in at.text_input if t.label == "New class name"]


def test_a_new_session_opens_the_users_own_last_folder(team: Accounts, tmp_path: Path):
    from opsml_image.demo import copy_demo

    other = copy_demo(tmp_path / "other")
    at = log_in("ada")
    open_folder(at, other)
    assert at.sidebar.text[1].value == "other"
    assert log_in("ada").sidebar.text[1].value == "other"  # her next browser session
    assert log_in("rex").sidebar.text[1].value == "data"  # others keep theirs
    import shutil

    shutil.rmtree(other)
    assert log_in("ada").sidebar.text[1].value == "data"  # gone: the start-up folder again


def test_admin_changes_a_password_without_touching_the_role(team: Accounts):
    at = log_in("ada")
    at.switch_page("pages/users.py").run()
    at.selectbox(key="users_change_name").set_value("rex")
    at.text_input(key="users_change_password").input("a brand new secret")
    at.button(key="FormSubmitter:users_change-Change").click().run()
    assert not at.exception and not errors(at), errors(at)
    assert team.get_user("rex").role == "reviewer"  # type: ignore[union-attr]
    assert team.authenticate("rex", "a brand new secret").name == "rex"


def test_the_first_account_added_in_the_app_must_be_an_admin(app_demo: Path):
    real = passwords._hasher
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    try:
        at = open_app()
        at.switch_page("pages/users.py").run()
        add_in_form(at, "anna", "annotator")
        assert "the first account must be an admin" in errors(at)[0]
        add_in_form(at, "ada", "admin")
        assert not at.exception, at.exception
        at.run()  # team mode from now on: log in
        assert [t.label for t in at.text_input] == ["Username", "Password"]
    finally:
        passwords.use_hasher(real)


def test_annotators_see_fixes_they_cannot_apply_without_buttons(team: Accounts, app_demo: Path):
    import json

    path = app_demo / "train" / "metadata.jsonl"
    path.write_text(path.read_text() + "{not json\n" + json.dumps({"file_name": "gone.jpg"}) + "\n")
    at = log_in("anna")
    at.switch_page("pages/validate.py").run()
    assert not at.exception, at.exception
    labels = [b.label for b in at.main.button]
    assert not [b for b in labels if b.startswith("Preview") or b in ("Save line", "Drop line")], labels
    assert any("Reviewers and admins can apply it" in c.value for c in at.caption)
    at = log_in("rex")
    at.switch_page("pages/validate.py").run()
    assert [b for b in at.main.button if b.label.startswith("Preview")]
