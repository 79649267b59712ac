"""Stored validation issues: the error filter, counts, and re-checking an edited image."""

from __future__ import annotations

from opsml_image.annotation import Box
from opsml_image.dataset import ImageDataset
from opsml_image.store import Filter, WorkStore
from tests.store.conftest import save


def test_issues_feed_the_error_filter_and_update_on_save(store: WorkStore, dataset: ImageDataset) -> None:
    assert store.validated() is False and store.validation_summary() is None
    a = store.get("train", "a.png")
    a.boxes = [Box(60, 40, 20, 20, 0)]  # outside the 64x48 image
    save(store, a)
    store.flush()
    report = dataset.validate()
    store.set_issues(report)
    assert store.validated() is True
    assert store.count(Filter(has_errors=True)) == 1
    assert store.keys(Filter(has_errors=True)) == [("train", "a.png")]
    assert [i.code for i in store.issues("box.outside")] == ["box.outside"]
    assert store.issue_keys("image.unlabeled") == [("train", "d.png"), ("validation", "v2.png")]
    assert store.issue_counts()["image.unlabeled"] == 2
    assert len(store.issues(limit=1)) == 1 and store.issues(offset=100) == []
    summary = store.validation_summary()
    assert summary is not None and summary["counts"] == dict(report.counts) and summary["truncated"] is False
    a.boxes = [Box(1, 1, 20, 20, 0)]
    save(store, a)  # the saved image is checked again
    assert store.count(Filter(has_errors=True)) == 0 and store.issues("box.outside") == []
    a.boxes = [Box(1, 1, 20, 20, 7)]  # an unknown category
    save(store, a)
    info = store.image_info("train", "a.png")
    assert info["errors"] + info["warnings"] == 1 and store.issue_keys("category.unknown") == [
        ("train", "a.png")
    ]
    a.boxes = [Box(1, 1, 20, 20, 0)]
    save(store, a)
    store.flush()
    store.set_issues(dataset.validate())  # a new report replaces the old rows and counts
    assert store.issue_keys("category.unknown") == [] and store.image_info("train", "a.png")["warnings"] == 0
