"""Filters, pages, positions and neighbours; the kept totals; category statistics."""

from __future__ import annotations

import orjson
import pytest

from conftest import write_image
from opsml_image.annotation import Box
from opsml_image.dataset import ImageDataset
from opsml_image.store import Filter, WorkStore
from tests.store.conftest import save


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
    Filter(text="%"),  # LIKE wildcards are matched literally
    Filter(text="thing_1"),
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
        save(big, a)
    assert big.next_unlabeled(None) is None
    assert big.progress() == (80, 80)


def assert_totals_match_rows(store: WorkStore) -> None:
    """count() and progress() read the kept totals; keys() walks the rows themselves."""
    filters = [Filter(), Filter(split="nope"), Filter(annotated=True), Filter(annotated=False)]
    for split in store.dataset.splits:
        filters += [Filter(split=split, annotated=annotated) for annotated in (None, True, False)]
    for category in range(4):
        filters.append(Filter(category=category))
    for f in filters:
        assert store.count(f) == len(store.keys(f, 0, 10_000)), f
    assert store.progress() == (store.count(Filter(annotated=True)), store.count())


def test_counts_stay_exact_through_edits_uploads_and_reindex(store: WorkStore, dataset: ImageDataset) -> None:
    assert_totals_match_rows(store)
    d = store.get("train", "d.png")  # no record yet: gets one with a box
    d.boxes = [Box(1, 1, 2, 2, 0)]
    save(store, d)
    a = store.get("train", "a.png")  # loses its box
    a.boxes = []
    save(store, a)
    store.delete("train", "b.png", 1)  # on disk: stays as an image without a record
    assert_totals_match_rows(store)
    assert store.progress() == (2, 7)
    (dataset.image_dir / "train" / "c.png").unlink()
    store.sync(force=True)
    store.delete("train", "c.png", store.version("train", "c.png"))  # no file: the row goes (a tombstone)
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
    save(big, a)
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


def test_missing_and_empty_records(store: WorkStore, dataset: ImageDataset) -> None:
    assert store.missing_images() == [] and store.empty_records() == []
    store.save(dataset_annotation("g.png"), 0)  # a record without a file
    a = store.get("train", "a.png")
    a.caption, a.boxes = None, []
    save(store, a)
    assert store.missing_images() == [("train", "g.png")] and store.empty_records() == [("train", "a.png")]


def dataset_annotation(name: str):
    from opsml_image.annotation import ImageAnnotation

    return ImageAnnotation(file_name=name, split="train", caption="record only")
