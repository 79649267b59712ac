"""Use case: every action checks the acting user's role server-side (a stale button is refused), records
who made each change, keeps folders inside the data roots, and manages users for admins only."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from opsml_image.annotation import ImageAnnotation
from opsml_image.auth import Accounts, Action, Forbidden, Role, User, passwords
from opsml_image.demo import copy_demo
from opsml_image.registry import CardRegistry
from opsml_image.store import Key
from opsml_image.usecases import NotFound, Refused, UserError, access
from opsml_image.usecases import annotate as ann
from opsml_image.usecases import register as reg
from opsml_image.usecases import validate as val
from opsml_image.usecases.create import create_dataset
from opsml_image.usecases.transfer import import_upload
from opsml_image.usecases.workspace import Workspace, open_workspace

ANNA = User("anna", Role.ANNOTATOR)
REX = User("rex", Role.REVIEWER)
ADA = User("ada", Role.ADMIN)
KEY = ("train", "scene_001.jpg")


@dataclasses.dataclass
class FakeUpload:
    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


@pytest.fixture(autouse=True)
def cheap_hasher() -> Iterator[None]:
    real = passwords._hasher
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    passwords.use_hasher(real)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    workspace = open_workspace(copy_demo(tmp_path / "data"), flush_delay=0.05)
    yield workspace
    workspace.close()


def caption(ws: Workspace, user: User | None, text: str, key: Key | None = None) -> ann.Outcome:
    view = ann.open_image(ws, key or KEY)
    assert view is not None
    return ann.set_caption(ws, view, text, user=user)


# ------------------------------------------------------------------------------------------ annotate


@pytest.mark.parametrize("user", [ANNA, REX, ADA])
def test_every_role_annotates_and_the_history_names_who(ws: Workspace, user: User):
    assert caption(ws, user, f"by {user.name}").saved
    last = ws.store.history(1, key=KEY)[0]
    assert last.user == user.name and last.after is not None and last.after.caption == f"by {user.name}"
    rows = access.image_history(ws, ANNA, KEY)
    assert rows[0].user == user.name and rows[0].what == "caption set"


def test_nobody_signed_in_saves_nothing(ws: Workspace):
    before = ws.store.version(*KEY)
    outcome = caption(ws, None, "anonymous")
    assert outcome.status == "refused" and "log in" in outcome.message
    assert ws.store.version(*KEY) == before
    view = ann.open_image(ws, KEY)
    assert view is not None
    assert ann.delete_box(ws, view, 0, user=None).status == "refused"
    assert ann.copy_previous_boxes(ws, view, user=None).status == "refused"


def test_annotators_cannot_edit_classes(ws: Workspace):
    names = ws.store.category_names()
    with pytest.raises(Forbidden, match="anna is an annotator: only reviewers and admins may edit classes"):
        ann.add_class(ws, "planted", user=ANNA)
    with pytest.raises(Forbidden):
        ann.name_class(ws, 0, "renamed", user=ANNA)
    assert ws.store.category_names() == names
    assert ann.add_class(ws, "planted", user=REX) == len(names)
    ann.name_class(ws, 0, "renamed", user=ADA)
    assert ws.store.category_names()[0] == "renamed"


def test_a_drawn_label_naming_a_new_class_needs_a_reviewer(ws: Workspace):
    view = ann.open_image(ws, KEY)
    assert view is not None
    board = ann.canvas_view(view, ws.store.category_names(), (400, 300))
    drawing = dict(board.drawing)
    rect = {"type": "LabeledRect", "left": 5, "top": 5, "width": 40, "height": 30, "scaleX": 1, "scaleY": 1,
            "label": "zebra", "originX": "left", "originY": "top"}  # fmt: skip
    drawing["objects"] = [*drawing.get("objects", []), rect]
    names = ws.store.category_names()
    outcome = ann.apply_drawing(ws, view, board, drawing, 0, user=ANNA)
    assert outcome.status == "refused" and "edit classes" in outcome.message
    assert ws.store.category_names() == names
    outcome = ann.apply_drawing(ws, view, board, drawing, 0, user=REX)
    assert outcome.saved and outcome.new_classes == ("zebra",)


# ------------------------------------------------------------------------------------------ fixes, register


def break_a_box(ws: Workspace) -> None:
    annotation = ws.store.get(*KEY)
    assert annotation is not None and annotation.boxes
    box = dataclasses.replace(annotation.boxes[0], x=-50.0)
    edited = dataclasses.replace(annotation, boxes=[box, *annotation.boxes[1:]])
    ws.store.save(edited, ws.store.version(*KEY), user="setup")
    ws.store.flush()
    val.validate_and_record(ws)


def test_fixes_need_a_reviewer_and_record_who(ws: Workspace):
    break_a_box(ws)
    offer = val.FIX_OFFERS["box.outside"]
    changes = val.preview_fix(ws, offer.code)
    assert changes
    with pytest.raises(Forbidden, match="only reviewers and admins may apply fix"):
        val.apply_fix(ws, offer, changes, user=ANNA)
    applied = val.apply_fix(ws, offer, changes, user=REX)
    assert ws.store.history(1)[0].user == "rex"
    with pytest.raises(Forbidden):
        val.undo_fix(ws, applied, user=ANNA)
    val.undo_fix(ws, applied, user=ADA)
    assert ws.store.history(1)[0].user == "ada" and ws.store.history(1)[0].action == "undo"


@pytest.mark.parametrize("user", [ANNA, REX])
def test_only_admins_register(ws: Workspace, tmp_path: Path, user: User):
    registry = CardRegistry("data")
    form = reg.RegisterForm(name="demo", team="vision", contact="ann@example.com")
    with pytest.raises(Forbidden, match="only admins may register"):
        reg.register(ws, registry, form, user=user)
    assert reg.register(ws, registry, form, user=ADA).version == "1.0.0"


# ------------------------------------------------------------------------------------------ folders


def test_create_and_import_are_for_admins_inside_a_data_root(tmp_path: Path):
    roots = [tmp_path / "root"]
    roots[0].mkdir()
    image = (Path(copy_demo(tmp_path / "demo")) / "train" / "scene_001.jpg").read_bytes()
    upload = [FakeUpload("a.jpg", image)]
    for user in (ANNA, REX):
        with pytest.raises(Forbidden, match="only admins may create dataset"):
            create_dataset(roots[0], "set", upload, user=user, roots=roots)
        with pytest.raises(Forbidden, match="only admins may import"):
            import_upload(roots[0], "set", "yolo", upload, user=user, roots=roots)
    assert not any(roots[0].iterdir())
    (tmp_path / "outside").mkdir()
    for parent in (tmp_path / "outside", tmp_path / "nowhere", "/etc"):
        with pytest.raises(Refused, match="is not inside a data root"):
            create_dataset(parent, "set", upload, user=ADA, roots=roots)
        with pytest.raises(Refused):
            import_upload(parent, "set", "yolo", upload, user=ADA, roots=roots)
    created = create_dataset(roots[0], "set", upload, user=ADA, roots=roots)
    assert created.path == roots[0] / "set" and created.saved == ["a.jpg"]


def test_open_folder_admin_only_inside_roots_same_message_either_way(tmp_path: Path):
    root = tmp_path / "root"
    inside = copy_demo(root / "set")
    (tmp_path / "secret").mkdir()
    (root / "escape").symlink_to(tmp_path / "secret")
    for user in (ANNA, REX, None):
        with pytest.raises(Forbidden):
            access.open_folder(user, inside, [root])
    assert access.open_folder(ADA, str(inside), [root]) == inside
    messages = []
    for path in (tmp_path / "secret", tmp_path / "does-not-exist", root / "escape", "/root/.ssh/id_rsa"):
        with pytest.raises(Refused) as caught:
            access.open_folder(ADA, path, [root])
        messages.append(str(caught.value).split(" is not inside")[1])
    assert len(set(messages)) == 1  # no oracle: a path outside reads the same whether it exists or not
    with pytest.raises(NotFound, match="does not exist"):
        access.open_folder(ADA, root / "missing", [root])
    fifo = root / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(Refused, match="only folders and files"):
        access.open_folder(ADA, fifo, [root])


def test_a_data_root_opens_only_when_it_is_a_dataset_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    root = tmp_path / "root"
    inside = copy_demo(root / "set")
    (root / "empty").mkdir()
    with pytest.raises(UserError, match="is a data root, not a dataset: open one of the dataset folders"):
        access.open_folder(ADA, root, [root])
    with pytest.raises(UserError, match="is not a dataset folder: it has no metadata.jsonl"):
        access.open_folder(ADA, root / "empty", [root])
    assert access.open_folder(ADA, inside, [inside, root]) == inside  # a root that is a dataset opens


def test_a_remembered_folder_that_no_longer_opens_falls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The session starts on the start-up folder (``usable(...) or startup``) instead of on an error."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    root = tmp_path / "root"
    good, held, gone = copy_demo(root / "good"), copy_demo(root / "held"), copy_demo(root / "gone")

    def opens(path: Path) -> None:
        open_workspace(path).close()

    folders = access.LastFolders()
    folders.set(ADA, root)  # the data root itself, remembered by an older version
    assert access.LastFolders.usable(folders.get(ADA), [root], opens) is None
    assert access.LastFolders.usable(good, [root], opens) == good
    assert access.LastFolders.usable(good, [tmp_path / "elsewhere"], opens) is None  # no longer in a root
    shutil.rmtree(gone)
    assert access.LastFolders.usable(gone, [root], opens) is None
    ws = open_workspace(held)
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "another-home"))  # held by another store now
    assert access.LastFolders.usable(held, [root], opens) is None
    assert access.LastFolders.usable(good, [root]) == good  # without ``opens``: the folder check alone
    ws.close()
    assert access.LastFolders.usable(None, [root], opens) is None


@pytest.mark.parametrize("in_database", [False, True])
def test_each_user_keeps_their_own_last_folder(tmp_path: Path, in_database: bool):
    accounts = Accounts(f"sqlite:///{tmp_path / 'app.db'}")
    engine = accounts.engine if in_database else None
    folders = access.LastFolders(engine)
    folders.set(ANNA, tmp_path / "a")
    folders.set(ADA, tmp_path / "b")
    folders.set(ANNA, tmp_path / "c")
    assert folders.get(ANNA) == tmp_path / "c" and folders.get(ADA) == tmp_path / "b"
    assert folders.get(REX) is None
    if in_database:  # another server (or a restart) reads the same
        assert (
            access.LastFolders(Accounts(f"sqlite:///{tmp_path / 'app.db'}").engine).get(ADA) == tmp_path / "b"
        )
    accounts.close()


# ------------------------------------------------------------------------------------------ history, users


def test_history_by_user_and_time_is_for_admins(ws: Workspace):
    assert caption(ws, ANNA, "one").saved
    other = next(k for k in ws.store.keys(limit=3) if k != KEY)  # anna's edit leased KEY to her
    assert caption(ws, REX, "two", other).saved
    with pytest.raises(Forbidden, match="only admins may view history"):
        access.changes(ws, REX)
    rows = access.changes(ws, ADA)
    assert [r.user for r in rows[:2]] == ["rex", "anna"]
    assert [r.user for r in access.changes(ws, ADA, who="anna")] == ["anna"]
    from datetime import datetime, timedelta

    assert access.changes(ws, ADA, since=datetime.now() + timedelta(hours=1)) == []


def test_describe_change():
    before = ImageAnnotation(file_name="a.jpg", caption=None)
    after = dataclasses.replace(before, caption="x", categories=[1])
    change = type("C", (), {"before": before, "after": after})
    assert access.describe_change(change) == "caption set, image categories changed"  # type: ignore[arg-type]
    change.after = None
    assert access.describe_change(change) == "record removed"  # type: ignore[arg-type]


def test_users_are_managed_by_admins_only(tmp_path: Path):
    accounts = Accounts(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        accounts.add_user("ada", "admin", password="correct horse")
        accounts.add_user("rex", "reviewer", password="correct horse")
        for action in (
            lambda: access.users(accounts, REX),
            lambda: access.add_user(accounts, REX, "eve", "admin", "correct horse", None),
            lambda: access.set_role(accounts, REX, "rex", "admin"),
            lambda: access.remove_user(accounts, REX, "ada"),
            lambda: access.set_email(accounts, None, "rex", "r@example.com"),
        ):
            with pytest.raises(Forbidden):
                action()
        assert [a.role for a in access.users(accounts, ADA)] == [Role.ADMIN, Role.REVIEWER]
        access.add_user(accounts, ADA, "anna", "annotator", "correct horse", "anna@example.com")
        with pytest.raises(UserError, match="Not added: there is already a user named anna"):
            access.add_user(accounts, ADA, "anna", "annotator", "correct horse", None)
        with pytest.raises(UserError, match="cannot remove your own account"):
            access.remove_user(accounts, ADA, "ada")
        user, token = access.log_in(accounts, "rex", "correct horse", "127.0.0.1")
        assert access.signed_in(accounts, token) == user
        access.set_role(accounts, ADA, "rex", "annotator")  # applies at rex's next action
        assert access.signed_in(accounts, token) == User("rex", Role.ANNOTATOR)
        access.remove_user(accounts, ADA, "rex")
        assert access.signed_in(accounts, token) is None
        assert access.oidc_user(accounts, "ANNA@example.com").name == "anna"
        with pytest.raises(Forbidden, match="No account has the e-mail eve@example.com"):
            access.oidc_user(accounts, "eve@example.com")
        assert not access.page_allowed(User("anna", Role.ANNOTATOR), "pages/register.py")
        assert access.page_allowed(ADA, "users") and not access.page_allowed(None, "home")
        assert access.PAGE_ACTIONS["history"] == Action.VIEW_HISTORY
    finally:
        accounts.close()


def test_log_out_revokes_the_token(tmp_path: Path):
    accounts = Accounts(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        accounts.add_user("ada", "admin", password="correct horse")
        _, token = access.log_in(accounts, "ada", "correct horse", "127.0.0.1")
        access.log_out(accounts, token)
        assert access.signed_in(accounts, token) is None
        with pytest.raises(Refused, match="Wrong user name or password"):
            access.log_in(accounts, "ada", "wrong password", "127.0.0.1")
    finally:
        accounts.close()
