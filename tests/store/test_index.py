"""Indexing a folder: records and image files as rows, merged records, re-index on outside changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from conftest import write_image
from opsml_image import config
from opsml_image.annotation import ImageAnnotation
from opsml_image.atomic import STORE_MARKER
from opsml_image.dataset import ImageDataset
from opsml_image.store import Filter, StillIndexing, WorkStore, index, store_path, workstore

MIXED_LINES = [
    b'{"file_name": "a.png", "caption": "", "categories": [2, 0], "objects": {"bbox": [[1, 2, 3, 4]], "categories": [1]}}\n',
    b'{"file_name": "b.png", "categories": [1, 1, -1, true], "objects": {"bbox": [[0, 0, 0, 5], [1, 1, 2, 2]], "categories": [0, 2]}}\n',
    b'{"file_name": "c.png", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0, 1], "note": 1}, "source": "web"}\n',
    b'{"file_name": "/abs/d.png", "caption": 7, "objects": {"bbox": [[1, 1, 2, 2]], "categories": [3]}}\n',
    b'{"file_name": "a.png", "caption": "second", "categories": [0, 1], "objects": {"bbox": [[5, 5, 1, 1]], "categories": [0]}}\n',
    b'{"file_name": ["e.png"]}\n',
    b"[1, 2]\n",
    b'{"file_name": "f.png", "caption": "clean first", "objects": {"bbox": [[1, 1, 2, 2]], "categories": [0], "iscrowd": [1]}}\n',
    b'{"file_name": "f.png", "extra_key": 1, "objects": {"bbox": [[2, 2, 2, 2]], "categories": [1], "iscrowd": [0]}}\n',
]


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


def test_index_matches_the_merged_records(tmp_path: Path, store_uri: str) -> None:
    """Clean records (fast path), malformed ones and repeated images index as ``dataset.annotations()``."""
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "metadata.jsonl").write_bytes(b"".join(MIXED_LINES))
    dataset = ImageDataset(image_dir=root)
    with WorkStore.open(dataset, store_uri) as store:
        store.sync()
        merged = dataset.annotations()
        assert store.keys(Filter(), 0, 100) == sorted(merged)
        for key, annotation in merged.items():
            assert store.get(*key) == annotation
            assert store.image_info(*key)["dropped"] == annotation.dropped_boxes
        f = store.get("train", "f.png")
        assert [b.extra for b in f.boxes] == [{"iscrowd": 1}, {"iscrowd": 0}] and f.lines == (8, 9)


def test_default_store_is_one_per_folder_under_the_user_data_dir(
    dataset: ImageDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSML_IMAGE_STORE_URI", raising=False)
    monkeypatch.delenv("OPSML_IMAGE_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert config.home() == (tmp_path / "xdg" / "opsml-image").resolve()
    monkeypatch.chdir(tmp_path)
    with WorkStore.open(dataset) as first:
        assert first.db_path == store_path(dataset.image_dir)
        assert first.db_path.parent == config.home() / "stores" and first.db_path.exists()
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)  # another working directory meets the same store
    with WorkStore.open(ImageDataset(image_dir=dataset.image_dir)) as second:
        assert second.db_path == first.db_path
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    assert store_path(dataset.image_dir).parent == tmp_path / "home" / "stores"


def test_store_uri_from_the_environment(
    dataset: ImageDataset, store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_IMAGE_STORE_URI", store_uri)
    with WorkStore.open(dataset) as store:
        assert store.url == store_uri
        store.sync()
        assert store.count() == 7


def test_folders_share_one_database_keyed_by_dataset(tmp_path: Path, store_uri: str) -> None:
    from tests.store.conftest import build

    one, two = build(tmp_path / "one"), build(tmp_path / "two")
    (two.image_dir / "train" / "e.png").unlink()
    with WorkStore.open(one, store_uri) as first, WorkStore.open(two, store_uri) as second:
        first.sync()
        second.sync()
        assert first.scope.dataset != second.scope.dataset
        assert first.count() == 7 and second.count() == 7  # e.png of two has a record, no file
        assert second.missing_images() == [("train", "e.png")] and first.missing_images() == []
        a = first.get("train", "a.png")
        a.caption = "only in one"
        first.save(a, 1)
        assert second.get("train", "a.png").caption == "A red Car"
        assert second.history() == [] and len(first.history()) == 1
        write_image(two.image_dir / "train" / "f.png")
        second.add_images("train", ["f.png"])  # the SQLite file holds two datasets: pages stay apart
        assert first.keys(Filter(), 0, 100) == [k for k in second.keys(Filter(), 0, 100) if k[1] != "f.png"]
        assert len(second.page(Filter(), 0, 100)) == 8 and len(first.page(Filter(), 0, 100)) == 7
        assert (
            first.position(("validation", "v1.png")) == 5 and second.position(("validation", "v1.png")) == 6
        )
        assert first.neighbor(("train", "e.png")) == ("validation", "v1.png")
        assert second.neighbor(("train", "e.png")) == ("train", "f.png")


def test_external_change_is_reindexed_and_bumps_only_changed_versions(
    store: WorkStore, dataset: ImageDataset
) -> None:
    assert store.version("train", "a.png") == 1 and store.version("train", "e.png") == 1
    path = dataset.split("train").metadata_path
    path.write_bytes(path.read_bytes().replace(b'"caption": "last"', b'"caption": "changed outside"'))
    assert store.sync() is True
    assert store.get("train", "e.png").caption == "changed outside"
    assert store.version("train", "e.png") == 2 and store.version("train", "a.png") == 1


def test_unflushed_edits_of_the_older_store_are_not_ignored(dataset: ImageDataset, tmp_path: Path) -> None:
    import sqlite3

    from opsml_image.store import StoreError

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:  # the tables of the stdlib-sqlite3 store, with one pending edit
        old.execute("CREATE TABLE image (id INTEGER PRIMARY KEY, dirty INTEGER)")
        old.execute("CREATE TABLE tombstone (file_name TEXT)")
        old.execute("INSERT INTO image (dirty) VALUES (1)")
    old.close()
    with pytest.raises(StoreError, match="1 edits saved by an older opsml-image"):
        WorkStore.open(dataset, db)
    with sqlite3.connect(db) as old:
        old.execute("UPDATE image SET dirty = 0")
    old.close()
    with WorkStore.open(dataset, db) as store:  # flushed: the new tables are made beside the old ones
        assert store.sync() is True and store.count() == 7


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mysql://u@localhost/db", "runs on SQLite or PostgreSQL"),
        ("not a url://", "invalid working store URI"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/none", "cannot reach the working store database"),
    ],
)
def test_a_store_that_cannot_be_opened_says_why(dataset: ImageDataset, uri: str, message: str) -> None:
    from opsml_image.store import StoreError

    with pytest.raises(StoreError, match=message):
        WorkStore.open(dataset, uri)


# ------------------------------------------------------------------------------------------ a first index in chunks

# Names whose order differs between code points and a linguistic collation ("B" < "a" in code points).
CHUNK_NAMES = ["B.png", "a.png", "a_b.png", "ab.png", "Z-1.png", "z.png", "é.png", "e.png", "10.png", "9.png"]


def chunked_folder(root: Path) -> ImageDataset:
    """train: the CHUNK_NAMES (every other one with a box, the last two without a record); test: two more."""
    lines = []
    for i, name in enumerate(CHUNK_NAMES):
        write_image(root / "train" / name, size=(8, 8))
        if i < len(CHUNK_NAMES) - 2:
            boxes = {"objects": {"bbox": [[0, 0, 2, 2]], "categories": [i % 3]}} if i % 2 else {}
            lines.append(orjson.dumps({"file_name": name, "caption": f"c{i}", **boxes}) + b"\n")
    (root / "train" / "metadata.jsonl").write_bytes(b"".join(lines))
    for name in ("t1.png", "t0.png"):
        write_image(root / "test" / name, size=(8, 8))
    (root / "test" / "metadata.jsonl").write_bytes(b'{"file_name": "t1.png"}\n')
    return ImageDataset(image_dir=root)


def test_a_first_index_commits_a_growing_prefix_in_key_order(
    tmp_path: Path, new_store_uri: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = chunked_folder(tmp_path / "chunks")
    with WorkStore.open(dataset, new_store_uri()) as reference:  # one chunk: the index as it ends up
        reference.sync()
        final_keys = reference.keys(Filter(), 0, 100)
        final_page = reference.page(Filter(), 0, 100)
        final_counts = (
            reference.progress(),
            reference.category_counts(),
            reference.count(Filter(split="test")),
        )
    (dataset.image_dir / STORE_MARKER).unlink()  # the reference store is done: another may take the folder
    monkeypatch.setattr(workstore, "INDEX_CHUNK", 3)
    seen: list[tuple[int, int]] = []
    with WorkStore.open(dataset, new_store_uri()) as store:

        def progress(done: int, total: int) -> None:
            seen.append((done, total))
            assert store.indexing() == (done, total)
            assert store.count() == done and store.progress()[1] == done
            assert store.keys(Filter(), 0, 100) == final_keys[:done]  # a prefix of the final order
            assert store.page(Filter(), 0, 2) == final_page[: min(done, 2)]
            with pytest.raises(StillIndexing, match="still being indexed"):
                store.save(ImageAnnotation(file_name="a.png", split="train", caption="x"), 1)

        assert store.sync(progress=progress) is True
        assert seen == [(0, 0), (0, 12), (3, 12), (6, 12), (9, 12), (12, 12)]
        assert store.indexing() is None
        assert store.keys(Filter(), 0, 100) == final_keys and store.page(Filter(), 0, 100) == final_page
        counts = (store.progress(), store.category_counts(), store.count(Filter(split="test")))
        assert counts == final_counts
        assert store.sync() is False  # the stamps were saved at the end
        annotation = store.get("train", "a.png")
        assert annotation is not None
        assert store.save(replace(annotation, caption="edited"), store.version("train", "a.png")) == 2


def test_an_interrupted_first_index_runs_again_on_the_next_sync(
    tmp_path: Path, store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = chunked_folder(tmp_path / "chunks")
    monkeypatch.setattr(workstore, "INDEX_CHUNK", 4)

    def stop_after_one_chunk(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with WorkStore.open(dataset, store_uri) as store:
        with pytest.raises(KeyboardInterrupt):
            store.sync(progress=stop_after_one_chunk)
        assert store.indexing() == (4, 12) and store.count() == 4
        with pytest.raises(StillIndexing, match=r"4 of 12 images"):
            store.delete("train", "B.png", 1)
    with WorkStore.open(dataset, store_uri) as again:  # the next open finds it unfinished
        assert again.indexing() == (4, 12)
        assert again.sync() is True and again.indexing() is None
        assert again.count() == 12 and again.progress() == (4, 12)
        assert {again.version(*key) for key in again.keys(Filter(), 0, 100)} == {1}
        assert again.sync() is False


def test_the_key_scan_and_a_partial_read_agree_with_the_full_read(tmp_path: Path, store_uri: str) -> None:
    """What a first index relies on: scan_keys finds the keys read_folder makes rows of, and read_folder of
    some keys makes exactly those rows (an image file named by an unwanted record is no extra row)."""
    root = tmp_path / "mixed"
    root.mkdir()
    (root / "metadata.jsonl").write_bytes(b"".join(MIXED_LINES) + b'{"file_name": "./g.png"}\n')
    for name in ("a.png", "g.png", "z.png"):
        write_image(root / name, size=(8, 8))
    dataset = ImageDataset(image_dir=root)
    with WorkStore.open(dataset, store_uri) as store:
        rows = index.read_folder(dataset, store.scope)
        keys = [index.row_key(r) for r in rows]
        assert sorted(index.scan_keys(dataset, store.scope)) == sorted(keys) and len(set(keys)) == len(keys)
        assert (0, "z.png") in keys and (0, "g.png") not in keys  # g.png is the file of ./g.png
        for some in ({k for k in keys if k[1] != "./g.png"}, set(keys[::2]), set(keys[1::2])):
            assert index.read_folder(dataset, store.scope, some.__contains__) == [
                r for r in rows if index.row_key(r) in some
            ]


def test_an_edit_saved_just_before_a_first_index_is_flushed_not_lost(
    dataset: ImageDataset, store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WorkStore.open(dataset, store_uri) as store:
        store.save(ImageAnnotation(file_name="new.png", split="train", caption="saved early"), 0)
        real = store._flush_locked
        calls: list[int] = []

        def late_flush() -> int:  # the first flush misses the edit (as if it was saved just after it)
            calls.append(1)
            return 0 if len(calls) == 1 else real()

        monkeypatch.setattr(store, "_flush_locked", late_flush)
        assert store.sync() is True and len(calls) == 2
        saved = store.get("train", "new.png")
        assert saved is not None and saved.caption == "saved early" and store.dirty_count() == 0
        assert b"saved early" in dataset.split("train").metadata_path.read_bytes()
