"""One edit, one transaction: a save through Annotate writes the image row, its history, its issues and its
review status (the edit rule checked in the same transaction) or none of them, in few statements, on SQLite
and PostgreSQL.

Before the unit of work a steady save (an annotator's second edit of their leased image, after a validation)
was 13 statements in 3 transactions on SQLite (a read for the rule, the store's ``BEGIN IMMEDIATE`` with 8,
the status's with 3) and 14 in 3 on PostgreSQL (BEGINs counted); the tests below hold it to 1 transaction of
at most 5 (SQLite) and 6 (PostgreSQL: the dataset's row is share-locked too).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from opsml_image.annotation import Box
from opsml_image.auth import Role, User
from opsml_image.dataset import ImageDataset
from opsml_image.review import ReviewItem, Status, decisions
from opsml_image.review.editing import StatusWriter
from opsml_image.store import Key, WorkStore
from opsml_image.store import editing as store_editing
from opsml_image.usecases import annotate
from opsml_image.usecases import review as uc
from opsml_image.usecases.workspace import Workspace, open_workspace
from opsml_image.validation import validate_dataset
from tests.review.conftest import build

ANA = User("ana", Role.ANNOTATOR)
BOB = User("bob", Role.ANNOTATOR)
#: Statements (BEGIN counted) and transactions of one steady save, at most.
LIMITS = {"sqlite": (5, 1), "postgres": (6, 1)}
#: The same on the code before the unit of work (measured with :class:`Statements` on that code).
BEFORE = {"sqlite": (13, 3), "postgres": (14, 3)}


class Statements:
    """Counts what an engine sends: statements (a BEGIN counted once, whether the driver or SQLAlchemy's
    ``begin`` event sends it) and transactions."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.sent: list[str] = []
        self.transactions = 0

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE: counted by _begin
            self.sent.append(" ".join(statement.split())[:120])

    def _begin(self, conn: Any) -> None:
        self.transactions += 1
        self.sent.append("BEGIN")

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)

    @property
    def count(self) -> int:
        return len(self.sent)


@pytest.fixture
def ws(
    backend: str, new_store_uri: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    """A team workspace on the test's backend, validated (so saves re-check their image)."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    for name in ("OPSML_TRACKING_URI", "OPSML_STORAGE_URI", "OPSML_IMAGE_STORE_URI"):
        monkeypatch.delenv(name, raising=False)
    if backend == "postgres":
        monkeypatch.setenv("OPSML_IMAGE_STORE_URI", new_store_uri())
    build(tmp_path / "data")
    workspace = open_workspace(tmp_path / "data", flush_delay=60)
    workspace.store.set_issues(validate_dataset(workspace.dataset))
    yield workspace
    workspace.close()


def edit(
    ws: Workspace, key: Key, user: User, sent: Callable[[], Statements] | None = None, **changes: Any
) -> annotate.Outcome:
    """Save ``changes`` to the image's annotation through the use case, as the Annotate page does (what the
    save sends counted by ``sent()`` if given; the page's read of the image before it is not)."""
    view = annotate.open_image(ws, key)
    assert view is not None
    edited = dataclasses.replace(view.annotation, **changes)
    if sent is None:
        return annotate._save(ws, view, edited, "edit", user=user)
    with sent():
        return annotate._save(ws, view, edited, "edit", user=user)


def state(ws: Workspace, key: Key) -> tuple[Any, ...]:
    """Everything a save may change: the row (annotation, version, facts), history, issues, review item."""
    issues = [(i.code, i.message) for i in ws.store.issues(limit=1000) if (i.split, i.file_name) == key]
    return (
        ws.store.get(*key),
        ws.store.image_info(*key),
        [c.id for c in ws.store.history(1000, key=key)],
        issues,
        ws.store.dirty_count(),
        uc.item(ws, key),
    )


def leased(ws: Workspace, user: User = ANA) -> Key:
    """An image leased to ``user`` and saved once (in progress): where their steady saves happen."""
    key = uc.next_image(ws, user)
    assert key is not None
    assert edit(ws, key, user, boxes=[Box(1, 1, 5, 5, 0)]).saved
    assert uc.item(ws, key).status == Status.IN_PROGRESS
    return key


def test_a_steady_save_is_one_transaction_of_few_statements(ws: Workspace, backend: str) -> None:
    key = leased(ws)
    most, transactions = LIMITS[backend]
    for n, changes in enumerate(({"caption": "a car"}, {"boxes": [Box(2, 2, 6, 6, 0)]}, {"caption": "two"})):
        sent = Statements(ws.store.engine)
        outcome = edit(ws, key, ANA, lambda: sent, **changes)  # noqa: B023
        assert outcome.saved and outcome.version == 3 + n
        assert sent.transactions == transactions and sent.count <= most, sent.sent
        assert not any(s.startswith(("CREATE", "PRAGMA")) for s in sent.sent)
    assert most * 2 <= BEFORE[backend][0]  # at most half the statements, one transaction instead of three
    item = uc.item(ws, key)
    assert (item.status, item.annotator, item.lease_user, item.n_boxes) == (Status.IN_PROGRESS, "ana", "ana", 1)
    assert [c.user for c in ws.store.history(3, key=key)] == ["ana"] * 3


def test_every_table_is_made_when_the_store_opens(dataset: ImageDataset, store_uri: str) -> None:
    """The review tables too: no table is created by a first save."""
    with WorkStore.open(dataset, store_uri) as store:
        tables = set(sa.inspect(store.engine).get_table_names())
    assert {"review_item", "review_event", "review_frontier", "store_image", "store_change"} <= tables


def test_a_first_save_creates_no_table(ws: Workspace) -> None:
    key = uc.next_image(ws, ANA)
    assert key is not None
    sent = Statements(ws.store.engine)
    assert edit(ws, key, ANA, lambda: sent, caption="first").saved
    assert sent.transactions == 1 and not any(s.startswith("CREATE") for s in sent.sent), sent.sent
    assert uc.item(ws, key).status == Status.IN_PROGRESS


class Crash(Exception):
    """A failure injected into a save."""


def test_a_failure_after_the_row_write_leaves_row_and_status_as_they_were(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the row write and the status write: neither is stored (one transaction)."""
    key = leased(ws)
    before = state(ws, key)
    written: list[int] = []

    def crash(self: StatusWriter, conn: sa.Connection, change: store_editing.Change) -> None:
        written.append(change.version)  # the row and its history are written, in this transaction
        raise Crash

    monkeypatch.setattr(StatusWriter, "write", crash)
    with pytest.raises(Crash):
        edit(ws, key, ANA, boxes=[Box(3, 3, 9, 9, 1)], caption="lost")  # an issue-free edit, new class
    assert written == [before[1]["version"] + 1]
    assert state(ws, key) == before  # the lease renewal made by the rule's check is rolled back too


def test_a_failure_after_the_status_write_leaves_nothing_either(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A never-touched image: the status row is inserted (and its event) after the row; a failure then
    (before the commit) stores none of it."""
    key = ("validation", "v01.png")
    before = state(ws, key)
    assert before[-1] == ReviewItem(key, Status.UNLABELED)
    record = decisions.record_save

    def written_then_crash(*args: Any, **kwargs: Any) -> Any:
        assert record(*args, **kwargs).status == Status.IN_PROGRESS
        raise Crash

    monkeypatch.setattr(decisions, "record_save", written_then_crash)
    with pytest.raises(Crash):
        edit(ws, key, ANA, boxes=[Box(40, 1, 5, 5, 0)])  # outside the 32 x 24 image: an issue row too
    assert state(ws, key) == before
    monkeypatch.undo()
    assert edit(ws, key, ANA, boxes=[Box(40, 1, 5, 5, 0)]).saved  # the same edit, not failing: all stored
    assert uc.item(ws, key).status == Status.IN_PROGRESS and ws.store.image_info(*key)["errors"] == 1


def test_a_refused_edit_writes_nothing(ws: Workspace) -> None:
    key = leased(ws)
    before = state(ws, key)
    sent = Statements(ws.store.engine)
    outcome = edit(ws, key, BOB, lambda: sent, caption="bob's")
    assert outcome.status == "refused" and "is leased to ana" in outcome.message
    assert sent.transactions == 1 and state(ws, key) == before


def test_no_lease_is_taken_between_the_rule_and_the_save(
    ws: Workspace, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob asks for an image while ana's save of an untouched one is between the rule's check and the row
    write: he waits (SQLite) or passes the locked image by (PostgreSQL), and is never handed it."""
    key = ("train", "t03.png")
    inside, release = threading.Event(), threading.Event()
    edit_row = store_editing.write

    def paused(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(30)
        return edit_row(*args, **kwargs)

    other = open_workspace(ws.path, flush_delay=60)  # another server
    monkeypatch.setattr(store_editing, "write", paused)
    saved: list[annotate.Outcome] = []
    saver = threading.Thread(target=lambda: saved.append(edit(ws, key, ANA, caption="ana's")))
    saver.start()
    assert inside.wait(30)
    handed: list[Key | None] = []
    try:
        taker = threading.Thread(target=lambda: handed.extend(uc.next_image(other, BOB) for _ in range(2)))
        taker.start()
        taker.join(0.5 if backend == "sqlite" else 10)
        assert taker.is_alive() == (backend == "sqlite")  # SQLite: the write lock is held by ana's save
        release.set()
        saver.join(30)
        taker.join(30)
    finally:
        release.set()
        other.close()
    assert saved and saved[0].saved
    assert handed and key not in handed
    item = uc.item(ws, key)
    assert (item.status, item.lease_user) == (Status.IN_PROGRESS, "ana")
