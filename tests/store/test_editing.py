"""Versioned edits, undo as an edit, deletions, and the history with who made each change."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import StaleEdit, WorkStore
from tests.store.conftest import TRAIN_LINES, lines, save


def test_stale_edit_is_refused(store: WorkStore) -> None:
    version = store.version("train", "c.png")
    mine, theirs = store.get("train", "c.png"), store.get("train", "c.png")
    theirs.caption = "theirs"
    store.save(theirs, expected_version=version)
    mine.caption = "mine"
    with pytest.raises(StaleEdit) as error:
        store.save(mine, expected_version=version)
    assert error.value.actual == version + 1
    assert store.get("train", "c.png").caption == "theirs"


def test_every_write_states_its_version(store: WorkStore) -> None:
    a = store.get("train", "a.png")
    with pytest.raises(TypeError):
        store.save(a)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        store.delete("train", "a.png")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="expected_version"):
        store.save(a, None)  # type: ignore[arg-type]
    new = ImageAnnotation(file_name="new.png", split="train", caption="x")
    with pytest.raises(StaleEdit):
        store.save(new, 1)  # the store has no such image: version 0
    assert store.save(new, 0) == 1
    with pytest.raises(StaleEdit):
        store.save(new, 0)  # someone created it first
    assert store.history(1)[0].key == ("train", "new.png")


def test_undo_restores_previous_state_as_new_version(store: WorkStore, dataset: ImageDataset) -> None:
    original = store.get("train", "a.png")
    edited = store.get("train", "a.png")
    edited.boxes = []
    save(store, edited, user="ana")
    change = store.history(1)[0]
    assert change.key == ("train", "a.png") and change.action == "save" and change.after.boxes == []
    assert change.user == "ana" and change.version == 2
    restored = store.undo(change.id, user="ben")
    assert restored.boxes == original.boxes and restored.caption == original.caption
    assert store.version("train", "a.png") == 3
    assert [(c.action, c.user) for c in store.history(10, key=("train", "a.png"))] == [
        ("undo", "ben"),
        ("save", "ana"),
    ]
    store.flush()
    assert orjson.loads(lines(dataset)[0]) == orjson.loads(TRAIN_LINES[0])


def test_undo_after_another_users_save_is_refused(store: WorkStore) -> None:
    a = store.get("train", "a.png")
    a.caption = "fixed by ana"
    save(store, a, user="ana")
    ana = store.history(1)[0]
    later = store.get("train", "a.png")
    later.caption = "ben's later edit"
    save(store, later, user="ben")
    with pytest.raises(StaleEdit) as error:
        store.undo(ana.id, user="ana")
    assert error.value.expected == ana.version and error.value.actual == ana.version + 1
    assert store.get("train", "a.png").caption == "ben's later edit"
    with pytest.raises(StaleEdit):  # several undos are all or none
        store.undo_many([ana.id, store.history(1)[0].id])
    assert store.get("train", "a.png").caption == "ben's later edit"


def test_history_filters_by_user_and_time(store: WorkStore) -> None:
    for user, name in (("ana", "a.png"), ("ben", "c.png"), ("ana", "e.png")):
        annotation = store.get("train", name)
        annotation.caption = f"by {user}"
        save(store, annotation, user=user)
    cut = time.time()
    time.sleep(0.01)
    store.delete("train", "b.png", store.version("train", "b.png"), user="ben")
    assert [c.key[1] for c in store.history(user="ana")] == ["e.png", "a.png"]
    assert [c.action for c in store.history(user="ben")] == ["delete", "save"]
    assert [c.key[1] for c in store.history(since=cut)] == ["b.png"]
    assert [c.key[1] for c in store.history(since=datetime.fromtimestamp(cut, UTC))] == ["b.png"]
    assert store.history(user="nobody") == [] and len(store.history(limit=2)) == 2
    assert store.change(store.history(1)[0].id).user == "ben"
    with pytest.raises(KeyError):
        store.change(10_000)


def test_edit_many_is_all_or_none(store: WorkStore) -> None:
    a, c = store.get("train", "a.png"), store.get("train", "c.png")
    a.caption, c.caption = "A", "C"
    with pytest.raises(StaleEdit):
        store.edit_many([(("train", "a.png"), a, 1), (("train", "c.png"), c, 7)], user="ana")
    assert store.get("train", "a.png").caption == "A red Car" and store.history() == []
    changes = store.edit_many(
        [(("train", "a.png"), a, 1), (("train", "c.png"), c, 1)], action="fix:x", user="ana"
    )
    assert [ch.version for ch in changes] == [2, 2] and {ch.user for ch in changes} == {"ana"}
    assert store.dirty_count() == 2


def test_delete_image_on_disk_keeps_the_file_and_row(store: WorkStore, dataset: ImageDataset) -> None:
    store.delete("train", "b.png", 1)
    b = store.get("train", "b.png")
    assert b is not None and not b.boxes and b.caption is None
    assert store.progress() == (2, 7)
    store.flush()
    assert b'"b.png"' not in dataset.split("train").metadata_path.read_bytes()
    assert (dataset.image_dir / "train" / "b.png").exists()
    assert store.get("train", "e.png").lines == (4,)
    restored = store.undo(store.history(1)[0].id)
    assert restored.caption == "first half" and len(restored.boxes) == 2
    store.flush()
    assert orjson.loads(lines(dataset)[-1])["file_name"] == "b.png"


def test_delete_record_of_missing_image(store: WorkStore, dataset: ImageDataset) -> None:
    (dataset.image_dir / "train" / "c.png").unlink()
    store.sync(force=True)
    assert store.image_info("train", "c.png")["on_disk"] is False
    store.delete("train", "c.png", store.version("train", "c.png"))
    assert store.get("train", "c.png") is None and store.count() == 6
    assert store.version("train", "c.png") == 2  # the tombstone's version
    store.undo(store.history(1)[0].id)  # undo before the flush
    assert store.get("train", "c.png").categories == [1]
    store.delete("train", "c.png", store.version("train", "c.png"))
    store.flush()
    assert b'"c.png"' not in dataset.split("train").metadata_path.read_bytes()
    assert store.get("train", "c.png") is None and store.dirty_count() == 0
    assert store.version("train", "c.png") == 4  # the flushed tombstone keeps the version ...
    assert store.sync() is False
    store.sync(force=True)
    assert store.version("train", "c.png") == 4  # ... through a re-index, so the deletion can be undone
    store.undo(store.history(1)[0].id)
    store.flush()
    assert store.get("train", "c.png").lines == (6,) and store.version("train", "c.png") == 5


def test_save_normalises_the_annotation(store: WorkStore) -> None:
    a = ImageAnnotation(
        file_name="d.png",
        split="train",
        caption="",
        categories=[2, 2, 0],
        boxes=[Box(1, 1, 0.004, 5, 0), Box(1.0049, 2, 3, 4, 1)],
    )
    save(store, a)
    saved = store.get("train", "d.png")
    assert saved.caption is None and saved.categories == [2, 0] and saved.boxes == [Box(1.0, 2, 3, 4, 1)]
    with pytest.raises(ValueError, match="integer id"):
        save(store, ImageAnnotation(file_name="d.png", split="train", boxes=[Box(1, 1, 2, 2, -1)]))
    with pytest.raises(ValueError, match="finite"):
        save(store, ImageAnnotation(file_name="d.png", split="train", boxes=[Box(float("nan"), 1, 2, 2, 0)]))
    with pytest.raises(KeyError, match="no split"):
        store.save(ImageAnnotation(file_name="d.png", split="test"), 0)
