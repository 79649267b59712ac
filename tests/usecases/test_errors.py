"""Use cases: one error family at their edge. Each converted use case lets an error of the layers below
out as :class:`UserError` or one of its kinds (Refused, Stale, Invalid, NotFound), never as the lower
error itself; a bug (any other error) passes unchanged."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from opsml_image.annotation import ImageAnnotation
from opsml_image.auth import (
    AccountError,
    Accounts,
    Action,
    AuthError,
    Forbidden,
    OutsideRootsError,
    Role,
    User,
    passwords,
)
from opsml_image.dataset import FolderMoved, ImageDataset
from opsml_image.demo import copy_demo
from opsml_image.formats.base import FormatError
from opsml_image.lines import LineChanged
from opsml_image.registry import CardRegistry
from opsml_image.registry.errors import (
    CardNotFoundError,
    DatasetChangedError,
    InvalidNameError,
    RegistryConnectionError,
)
from opsml_image.review import AlreadyDecided, ReviewBoard, ReviewError, StaleReview
from opsml_image.store import FolderClaimed, StaleEdit, StillIndexing, StoreError, WorkStore
from opsml_image.usecases import (
    Invalid,
    NotFound,
    Refused,
    Stale,
    UserError,
    access,
    browse,
    create,
    export,
    register,
    review,
    transfer,
    validate,
    workspace,
)
from opsml_image.usecases.errors import converted, edge, user_error
from opsml_image.usecases.workspace import Workspace, open_workspace

ANNA = User("anna", Role.ANNOTATOR)
REX = User("rex", Role.REVIEWER)
ADA = User("ada", Role.ADMIN)
KEY = ("train", "scene_001.jpg")


@dataclasses.dataclass
class Up:
    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "OPSML_IMAGE_STORE_URI"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


@pytest.fixture
def ws(home: Path, tmp_path: Path) -> Iterator[Workspace]:
    found = open_workspace(copy_demo(tmp_path / "data"), flush_delay=0.05)
    yield found
    found.close()


@pytest.fixture
def accounts(home: Path) -> Iterator[Accounts]:
    real = passwords._hasher
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    found = Accounts()
    found.add_user("ada", "admin", password="correct horse")
    yield found
    found.close()
    passwords.use_hasher(real)


def failing(error: BaseException):  # noqa: ANN201 - a stand-in for a lower layer's method
    def fail(*args: object, **kwargs: object) -> object:
        raise error

    return fail


# ------------------------------------------------------------------------------------------ the family


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (Forbidden("anna may not"), Refused),
        (OutsideRootsError("/etc is not inside a data root"), Refused),
        (AuthError("Wrong user name or password."), Refused),
        (FolderClaimed("another store holds it"), Refused),
        (StaleEdit(KEY, 1, 2), Stale),
        (StaleReview("changed after it was submitted"), Stale),
        (AlreadyDecided("rita already approved it"), Stale),
        (LineChanged("the line changed"), Stale),
        (DatasetChangedError("the folder changed"), Stale),
        (CardNotFoundError("no card demo"), NotFound),
        (InvalidNameError("bad name"), Invalid),
        (AccountError("no user bob"), Invalid),
        (ReviewError("a comment is required"), Invalid),
        (RegistryConnectionError("cannot reach the registry"), UserError),
        (StoreError("the store is busy"), UserError),
        (StillIndexing(1, 2), UserError),
        (FolderMoved("the folder was moved"), UserError),
    ],
)
def test_the_librarys_own_errors_map_to_one_kind(error: Exception, kind: type[UserError]) -> None:
    found = user_error(error, "Not done: ")
    assert type(found) is kind and str(found).startswith("Not done: ")
    assert converted(error) is not None and type(converted(error)) is kind
    with pytest.raises(kind), edge():
        raise error


def test_plain_errors_convert_at_an_edge_only_and_bugs_pass() -> None:
    for error in (ValueError("bad"), KeyError("no split 'x'"), OSError("disk"), TypeError("bug")):
        assert user_error(error) is None  # the guard's fallback: not the library's own, maybe a bug
    assert type(converted(ValueError("bad"))) is Invalid
    assert type(converted(KeyError("x"))) is NotFound and str(converted(KeyError("x"))) == "x"
    assert type(converted(FileNotFoundError(2, "No such file", "/x"))) is NotFound
    assert type(converted(PermissionError(13, "Permission denied", "/x"))) is Refused
    assert type(converted(OSError(28, "No space left on device"))) is UserError
    assert converted(TypeError("bug")) is None
    with pytest.raises(TypeError), edge():
        raise TypeError("bug")
    kept = Refused("as it is")
    with pytest.raises(Refused) as caught, edge("prefix: "):
        raise kept
    assert caught.value is kept


def test_the_kinds_are_also_what_callers_below_catch() -> None:
    assert issubclass(Refused, Forbidden) and issubclass(Refused, PermissionError)
    assert issubclass(Invalid, ValueError) and issubclass(NotFound, LookupError)
    bad = converted(FormatError("boxes.csv", "line 2", "no image gone.png"))
    assert isinstance(bad, Invalid) and (bad.item, bad.reason) == ("line 2", "no image gone.png")
    assert Invalid("Give a folder.").reason == "Give a folder."


# ------------------------------------------------------------------------------------------ use cases


def test_access(ws: Workspace, accounts: Accounts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Refused, match="only admins may register"):
        access.check(ANNA, Action.REGISTER)
    assert access.page_refusal(ANNA, "register") and access.page_refusal(ADA, "register") is None
    with pytest.raises(Refused, match="Wrong user name or password"):
        access.log_in(accounts, "ada", "wrong", "127.0.0.1")
    with pytest.raises(Refused, match="No account has the e-mail"):
        access.oidc_user(accounts, "eve@example.com")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(Invalid, match="Give a folder"):
        access.open_folder(ADA, "  ", [root])
    with pytest.raises(Refused, match="not inside a data root"):
        access.open_folder(ADA, tmp_path, [root])
    with pytest.raises(NotFound, match="does not exist"):
        access.open_folder(ADA, root / "missing", [root])
    with pytest.raises(Invalid, match="Not added: "):
        access.add_user(accounts, ADA, "Not A Name!", "annotator", "long enough", None)
    with pytest.raises(Invalid, match="Not changed: "):
        access.set_role(accounts, ADA, "nobody", "admin")
    with pytest.raises(Refused, match="your own account"):
        access.remove_user(accounts, ADA, "ada")
    with pytest.raises(Refused, match="Only admins may assign"):
        access.assignees(accounts, REX)
    assert access.assignees(accounts, ADA) == ["ada"]
    monkeypatch.setattr(ws.store, "history", failing(StoreError("database is locked")))
    with pytest.raises(UserError, match="The history cannot be read: database is locked"):
        access.image_history(ws, ANNA, KEY)


def test_workspace(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        open_workspace(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        open_workspace(tmp_path / "file")
    data = copy_demo(tmp_path / "data")
    monkeypatch.setattr(WorkStore, "open", failing(FolderClaimed("the store abc holds this folder")))
    with pytest.raises(Refused, match="the store abc holds this folder"):
        open_workspace(data)
    monkeypatch.setattr(WorkStore, "open", failing(StoreError("a newer schema")))
    with pytest.raises(UserError, match="cannot be opened: a newer schema"):
        open_workspace(data)


def test_workspace_folder_moved(ws: Workspace, tmp_path: Path) -> None:
    ws.path.rename(tmp_path / "moved")
    with pytest.raises(UserError):
        workspace.check_in_place(ws)


def test_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = (copy_demo(tmp_path / "demo") / "train" / "scene_001.jpg").read_bytes()
    with pytest.raises(Invalid, match="Give the dataset a name"):
        create.create_dataset(tmp_path / "sets", "no spaces please", [Up("a.jpg", image)])
    with pytest.raises(Refused, match="only admins may create dataset"):
        create.create_dataset(tmp_path / "sets", "set", [Up("a.jpg", image)], user=REX)
    monkeypatch.setattr(ImageDataset, "create", failing(OSError(28, "No space left on device")))
    with pytest.raises(UserError, match="cannot be created: .*No space left on device"):
        create.create_dataset(tmp_path / "sets", "set", [Up("a.jpg", image)])


def test_export(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    assert export.save_now(ws, user=ANNA) >= 0  # whoever may annotate
    with pytest.raises(Refused, match="log in to annotate"):
        export.save_now(ws, user=None)
    with pytest.raises(NotFound, match="No split 'nope'"):
        export.export_split(ws, "nope", user=ANNA)
    monkeypatch.setattr(ws.store, "flush", failing(StoreError("the folder was replaced")))
    with pytest.raises(UserError, match="Could not write metadata.jsonl: the folder was replaced"):
        export.save_now(ws, user=ANNA)
    with pytest.raises(UserError, match="The export failed: the folder was replaced"):
        export.export_split(ws, "train", user=ANNA)


def test_validate(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    assert validate.can_fix(REX) and not validate.can_fix(ANNA)
    with pytest.raises(Refused):
        validate.apply_fix(ws, validate.CLEANUP, [], user=ANNA)
    monkeypatch.setattr(ws.store, "issues", failing(StoreError("database is locked")))
    with pytest.raises(UserError, match="The issues cannot be read: database is locked"):
        validate.issues(ws, "box.outside", 10)
    monkeypatch.setattr(ws.store, "flush", failing(StoreError("the folder was replaced")))
    with pytest.raises(UserError, match="cannot be validated: the folder was replaced"):
        validate.validate_and_record(ws)


def test_register(ws: Workspace, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CardRegistry("data")
    try:
        with pytest.raises(Invalid, match="Fill in the required field"):
            register.register(ws, registry, register.RegisterForm("", "", ""))
        form = register.RegisterForm("demo", "vision", "ann@example.com")
        with pytest.raises(Refused):
            register.register(ws, registry, form, user=REX)
        monkeypatch.setattr(ws.store, "flush", failing(StoreError("the folder was replaced")))
        with pytest.raises(UserError, match="Not registered: the folder was replaced"):
            register.register(ws, registry, form)
        monkeypatch.setattr(registry, "list_cards", failing(RegistryConnectionError("cannot reach it")))
        with pytest.raises(UserError, match="The registry cannot be read: cannot reach it"):
            register.form_defaults(ws, registry)
    finally:
        registry.close()
    monkeypatch.setattr(register, "CardRegistry", failing(RegistryConnectionError("cannot reach it")))
    with pytest.raises(UserError, match="The registry cannot be opened: cannot reach it"):
        register.open_registry()
    assert register.offers_approved_only(ANNA) and not register.offers_approved_only(access.LOCAL_ADMIN)


def test_review(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Refused, match="Only admins may assign"):
        review.assign(ws, REX, "anna", split="train")
    with pytest.raises(NotFound, match="nope"):
        review.assign(ws, ADA, "anna", split="nope")
    with pytest.raises(Invalid, match="line 2: there is no image train/gone.jpg") as caught:
        review.parse_keys(ws, "train/scene_001.jpg\ntrain/gone.jpg")
    assert caught.value.item == "line 2"
    assert review.parse_keys(ws, "scene_001.jpg\n\n") == [KEY]
    with pytest.raises(Invalid, match="Not reopened: "):
        review.reopen(ws, REX, KEY)  # not approved
    with pytest.raises(Refused):
        review.queue(ws, ANNA)
    monkeypatch.setattr(ReviewBoard, "next_image", failing(ReviewError("OPSML_IMAGE_LEASE_MINUTES is bad")))
    with pytest.raises(Invalid, match="OPSML_IMAGE_LEASE_MINUTES is bad"):
        review.next_image(ws, ANNA)
    monkeypatch.setattr(ReviewBoard, "item", failing(StoreError("database is locked")))
    with pytest.raises(UserError, match="The review state cannot be read: database is locked"):
        review.item(ws, KEY)
    monkeypatch.setattr(ReviewBoard, "submit", failing(StoreError("database is locked")))
    done = review.submit(ws, ANNA, KEY, take_next=False)  # a submission's refusal stays an outcome
    assert not done.ok and done.message == "Not submitted: database is locked"


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_transfer(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root"
    with pytest.raises(NotFound, match="Unknown format 'pdf'"):
        transfer.import_upload(root, "set", "pdf", [Up("a.zip", b"")])
    with pytest.raises(Refused, match="only admins may import"):
        transfer.import_upload(root, "set", "coco", [Up("a.zip", b"")], user=REX)
    with pytest.raises(Invalid, match="Upload one zip by itself"):
        transfer.import_upload(root, "set", "coco", [Up("a.zip", b""), Up("b.zip", b"")])
    with pytest.raises(Invalid, match=r"evil\.zip: .*\.\./evil\.png"):
        transfer.import_upload(root, "set", "yolo", [Up("evil.zip", zip_of({"../evil.png": b"x"}))])
    with pytest.raises(NotFound, match="No data.yaml"):
        transfer.import_upload(root, "set", "yolo", [Up("empty.zip", zip_of({"readme.txt": b"x"}))])
    bad = zip_of({"annotations.json": b'{"images": [{"id": 1, "file_name": "gone.png"}], "annotations": []}'})
    with pytest.raises(transfer.FormatInvalid) as caught:
        transfer.import_upload(root, "set", "coco", [Up("bad.zip", bad)])
    error = caught.value
    assert isinstance(error, Invalid) and isinstance(error, FormatError)
    assert str(error).startswith("The import stopped: bad.zip") and error.item is not None
    assert not (root / "set").exists()
    monkeypatch.setattr(ws.store, "flush", failing(StoreError("the folder was replaced")))
    with pytest.raises(UserError, match="The export stopped: the folder was replaced"):
        transfer.export_download(ws, "yolo")


def test_browse(ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes((ws.path / "train" / "scene_002.jpg").read_bytes())
    (ws.path / "train" / "scene_002.jpg").unlink()
    (ws.path / "train" / "scene_002.jpg").symlink_to(secret)
    with pytest.raises(Invalid, match="outside the dataset folder"):
        browse.image_path(ws, "train", "scene_002.jpg")
    shown = browse.picture(ws, ImageAnnotation(file_name="scene_002.jpg", split="train"))
    assert shown.path is None and shown.problem and "outside the dataset folder" in shown.problem
    drawn = browse.render_tile(shown, [], (160, 120))
    assert drawn.jpeg is None and drawn.problem == shown.problem
    (ws.path / "train" / "scene_003.jpg").write_bytes(b"not a jpeg")
    broken = browse.picture(ws, ImageAnnotation(file_name="scene_003.jpg", split="train"))
    drawn = browse.render_preview(broken, [])
    assert drawn.jpeg is None and drawn.problem and str(ws.path) not in drawn.problem
    good = browse.picture(ws, ImageAnnotation(file_name="scene_001.jpg", split="train"))
    assert browse.render_tile(good, [], (160, 120)).jpeg
