"""Flushing edits back into metadata.jsonl: untouched lines kept, line numbers followed, one flusher."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import orjson

from conftest import write_image
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.dataset import ImageDataset
from opsml_image.store import Filter, WorkStore
from opsml_image.store import flush as flush_module
from tests.store.conftest import TRAIN_LINES, VALIDATION_LINES, lines, save


def fresh_lines(dataset: ImageDataset, uri: str) -> dict[tuple[str, str], tuple[int, ...]]:
    """Line numbers as a brand-new store reads them from the files (of a copy: the folder has one store)."""
    copy = dataset.image_dir.with_name(f"copy-{uuid.uuid4().hex[:8]}")
    shutil.copytree(dataset.image_dir, copy)
    with WorkStore.open(ImageDataset(image_dir=copy), uri) as other:
        other.sync()
        return {(a.split, a.file_name): a.lines for a in other.page(Filter(), 0, 1000)}


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


def test_box_extra_survives_save_and_flush(store: WorkStore, dataset: ImageDataset) -> None:
    a = store.get("train", "a.png")
    a.boxes = [Box(1, 2, 10, 10, 0, extra={"iscrowd": 1}), Box(3, 3, 4, 4, 1)]
    save(store, a)
    assert store.get("train", "a.png").boxes[0].extra == {"iscrowd": 1}
    store.flush()
    assert orjson.loads(lines(dataset)[0])["objects"]["iscrowd"] == [1, 0]  # implied for the other box


def test_several_records_of_one_image_become_one_line(
    store: WorkStore, dataset: ImageDataset, new_store_uri
) -> None:
    b = store.get("train", "b.png")
    b.boxes = b.boxes[:1]
    save(store, b)
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
    expected = fresh_lines(dataset, new_store_uri())
    assert {(a.split, a.file_name): a.lines for a in store.page(Filter(), 0, 100)} == expected


def test_image_without_record_is_appended(store: WorkStore, dataset: ImageDataset) -> None:
    store.save(
        ImageAnnotation(file_name="d.png", split="train", caption="new", boxes=[Box(1, 1, 3, 3, 2)]), 1
    )
    write_image(dataset.image_dir / "train" / "f.png")
    assert store.add_images("train", ["f.png", "a.png"]) == 1
    store.save(ImageAnnotation(file_name="f.png", split="train", caption="uploaded"), 1)
    store.save(ImageAnnotation(file_name="g.png", split="train", caption="no file yet"), 0)
    assert store.flush() == 3
    after = lines(dataset)
    assert after[: len(TRAIN_LINES)] == TRAIN_LINES
    names = [orjson.loads(line)["file_name"] for line in after[len(TRAIN_LINES) :]]
    assert names == ["d.png", "f.png", "g.png"]
    assert store.get("train", "d.png").lines == (7,) and store.get("train", "f.png").lines == (8,)
    assert store.sync() is False
    assert ImageDataset(image_dir=dataset.image_dir).validate().counts.get("image.missing") == 1


def test_file_without_trailing_newline(store: WorkStore, dataset: ImageDataset) -> None:
    path = dataset.split("validation").metadata_path
    path.write_bytes(VALIDATION_LINES[0].rstrip(b"\n"))
    store.sync()
    store.save(ImageAnnotation(file_name="v2.png", split="validation", caption="two"), 1)
    store.flush()
    assert path.read_bytes().splitlines()[0] == VALIDATION_LINES[0].rstrip(b"\n")
    assert store.get("validation", "v2.png").lines == (2,)
    assert ImageDataset(image_dir=dataset.image_dir).validate().ok


def test_crash_before_flush_loses_nothing(dataset: ImageDataset, store_uri: str) -> None:
    first = WorkStore.open(dataset, store_uri)
    first.sync()
    e = first.get("train", "e.png")
    e.caption = "saved, never flushed"
    save(first, e)
    first._conn.invalidate()  # the process dies: no flush, no close
    second = WorkStore.open(ImageDataset(image_dir=dataset.image_dir), store_uri)
    second.sync()
    assert orjson.loads(lines(dataset)[5])["caption"] == "saved, never flushed"
    assert second.get("train", "e.png").caption == "saved, never flushed"
    second.close()


def test_flush_after_outside_change_finds_lines_by_file_name(store: WorkStore, dataset: ImageDataset) -> None:
    e = store.get("train", "e.png")
    e.caption = "mine"
    save(store, e)
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
    save(store, e)
    path = dataset.split("train").metadata_path
    odd = b'{"file_name": ["e.png"]}\n'  # not a record the store can own: stays as written
    path.write_bytes(odd + path.read_bytes())
    store.flush()
    after = lines(dataset)
    assert after[0] == odd and after[1:6] == TRAIN_LINES[:5]
    assert orjson.loads(after[6]) == {"file_name": "e.png", "caption": "mine"}


def test_a_save_during_the_file_rewrite_stays_dirty(
    store: WorkStore, dataset: ImageDataset, monkeypatch, new_store_uri
) -> None:
    """Saves commit while a flush writes the file; the flush keeps them pending (versions compared)."""
    b = store.get("train", "b.png")
    b.caption = "flushed"
    save(store, b)
    store.save(ImageAnnotation(file_name="d.png", split="train", caption="appended"), 1)
    rewrite = flush_module.rewrite_lines

    def rewrite_while_others_save(*args, **kwargs):
        rewrite(*args, **kwargs)
        late = store.get("train", "b.png")
        late.caption = "saved during the flush"
        save(store, late)
        e = store.get("train", "e.png")  # an untouched image whose line moves
        e.caption = "also during"
        save(store, e)
        store.delete("train", "d.png", store.version("train", "d.png"))

    monkeypatch.setattr(flush_module, "rewrite_lines", rewrite_while_others_save)
    assert store.flush() == 2
    monkeypatch.setattr(flush_module, "rewrite_lines", rewrite)
    assert store.dirty_count() == 3
    assert store.image_info("train", "b.png")["dirty"] and store.get("train", "b.png").lines == (2,)
    assert store.get("train", "e.png").lines == (5,) and store.get("train", "d.png").lines == (6,)
    assert store.flush() == 3 and store.dirty_count() == 0
    records = {orjson.loads(line)["file_name"]: orjson.loads(line) for line in lines(dataset) if line.strip()}
    assert records["b.png"]["caption"] == "saved during the flush" and "d.png" not in records
    assert records["e.png"]["caption"] == "also during"
    assert fresh_lines(dataset, new_store_uri()) == {
        (a.split, a.file_name): a.lines for a in store.page(Filter(), 0, 100)
    }
    assert store.sync() is False


def test_only_one_flusher_at_a_time(store: WorkStore, dataset: ImageDataset, monkeypatch) -> None:
    """While one store flushes, a second store of the same folder waits for it (it does not write too)."""
    import threading

    other = WorkStore.open(ImageDataset(image_dir=dataset.image_dir), store.url)
    e = store.get("train", "e.png")
    e.caption = "first"
    save(store, e)
    rewrite = flush_module.rewrite_lines
    inside, release, order = threading.Event(), threading.Event(), []

    def slow_rewrite(*args, **kwargs):
        order.append("start")
        inside.set()
        release.wait(10)
        rewrite(*args, **kwargs)
        order.append("end")

    monkeypatch.setattr(flush_module, "rewrite_lines", slow_rewrite)
    worker = threading.Thread(target=store.flush)
    worker.start()
    assert inside.wait(10)
    second = threading.Thread(target=other.flush)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the lock, not writing
    release.set()
    worker.join(10)
    second.join(10)
    assert order == ["start", "end"] and not second.is_alive()
    assert orjson.loads(lines(dataset)[5])["caption"] == "first"
    other.close()


def test_path_for_sqlite_location_is_a_file(dataset: ImageDataset, tmp_path: Path) -> None:
    with WorkStore.open(dataset, tmp_path / "sub" / "store.db") as store:
        assert store.db_path == tmp_path / "sub" / "store.db" and store.db_path.exists()
