"""Use case: the first visit to a big folder opens at once while its first index runs in the background;
pages read the images indexed so far, saves wait for it, the validation starts after it, and an index
stopped by closing the workspace runs again on the next open."""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from opsml_image.demo import copy_demo
from opsml_image.store import Filter, StillIndexing, WorkStore, workstore
from opsml_image.usecases import checking
from opsml_image.usecases import workspace as workspace_uc
from opsml_image.usecases.workspace import (
    BackgroundJob,
    JobStopped,
    indexing_status,
    open_workspace,
    wait_first_rows,
)

#: The demo's 12 images, indexed 3 at a time.
CHUNK = 3


class Gate:
    """Holds the background index after its first chunk until :meth:`open` (or the job is stopped)."""

    def __init__(self, at: int = CHUNK) -> None:
        self.at = at
        self.reached, self.released = threading.Event(), threading.Event()

    def index(self, store: WorkStore, job: BackgroundJob) -> None:
        def progress(done: int, total: int) -> None:
            job.report(done, total)
            if done >= self.at:
                self.reached.set()
                while not self.released.wait(0.02):
                    if job.stopping:
                        raise JobStopped

        store.sync(progress=progress)

    def open(self) -> None:
        self.released.set()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(workstore, "INDEX_CHUNK", CHUNK)
    return copy_demo(tmp_path / "data")


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    held = Gate()
    monkeypatch.setattr(workspace_uc, "_index", held.index)
    yield held
    held.open()


def final_keys(data: Path, tmp_path: Path) -> list[tuple[str, str]]:
    """The keys of the folder fully indexed (in a store of its own, of a copy: a folder has one store)."""
    copy = tmp_path / f"reference-{uuid.uuid4().hex[:8]}"
    shutil.copytree(data, copy)
    with WorkStore.open(workspace_uc.ImageDataset(image_dir=copy), tmp_path / "reference.db") as reference:
        reference.sync()
        return reference.keys(Filter(), 0, 100)


def test_a_first_index_in_the_background_shows_its_first_page_then_everything(
    data: Path, tmp_path: Path, gate: Gate
) -> None:
    expected = final_keys(data, tmp_path)
    ws = open_workspace(data, flush_delay=0.05, background=True)
    try:
        assert ws.indexing is not None and gate.reached.wait(30)
        validation = checking.start_validation(ws, delay=0)
        assert ws.store.indexing() == (CHUNK, 12) and ws.store.count() == CHUNK
        assert ws.store.keys(Filter(), 0, 48) == expected[:CHUNK]  # the first page, partial but right
        assert indexing_status(ws) == ("Indexing the dataset: 3 of 12 images", 0.25)
        assert checking.validation_status(ws) == "Checking the dataset for errors: once it is indexed"
        first = ws.store.get(*expected[0])
        assert first is not None
        with pytest.raises(StillIndexing, match=r"still being indexed \(3 of 12 images so far\)"):
            ws.store.save(replace(first, caption="too early"), ws.store.version(*expected[0]))
        assert validation.running and not ws.store.validated()  # it waits for the index
        gate.open()
        assert ws.indexing.wait(30) and ws.indexing.error is None
        assert indexing_status(ws) is None and ws.store.indexing() is None
        assert ws.store.keys(Filter(), 0, 48) == expected and ws.store.progress()[1] == 12
        assert validation.wait(60) and validation.error is None and ws.store.validated()
        version = ws.store.version(*expected[0])
        assert ws.store.save(replace(first, caption="now"), version) == version + 1
    finally:
        ws.close()


def test_closing_stops_the_index_and_the_next_open_finishes_it(
    data: Path, tmp_path: Path, gate: Gate
) -> None:
    ws = open_workspace(data, flush_delay=0.05, background=True)
    assert gate.reached.wait(30)
    ws.close()  # stops the job at its next report
    assert ws.indexing is not None and not ws.indexing.running and ws.indexing.error is None
    with WorkStore.open(workspace_uc.ImageDataset(image_dir=data)) as interrupted:  # as it was left
        assert interrupted.indexing() == (CHUNK, 12) and interrupted.first_index_due()
    again = open_workspace(
        data, flush_delay=0.05, background=False
    )  # the next open (indexes before returning)
    try:
        assert again.indexing is None and again.store.indexing() is None
        assert again.store.keys(Filter(), 0, 48) == final_keys(data, tmp_path)
    finally:
        again.close()


def test_small_folders_and_re_indexes_are_indexed_before_opening_returns(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = open_workspace(data, flush_delay=0.05)  # the demo's metadata is far below BACKGROUND_INDEX_BYTES
    try:
        assert ws.indexing is None and ws.store.count() == 12 and indexing_status(ws) is None
    finally:
        ws.close()
    (data / "train" / "metadata.jsonl").write_bytes(b"")  # changed: a re-index
    monkeypatch.setattr(workspace_uc, "BACKGROUND_INDEX_BYTES", 0)
    again = open_workspace(data, flush_delay=0.05)
    try:
        assert again.indexing is None and again.store.indexing() is None
        assert again.store.count(Filter(split="validation")) == 3
    finally:
        again.close()


def test_big_folders_index_in_the_background_by_default(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workspace_uc, "BACKGROUND_INDEX_BYTES", 100)
    ws = open_workspace(data, flush_delay=0.05)
    try:
        assert ws.indexing is not None and ws.indexing.wait(30) and ws.indexing.error is None
        assert ws.store.count() == 12
    finally:
        ws.close()


def test_a_failed_index_is_readable_text(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(dataset: object, scope: object) -> list[object]:
        raise OSError("disk on fire")

    monkeypatch.setattr(workstore.index, "scan_keys", broken)
    ws = open_workspace(data, flush_delay=0.05, background=True)
    try:
        assert ws.indexing is not None and ws.indexing.wait(30)
        assert ws.indexing.error == "Indexing data failed: disk on fire"
        assert indexing_status(ws) == (
            "Indexing data failed: disk on fire.",
            1.0,
        )
        validation = checking.start_validation(ws, delay=0)
        assert (
            validation.wait(30)
            and validation.error == "Validating data failed: Indexing data failed: disk on fire"
        )
    finally:
        ws.close()


def test_a_page_waits_for_the_first_rows_at_most_its_timeout(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before_any = Gate(at=0)  # held while it reads the folder: no rows yet
    monkeypatch.setattr(workspace_uc, "_index", before_any.index)
    ws = open_workspace(data, flush_delay=0.05, background=True)
    try:
        assert before_any.reached.wait(30)
        started = time.monotonic()
        wait_first_rows(ws, 0.3)
        assert 0.3 <= time.monotonic() - started < 5 and ws.store.count() == 0
    finally:
        ws.close()  # stops the held index: the next open indexes again
    after_first = Gate()
    monkeypatch.setattr(workspace_uc, "_index", after_first.index)
    ws = open_workspace(data, flush_delay=0.05, background=True)
    try:
        wait_first_rows(ws, 30)  # returns once the first chunk is in (the index is held right after it)
        assert ws.store.count() == CHUNK and ws.indexing is not None and ws.indexing.running
    finally:
        after_first.open()
        ws.close()


def test_an_edit_made_during_the_first_index_waits_for_it_then_saves(
    data: Path, tmp_path: Path, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsml_image.usecases import annotate

    expected = final_keys(data, tmp_path)
    ws = open_workspace(data, flush_delay=0.05, background=True)
    try:
        assert gate.reached.wait(30)
        view = annotate.open_image(ws, expected[0])
        assert view is not None
        monkeypatch.setattr(annotate, "INDEX_WAIT", 0.2)
        refused = annotate.set_caption(ws, view, "too early, too long")  # the index does not end in time
        assert refused.status == "refused" and "still being indexed" in refused.message
        monkeypatch.setattr(annotate, "INDEX_WAIT", 30.0)
        threading.Timer(0.3, gate.open).start()
        started = time.monotonic()
        saved = annotate.set_caption(ws, view, "drawn while indexing")
        assert saved.status == "saved" and time.monotonic() - started >= 0.25
        assert ws.store.get(*expected[0]).caption == "drawn while indexing"  # type: ignore[union-attr]
    finally:
        gate.open()
        ws.close()
