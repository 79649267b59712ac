"""One-click fixes: preview (plan), apply through the store, undo; the fixed folder validates."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from conftest import write_image
from opsml_image import fixes
from opsml_image.annotation import Box
from opsml_image.dataset import ImageDataset
from opsml_image.store import StaleEdit, WorkStore

RECORDS = [
    # 64x48 image: one box sticking out right, one entirely outside, one inside touching the border
    {"file_name": "a.png", "caption": "a", "objects": {
        "bbox": [[50.5, 10, 20, 10], [70, 0, 5, 5], [0, 0, 64, 48]], "categories": [0, 1, 2]}},
    {"file_name": "b.png", "caption": "inside", "objects": {"bbox": [[1, 1, 10, 10]], "categories": [0]}},
    {"file_name": "gone.png", "caption": "its file is missing"},
    {"file_name": "e.png"},
    {"file_name": "f.png", "objects": {"bbox": [], "categories": []}, "source": "scraper"},
    {"file_name": "g.png", "caption": "negative corner", "objects": {"bbox": [[-3.333, -2, 10, 10]], "categories": [1]}},
]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> WorkStore:
    root = tmp_path / "data"
    for name in ("a", "b", "e", "f", "g"):
        write_image(root / f"{name}.png", size=(64, 48))
    (root / "metadata.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in RECORDS))
    store = WorkStore.open(ImageDataset(image_dir=root), tmp_path / "store.db")
    store.sync()
    yield store
    store.close()


def records(store: WorkStore) -> dict[str, dict]:
    path = store.dataset.split().metadata_path
    return {r["file_name"]: r for r in map(orjson.loads, path.read_bytes().splitlines())}


def test_box_outside_plan_previews_without_changing_anything(store: WorkStore) -> None:
    before_bytes = store.dataset.split().metadata_path.read_bytes()
    changes = fixes.plan(store, "box.outside")
    assert [c.key for c in changes] == [("train", "a.png"), ("train", "g.png")]
    a = changes[0]
    assert a.before.boxes == [Box(50.5, 10, 20, 10, 0), Box(70, 0, 5, 5, 1), Box(0, 0, 64, 48, 2)]
    assert a.after.boxes == [Box(50.5, 10, 13.5, 10, 0), Box(0, 0, 64, 48, 2)]
    assert a.summary == "clip 1 box to the 64x48 image; remove 1 box entirely outside the 64x48 image"
    assert changes[1].after.boxes == [Box(0, 0, 6.66, 8, 1)]  # 2 decimals, still inside once saved
    assert store.dataset.split().metadata_path.read_bytes() == before_bytes
    assert store.dirty_count() == 0


def test_box_outside_changes_only_the_boxes(store: WorkStore) -> None:
    """The planned state is the image's state with other boxes: caption, categories, lines, extra kept."""
    from dataclasses import replace

    for change in fixes.plan(store, "box.outside"):
        assert change.after == replace(change.before, boxes=change.after.boxes, dropped_boxes=0)
        assert change.after.caption == change.before.caption and change.after.lines == change.before.lines


def test_box_outside_apply_validate_undo(store: WorkStore) -> None:
    store.set_issues(store.dataset.validate())
    assert store.issue_counts()["box.outside"] == 3
    changes = fixes.plan(store, "box.outside")  # candidates come from the stored issues now
    ids = fixes.apply(store, changes)
    assert len(ids) == 2 and store.history(1)[0].action == "fix:box.outside"
    store.flush()
    report = ImageDataset(image_dir=store.dataset.image_dir).validate()
    assert "box.outside" not in report.counts, report.summary()
    assert records(store)["a.png"]["objects"]["bbox"] == [[50.5, 10.0, 13.5, 10.0], [0.0, 0.0, 64.0, 48.0]]
    assert fixes.plan(store, "box.outside") == []
    restored = fixes.undo(store, ids)
    assert {r.file_name for r in restored} == {"a.png", "g.png"}
    store.flush()
    assert records(store)["a.png"]["objects"]["bbox"] == [[50.5, 10.0, 20.0, 10.0], [70.0, 0.0, 5.0, 5.0],
                                                          [0.0, 0.0, 64.0, 48.0]]  # fmt: skip


def test_missing_image_records_are_dropped_and_restored(store: WorkStore) -> None:
    changes = fixes.plan(store, "image.missing")
    assert [(c.key, c.after) for c in changes] == [(("train", "gone.png"), None)]
    assert "gone.png" in changes[0].summary and "(lines 3)" in changes[0].summary
    ids = fixes.apply(store, changes)
    store.flush()
    assert "gone.png" not in records(store)
    assert "image.missing" not in ImageDataset(image_dir=store.dataset.image_dir).validate().counts
    fixes.undo(store, ids)
    store.flush()
    assert records(store)["gone.png"] == {"file_name": "gone.png", "caption": "its file is missing"}


def test_empty_records_are_removed_but_images_stay(store: WorkStore) -> None:
    changes = fixes.plan(store, "record.empty")
    assert [c.key[1] for c in changes] == ["e.png", "f.png"]
    assert "source" in changes[1].summary  # the preview says what else goes
    fixes.apply(store, changes)
    store.flush()
    assert set(records(store)) == {"a.png", "b.png", "gone.png", "g.png"}
    assert store.get("train", "e.png") is not None  # the image is still there, without a record
    assert (store.dataset.image_dir / "e.png").exists()


def test_apply_refuses_a_stale_plan_entirely(store: WorkStore) -> None:
    changes = fixes.plan(store, "box.outside")
    g = store.get("train", "g.png")
    g.caption = "edited after the preview"
    store.save(g, store.version("train", "g.png"))
    with pytest.raises(StaleEdit):
        fixes.apply(store, changes)
    assert store.get("train", "a.png").boxes == changes[0].before.boxes  # nothing applied
    assert store.get("train", "g.png").caption == "edited after the preview"


def test_unknown_code_and_limit(store: WorkStore) -> None:
    assert fixes.fixable("box.outside") and not fixes.fixable("line.json")
    with pytest.raises(ValueError, match="no automatic fix"):
        fixes.plan(store, "line.json")
    assert len(fixes.plan(store, "box.outside", limit=1)) == 1
    assert fixes.apply(store, []) == []


def test_fix_and_its_undo_record_the_user_and_undo_refuses_after_a_later_edit(store: WorkStore) -> None:
    changes = fixes.plan(store, "box.outside")
    ids = fixes.apply(store, changes, user="ana")
    assert {store.change(i).user for i in ids} == {"ana"}
    g = store.get("train", "g.png")
    g.caption = "ben edits after the fix"
    store.save(g, store.version("train", "g.png"), user="ben")
    with pytest.raises(StaleEdit):
        fixes.undo(store, ids, user="ana")  # would erase ben's edit: nothing is restored
    assert store.get("train", "g.png").caption == "ben edits after the fix"
    assert store.history(1)[0].user == "ben"


def test_clipping_keeps_a_boxs_other_values():
    from opsml_image.fixes import _fit

    box = Box(60, 40, 20, 20, 0, {"iscrowd": 1, "id": 7})
    fitted = _fit(box, 64, 48)
    assert fitted is not None and fitted.extra == {"iscrowd": 1, "id": 7}
    assert (fitted.x, fitted.y, fitted.w, fitted.h) == (60, 40, 4, 8)
