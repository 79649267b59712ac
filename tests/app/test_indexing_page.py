"""AppTest: the first visit to a big folder draws Browse while the index runs: "Indexing the dataset: n of N
images" above the page, the first page of images already indexed, partial counts; then everything."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from conftest import open_app, sidebar_counts
from opsml_image.store import WorkStore, workstore
from opsml_image.usecases import workspace as workspace_uc
from opsml_image.usecases.workspace import BackgroundJob, JobStopped


def tiles(at) -> list[str]:  # noqa: ANN001 - an AppTest
    import json

    found = at.get("bidi_component")
    return [t["name"] for t in json.loads(found[0].proto.json)["tiles"]] if found else []


def progress_texts(at) -> list[str]:  # noqa: ANN001 - an AppTest
    return [p.proto.text.replace("\\", "") for p in at.get("progress")]


def test_browse_shows_the_first_page_while_the_folder_is_indexed(
    app_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pages import _session as session

    reached, released = threading.Event(), threading.Event()

    def held_index(
        store: WorkStore, job: BackgroundJob
    ) -> None:  # stops after the first chunk until released
        def progress(done: int, total: int) -> None:
            job.report(done, total)
            if done >= 4:
                reached.set()
                while not released.wait(0.02):
                    if job.stopping:
                        raise JobStopped

        store.sync(progress=progress)

    monkeypatch.setattr(workstore, "INDEX_CHUNK", 4)
    monkeypatch.setattr(workspace_uc, "BACKGROUND_INDEX_BYTES", 0)  # the demo counts as a big folder
    monkeypatch.setattr(workspace_uc, "_index", held_index)
    try:
        at = open_app()
        assert reached.wait(30)
        at.run()
        assert not at.exception
        assert "Indexing the dataset: 4 of 12 images" in progress_texts(at)
        assert tiles(at) == ["train/scene_001.jpg", "train/scene_002.jpg", "train/scene_003.jpg",
                             "train/scene_004.png"]  # fmt: skip
        assert any(m.value.startswith("**4** images so far") for m in at.sidebar.markdown)
    finally:
        released.set()
    job = session.workspace().indexing
    assert job is not None and job.wait(30) and job.error is None
    at.run()
    assert not at.exception
    assert not any(t.startswith("Indexing") for t in progress_texts(at))
    assert len(tiles(at)) == 12
    assert sidebar_counts(at) == (12, 3)


def test_a_failed_index_says_why_and_indexes_again_on_request(
    app_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pages import _session as session

    real = workstore.index.scan_keys
    calls: list[int] = []

    def fails_once(dataset, scope):  # noqa: ANN001, ANN202
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk on fire")
        return real(dataset, scope)

    monkeypatch.setattr(workspace_uc, "BACKGROUND_INDEX_BYTES", 0)
    monkeypatch.setattr(workstore.index, "scan_keys", fails_once)
    at = open_app()
    ws = session.workspace()
    assert ws.indexing is not None and ws.indexing.wait(30)
    assert ws.validation is not None and ws.validation.wait(30)  # it fails too: no index to validate
    at.run()
    assert "Indexing data failed: disk on fire." in [e.value.replace("\\", "") for e in at.error]
    at.button(key="index_again").click().run()
    assert not at.exception
    job = session.workspace().indexing
    assert job is not None and job.wait(30) and job.error is None
    at.run()
    assert not at.error and len(tiles(at)) == 12
