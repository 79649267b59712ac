"""The working store: indexing, filters and paging, versioned saves, undo, flush back to metadata.jsonl."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import orjson
import pytest

from conftest import write_image
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import AutoFlusher, Filter, StaleEdit, WorkStore, store_path

# Hand-written lines (spaces, key order) that a rewrite must keep byte for byte.
TRAIN_LINES = [
    b'{"file_name": "a.png", "caption": "A red Car", "objects": {"bbox": [[1, 2, 10, 10]], "categories": [0]}}\n',
    b'{"file_name": "b.png",   "caption": "first half"}\n',
    b'{"caption": "c has tags", "file_name": "c.png", "categories": [1], "source": "web"}\n',
    b'{"file_name": "b.png", "objects": {"bbox": [[0, 0, 5, 5], [3, 3, 4, 4]], "categories": [1, 2]}}\n',
    b"\n",
    b'{"file_name": "e.png", "caption": "last"}\n',
]
VALIDATION_LINES = [
    b'{"file_name": "v1.png", "caption": "a tree", "objects": {"bbox": [[2, 2, 8, 8]], "categories": [2]}}\n',
]


def build(root: Path) -> ImageDataset:
    """train: a, b (two records), c, e + d.png without a record; validation: v1 + v2.png without a record."""
    for name in ("a", "b", "c", "d", "e"):
        write_image(root / "train" / f"{name}.png", size=(64, 48))
    for name in ("v1", "v2"):
        write_image(root / "validation" / f"{name}.png", size=(32, 32))
    (root / "train" / "metadata.jsonl").write_bytes(b"".join(TRAIN_LINES))
    (root / "validation" / "metadata.jsonl").write_bytes(b"".join(VALIDATION_LINES))
    (root / "categories.json").write_bytes(orjson.dumps(["car", "house", "tree"]))
    return ImageDataset(image_dir=root)


@pytest.fixture
def dataset(tmp_path: Path) -> ImageDataset:
    return build(tmp_path / "data")


@pytest.fixture
def store(dataset: ImageDataset, tmp_path: Path) -> WorkStore:
    store = WorkStore.open(dataset, tmp_path / "store.db")
    assert store.sync() is True
    yield store
    store.close()


def lines(dataset: ImageDataset, split: str = "train") -> list[bytes]:
    return dataset.split(split).metadata_path.read_bytes().splitlines(keepends=True)


def fresh_lines(dataset: ImageDataset, db: Path) -> dict[tuple[str, str], tuple[int, ...]]:
    """Line numbers as a brand-new store reads them from the files."""
    other = WorkStore.open(ImageDataset(image_dir=dataset.image_dir), db)
    other.sync()
    found = {(a.split, a.file_name): a.lines for a in other.page(Filter(), 0, 1000)}
    other.close()
    return found


# ------------------------------------------------------------------------------------------ indexing


def test_sync_indexes_records_and_image_files(store: WorkStore) -> None:
    assert store.count() == 7
    assert store.progress() == (3, 7)  # a, b, v1 have boxes
    b = store.get("train", "b.png")
    assert b is not None and b.caption == "first half" and b.lines == (2, 4) and len(b.boxes) == 2
    c = store.get("train", "c.png")
    assert c is not None and c.categories == [1] and c.extra == {"source": "web"}
    d = store.get("train", "d.png")
    assert d is not None and d.lines == () and d.caption is None and not d.boxes
    assert store.image_info("train", "d.png")["has_record"] is False
    assert store.get("train", "nope.png") is None and store.version("train", "nope.png") == 0
    assert store.sync() is False  # nothing changed
    assert store.sync(force=True) is True


MIXED_LINES = [
    b'{"file_name": "a.png", "caption": "", "categories": [2, 0], "objects": {"bbox": [[1, 2, 3, 4]], "categories": [1]}}\n',
    b'{"file_name": "b.png", "categories": [1, 1, -1, true], "objects": {"bbox": [[0, 0, 0, 5], [1, 1, 2, 2]], "categories": [0, 2]}}\n',
    b'{"file_name": "c.png", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0, 1], "note": 1}, "source": "web"}\n',
    b'{"file_name": "/abs/d.png", "caption": 7, "objects": {"bbox": [[1, 1, 2, 2]], "categories": [3]}}\n',
    b'{"file_name": "a.png", "caption": "second", "categories": [0, 1], "objects": {"bbox": [[5, 5, 1, 1]], "categories": [0]}}\n',
    b'{"file_name": ["e.png"]}\n',
    b"[1, 2]\n",
]


def test_index_matches_the_merged_records(tmp_path: Path) -> None:
    """Clean records (fast path), malformed ones and repeated images index as ``dataset.annotations()``."""
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "metadata.jsonl").write_bytes(b"".join(MIXED_LINES))
    dataset = ImageDataset(image_dir=root)
    with WorkStore.open(dataset, tmp_path / "mixed.db") as store:
        store.sync()
        merged = dataset.annotations()
        assert store.keys(Filter(), 0, 100) == sorted(merged)
        for key, annotation in merged.items():
            assert store.get(*key) == annotation
            assert store.image_info(*key)["dropped"] == annotation.dropped_boxes


def test_default_db_path_is_under_home(
    dataset: ImageDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    with WorkStore.open(dataset) as store:
        assert store.db_path == store_path(dataset.image_dir)
        assert store.db_path.parent == tmp_path / "home" / "stores"
        assert store.db_path.exists()


def test_external_change_is_reindexed_and_bumps_only_changed_versions(
    store: WorkStore, dataset: ImageDataset
) -> None:
    assert store.version("train", "a.png") == 1 and store.version("train", "e.png") == 1
    path = dataset.split("train").metadata_path
    path.write_bytes(path.read_bytes().replace(b'"caption": "last"', b'"caption": "changed outside"'))
    assert store.sync() is True
    assert store.get("train", "e.png").caption == "changed outside"
    assert store.version("train", "e.png") == 2 and store.version("train", "a.png") == 1


# ------------------------------------------------------------------------------------------ save and flush


def test_round_trip_keeps_untouched_lines_and_validates(store: WorkStore, dataset: ImageDataset) -> None:
    a = store.get("train", "a.png")
    a.caption = "A blue car"
    a.boxes.append(Box(20.123, 5.456, 10.0, 8.999, 0))
    assert store.save(a, expected_version=store.version("train", "a.png")) == 2
    assert store.get("train", "a.png").boxes[-1] == Box(20.12, 5.46, 10.0, 9.0, 0)  # rounded to 2 decimals
    assert store.dirty_count() == 1
    assert store.flush() == 1
    assert store.dirty_count() == 0
    after = lines(dataset)
    assert after[1:] == TRAIN_LINES[1:]  # untouched lines byte for byte
    assert orjson.loads(after[0]) == {
        "file_name": "a.png",
        "caption": "A blue car",
        "objects": {"bbox": [[1.0, 2.0, 10.0, 10.0], [20.12, 5.46, 10.0, 9.0]], "categories": [0, 0]},
    }
    assert lines(dataset, "validation") == VALIDATION_LINES
    report = ImageDataset(image_dir=dataset.image_dir).validate()
    assert report.ok, report.summary()
    assert store.sync() is False  # our own flush does not trigger a re-index
    assert store.flush() == 0


def test_several_records_of_one_image_become_one_line(
    store: WorkStore, dataset: ImageDataset, tmp_path: Path
) -> None:
    b = store.get("train", "b.png")
    b.boxes = b.boxes[:1]
    store.save(b)
    store.flush()
    after = lines(dataset)
    assert len(after) == len(TRAIN_LINES) - 1
    assert orjson.loads(after[1]) == {
        "file_name": "b.png",
        "caption": "first half",
        "objects": {"bbox": [[0.0, 0.0, 5.0, 5.0]], "categories": [1]},
    }
    assert after[0] == TRAIN_LINES[0] and after[2] == TRAIN_LINES[2] and after[3:] == TRAIN_LINES[4:]
    # the store knows the shifted line numbers without re-reading the file
    assert store.get("train", "b.png").lines == (2,)
    assert store.get("train", "e.png").lines == (5,)
    expected = fresh_lines(dataset, tmp_path / "other.db")
    assert {(a.split, a.file_name): a.lines for a in store.page(Filter(), 0, 100)} == expected


def test_image_without_record_is_appended(store: WorkStore, dataset: ImageDataset) -> None:
    store.save(ImageAnnotation(file_name="d.png", split="train", caption="new", boxes=[Box(1, 1, 3, 3, 2)]))
    write_image(dataset.image_dir / "train" / "f.png")
    assert store.add_images("train", ["f.png", "a.png"]) == 1
    store.save(ImageAnnotation(file_name="f.png", split="train", caption="uploaded"))
    assert store.flush() == 2
    after = lines(dataset)
    assert after[: len(TRAIN_LINES)] == TRAIN_LINES
    assert [orjson.loads(line)["file_name"] for line in after[len(TRAIN_LINES) :]] == ["d.png", "f.png"]
    assert store.get("train", "d.png").lines == (7,) and store.get("train", "f.png").lines == (8,)
    assert store.sync() is False
    assert ImageDataset(image_dir=dataset.image_dir).validate().ok


def test_file_without_trailing_newline(store: WorkStore, dataset: ImageDataset) -> None:
    path = dataset.split("validation").metadata_path
    path.write_bytes(VALIDATION_LINES[0].rstrip(b"\n"))
    store.sync()
    store.save(ImageAnnotation(file_name="v2.png", split="validation", caption="two"))
    store.flush()
    assert path.read_bytes().splitlines()[0] == VALIDATION_LINES[0].rstrip(b"\n")
    assert store.get("validation", "v2.png").lines == (2,)
    assert ImageDataset(image_dir=dataset.image_dir).validate().ok


def test_crash_before_flush_loses_nothing(dataset: ImageDataset, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    first = WorkStore.open(dataset, db)
    first.sync()
    e = first.get("train", "e.png")
    e.caption = "saved, never flushed"
    first.save(e)
    del first  # the process dies: no flush, no close
    second = WorkStore.open(ImageDataset(image_dir=dataset.image_dir), db)
    second.sync()
    assert orjson.loads(lines(dataset)[5])["caption"] == "saved, never flushed"
    assert second.get("train", "e.png").caption == "saved, never flushed"
    second.close()


def test_flush_after_outside_change_finds_lines_by_file_name(store: WorkStore, dataset: ImageDataset) -> None:
    e = store.get("train", "e.png")
    e.caption = "mine"
    store.save(e)
    path = dataset.split("train").metadata_path
    path.write_bytes(b'{"file_name": "z.png"}\n' + path.read_bytes())  # every line moves down by one
    store.flush()
    after = lines(dataset)
    assert orjson.loads(after[6]) == {"file_name": "e.png", "caption": "mine"}
    assert after[1:6] == TRAIN_LINES[:5]
    assert store.sync() is True  # the outside change is indexed
    assert store.get("train", "e.png").lines == (7,)


def test_flush_after_outside_change_skips_malformed_records(store: WorkStore, dataset: ImageDataset) -> None:
    e = store.get("train", "e.png")
    e.caption = "mine"
    store.save(e)
    path = dataset.split("train").metadata_path
    odd = b'{"file_name": ["e.png"]}\n'  # not a record the store can own: stays as written
    path.write_bytes(odd + path.read_bytes())
    store.flush()
    after = lines(dataset)
    assert after[0] == odd and after[1:6] == TRAIN_LINES[:5]
    assert orjson.loads(after[6]) == {"file_name": "e.png", "caption": "mine"}


# ------------------------------------------------------------------------------------------ versions and undo


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


def test_undo_restores_previous_state_as_new_version(store: WorkStore, dataset: ImageDataset) -> None:
    original = store.get("train", "a.png")
    edited = store.get("train", "a.png")
    edited.boxes = []
    store.save(edited)
    change = store.history(1)[0]
    assert change.key == ("train", "a.png") and change.action == "save" and change.after.boxes == []
    restored = store.undo(change.id)
    assert restored.boxes == original.boxes and restored.caption == original.caption
    assert store.version("train", "a.png") == 3
    assert [c.action for c in store.history(10, key=("train", "a.png"))] == ["undo", "save"]
    store.flush()
    assert orjson.loads(lines(dataset)[0]) == orjson.loads(TRAIN_LINES[0])


def test_delete_image_on_disk_keeps_the_file_and_row(store: WorkStore, dataset: ImageDataset) -> None:
    store.delete("train", "b.png")
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
    store.delete("train", "c.png")
    assert store.get("train", "c.png") is None and store.count() == 6
    store.undo(store.history(1)[0].id)  # undo before the flush
    assert store.get("train", "c.png").categories == [1]
    store.delete("train", "c.png")
    store.flush()
    assert b'"c.png"' not in dataset.split("train").metadata_path.read_bytes()
    assert store.get("train", "c.png") is None
    assert store.sync() is False


# ------------------------------------------------------------------------------------------ filters and paging


@pytest.fixture
def big(tmp_path: Path) -> WorkStore:
    """60 train + 20 test records over tiny images; every 3rd unlabeled, captions name colours."""
    root = tmp_path / "big"
    records: dict[str, list[bytes]] = {"train": [], "test": []}
    for i in range(80):
        split = "train" if i < 60 else "test"
        name = f"img{i:03d}.png"
        write_image(root / split / name, size=(16, 16))
        record: dict = {"file_name": name, "caption": ("Red" if i % 2 else "blue") + f" thing {i}"}
        if i % 3:
            record["objects"] = {"bbox": [[0, 0, 4, 4]] * (i % 4 + 1), "categories": [i % 5] * (i % 4 + 1)}
        records[split].append(orjson.dumps(record) + b"\n")
    for split, rows in records.items():
        (root / split / "metadata.jsonl").write_bytes(b"".join(rows))
    store = WorkStore.open(ImageDataset(image_dir=root), tmp_path / "big.db")
    store.sync()
    yield store
    store.close()


def expected_keys(f: Filter) -> list[tuple[str, str]]:
    out = []
    for split, order in (("train", range(60)), ("test", range(60, 80))):
        for i in order:
            boxes = i % 4 + 1 if i % 3 else 0
            caption = ("Red" if i % 2 else "blue") + f" thing {i}"
            if f.split not in (None, split) or (f.annotated is not None and f.annotated != bool(boxes)):
                continue
            if f.category is not None and not (boxes and i % 5 == f.category):
                continue
            if f.text and f.text.casefold() not in caption.casefold():
                continue
            out.append((split, f"img{i:03d}.png"))
    return out


FILTERS = [
    Filter(),
    Filter(split="test"),
    Filter(annotated=False),
    Filter(category=2),
    Filter(category=2, split="train"),
    Filter(category=3, annotated=True, split="test"),
    Filter(text="RED thing 1"),
    Filter(text="blue", annotated=True),
    Filter(category=1, text="red"),
]


@pytest.mark.parametrize("f", FILTERS, ids=str)
def test_filters_count_page_position_neighbor(big: WorkStore, f: Filter) -> None:
    want = expected_keys(f)
    assert big.count(f) == len(want)
    assert big.keys(f, 0, 1000) == want
    assert [(a.split, a.file_name) for a in big.page(f, 5, 7)] == want[5:12]
    assert big.keys(f, len(want), 10) == []
    for i, key in enumerate(want[:6]):
        assert big.position(key, f) == i
        assert big.neighbor(key, f, +1) == (want[i + 1] if i + 1 < len(want) else None)
        assert big.neighbor(key, f, -1) == (want[i - 1] if i else None)


def test_next_unlabeled_wraps_around(big: WorkStore) -> None:
    unlabeled = expected_keys(Filter(annotated=False))
    assert big.next_unlabeled(None) == unlabeled[0]
    assert big.next_unlabeled(unlabeled[0]) == unlabeled[1]
    assert big.next_unlabeled(("test", "img079.png")) == unlabeled[0]  # wraps
    for key in unlabeled:
        a = big.get(*key)
        a.boxes = [Box(0, 0, 2, 2, 0)]
        big.save(a)
    assert big.next_unlabeled(None) is None
    assert big.progress() == (80, 80)


def assert_totals_match_rows(store: WorkStore) -> None:
    """count() and progress() read the kept totals; keys() walks the rows themselves."""
    filters = [Filter(), Filter(split="nope"), Filter(annotated=True), Filter(annotated=False)]
    for split in store.dataset.splits:
        filters += [Filter(split=split, annotated=annotated) for annotated in (None, True, False)]
    for f in filters:
        assert store.count(f) == len(store.keys(f, 0, 10_000)), f
    assert store.progress() == (store.count(Filter(annotated=True)), store.count())


def test_counts_stay_exact_through_edits_uploads_and_reindex(store: WorkStore, dataset: ImageDataset) -> None:
    assert_totals_match_rows(store)
    d = store.get("train", "d.png")  # no record yet: gets one with a box
    d.boxes = [Box(1, 1, 2, 2, 0)]
    store.save(d)
    a = store.get("train", "a.png")  # loses its box
    a.boxes = []
    store.save(a)
    store.delete("train", "b.png")  # on disk: stays as an image without a record
    assert_totals_match_rows(store)
    assert store.progress() == (2, 7)
    (dataset.image_dir / "train" / "c.png").unlink()
    store.sync(force=True)
    store.delete("train", "c.png")  # no file: the row goes (a tombstone)
    assert_totals_match_rows(store)
    store.undo(store.history(1)[0].id)  # the row comes back
    write_image(dataset.image_dir / "train" / "f.png")
    store.add_images("train", ["f.png"])
    assert_totals_match_rows(store)
    assert store.progress() == (2, 8)
    store.flush()
    dataset.split("validation").metadata_path.write_bytes(b"")  # outside the store: v1 loses its box ...
    with dataset.split("train").metadata_path.open("ab") as out:  # ... and e.png gets one
        out.write(b'{"file_name": "e.png", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0]}}\n')
    assert store.sync() is True
    assert_totals_match_rows(store)
    assert store.progress() == (2, 8) and store.count(Filter(split="validation", annotated=True)) == 0


def test_store_from_before_the_kept_totals_is_counted_on_open(dataset: ImageDataset, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with WorkStore.open(dataset, db) as store:
        store.sync()
    with sqlite3.connect(db) as old:  # as schema 1 left it: no totals
        old.execute("DELETE FROM image_total")
        old.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    old.close()
    with WorkStore.open(ImageDataset(image_dir=dataset.image_dir), db) as store:
        assert store.progress() == (3, 7) and store.count(Filter(split="validation")) == 2
        assert_totals_match_rows(store)


def test_category_stats(big: WorkStore) -> None:
    boxes = {c: 0 for c in range(5)}
    hist: dict[int, int] = {}
    for i in range(80):
        n = i % 4 + 1 if i % 3 else 0
        hist[n] = hist.get(n, 0) + 1
        if n:
            boxes[i % 5] += n
    assert big.category_counts() == boxes
    assert big.boxes_per_image_hist() == hist
    sizes = big.box_sizes()
    assert len(sizes) == sum(boxes.values()) and set(sizes) == {(4.0, 4.0)}
    assert 0 < len(big.box_sizes(limit=10)) <= 10
    a = big.get("train", "img001.png")  # 2 boxes of category 1
    a.boxes = [Box(0, 0, 1, 1, 4)]
    big.save(a)
    assert big.category_counts()[1] == boxes[1] - 2 and big.category_counts()[4] == boxes[4] + 1
    assert len(big.box_sizes()) == sum(boxes.values()) - 1
    assert big.count(Filter(category=4)) == len(expected_keys(Filter(category=4))) + 1


def test_add_category(store: WorkStore, dataset: ImageDataset) -> None:
    assert store.add_category("person") == 3
    assert store.add_category(" person ") == 3
    assert store.category_names() == ["car", "house", "tree", "person"]
    assert orjson.loads((dataset.image_dir / "categories.json").read_bytes())[-1] == "person"
    with pytest.raises(ValueError):
        store.add_category("  ")


# ------------------------------------------------------------------------------------------ issues


def test_issues_feed_the_error_filter_and_update_on_save(store: WorkStore, dataset: ImageDataset) -> None:
    a = store.get("train", "a.png")
    a.boxes = [Box(60, 40, 20, 20, 0)]  # outside the 64x48 image
    store.save(a)
    store.flush()
    report = dataset.validate()
    store.set_issues(report)
    assert store.count(Filter(has_errors=True)) == 1
    assert store.keys(Filter(has_errors=True)) == [("train", "a.png")]
    assert [i.code for i in store.issues("box.outside")] == ["box.outside"]
    assert store.issue_keys("image.unlabeled") == [("train", "d.png"), ("validation", "v2.png")]
    assert store.issue_counts()["image.unlabeled"] == 2
    summary = store.validation_summary()
    assert summary is not None and summary["counts"] == dict(report.counts) and summary["truncated"] is False
    a.boxes = [Box(1, 1, 20, 20, 0)]
    store.save(a)  # the saved image is checked again
    assert store.count(Filter(has_errors=True)) == 0 and store.issues("box.outside") == []


# ------------------------------------------------------------------------------------------ threads


def test_autoflusher_flushes_after_delay_and_on_stop(store: WorkStore, dataset: ImageDataset) -> None:
    flusher = AutoFlusher(store, delay=0.2)
    e = store.get("train", "e.png")
    e.caption = "auto"
    store.save(e)
    flusher.notify()
    deadline = time.monotonic() + 5
    while store.dirty_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.dirty_count() == 0 and orjson.loads(lines(dataset)[5])["caption"] == "auto"
    e.caption = "on stop"
    store.save(e)
    flusher.notify()
    flusher.stop()
    assert not flusher.alive and flusher.last_error is None
    assert orjson.loads(lines(dataset)[5])["caption"] == "on stop"


def test_concurrent_saves_and_flushes(big: WorkStore) -> None:
    flusher = AutoFlusher(big, delay=0.01)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            for key in big.keys(Filter(), offset, 20):
                a = big.get(*key)
                a.caption = f"edited {key[1]}"
                big.save(a)
                flusher.notify()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i * 20,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flusher.stop()
    assert not errors and big.dirty_count() == 0
    assert big.sync() is False
    reread = ImageDataset(image_dir=big.dataset.image_dir).annotations()
    assert all(a.caption == f"edited {a.file_name}" for a in reread.values())
    assert all(len(a.lines) == 1 for a in reread.values())


def test_flat_layout_add_category_and_upload_do_not_reindex(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    write_image(root / "a.png")
    (root / "metadata.jsonl").write_bytes(b'{"file_name": "a.png", "caption": "x"}\n')
    store = WorkStore.open(ImageDataset(image_dir=root), tmp_path / "flat.db")
    assert store.sync() is True
    time.sleep(0.01)
    assert store.add_category("cat") == 0
    assert store.sync() is False
    write_image(root / "b.png")
    assert store.add_images("train", ["b.png"]) == 1
    assert store.sync() is False
    assert store.keys() == [("train", "a.png"), ("train", "b.png")]
    time.sleep(0.02)  # past the clock tick of the last stamp (coarse-grained file times on older kernels)
    write_image(root / "c.png")  # dropped in from outside: the folder stamp changed
    assert store.sync() is True and store.count() == 3
    store.close()


def test_save_normalises_the_annotation(store: WorkStore) -> None:
    a = ImageAnnotation(
        file_name="d.png",
        split="train",
        caption="",
        categories=[2, 2, 0],
        boxes=[Box(1, 1, 0.004, 5, 0), Box(1.0049, 2, 3, 4, 1)],
    )
    store.save(a)
    saved = store.get("train", "d.png")
    assert saved.caption is None and saved.categories == [2, 0] and saved.boxes == [Box(1.0, 2, 3, 4, 1)]
    assert store.count(Filter(category=2, split="train")) == 2  # b.png has a box of category 2
    assert store.count(Filter(category=2, split="validation")) == 1  # v1's box
    with pytest.raises(ValueError, match="integer id"):
        store.save(ImageAnnotation(file_name="d.png", split="train", boxes=[Box(1, 1, 2, 2, -1)]))
    with pytest.raises(ValueError, match="finite"):
        store.save(ImageAnnotation(file_name="d.png", split="train", boxes=[Box(float("nan"), 1, 2, 2, 0)]))
    with pytest.raises(KeyError, match="no split"):
        store.save(ImageAnnotation(file_name="d.png", split="test"))
