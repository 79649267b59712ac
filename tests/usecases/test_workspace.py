"""Use case: a workspace validates itself in the background when it opens, so "With errors" is current
without visiting Validate; saves after it are re-checked by the store; the job stops with its workspace."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from opsml_image.annotation import Box
from opsml_image.demo import copy_demo
from opsml_image.store import Filter
from opsml_image.usecases import checking
from opsml_image.usecases import validate as validate_uc
from opsml_image.usecases.workspace import BackgroundJob, JobStopped, Workspace, open_workspace

WITH_ERRORS = Filter(has_errors=True)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo with one box sticking out of scene_001 (640 px wide): one image with an error."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    root = copy_demo(tmp_path / "data")
    path = root / "train" / "metadata.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["objects"]["bbox"][0] = [600.0, 10.0, 100.0, 50.0]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


@pytest.fixture
def ws(data: Path) -> Iterator[Workspace]:
    workspace = open_workspace(data, flush_delay=0.05)
    yield workspace
    workspace.close()


def test_with_errors_is_known_after_opening_without_visiting_validate(ws: Workspace):
    assert ws.store.count(WITH_ERRORS) == 0  # nothing validated yet
    job = checking.start_validation(ws, delay=0)
    assert checking.start_validation(ws, delay=0) is job  # once per workspace
    assert job.wait(60) and job.error is None
    assert ws.store.count(WITH_ERRORS) == 1
    assert [a.file_name for a in ws.store.page(WITH_ERRORS)] == ["scene_001.jpg"]
    assert job.fraction() == 1.0 and checking.validation_status(ws) is None


def test_a_save_after_the_validation_is_rechecked_by_the_store(ws: Workspace):
    assert checking.start_validation(ws, delay=0).wait(60)
    fixed = ws.store.get("train", "scene_001.jpg")
    assert fixed is not None
    boxes = [Box(10, 10, 50, 50, b.category) for b in fixed.boxes]
    ws.store.save(replace(fixed, boxes=boxes), ws.store.version("train", "scene_001.jpg"))
    assert ws.store.count(WITH_ERRORS) == 0
    other = ws.store.get("train", "scene_002.jpg")
    assert other is not None
    outside = [*other.boxes, Box(5000, 5000, 10, 10, 0)]
    ws.store.save(replace(other, boxes=outside), ws.store.version("train", "scene_002.jpg"))
    assert [a.file_name for a in ws.store.page(WITH_ERRORS)] == ["scene_002.jpg"]


def test_a_current_stored_verdict_is_not_validated_again(data: Path, monkeypatch: pytest.MonkeyPatch):
    first = open_workspace(data, flush_delay=0.05)
    try:
        assert checking.start_validation(first, delay=0).wait(60)
        at = first.store.validation_summary()["at"]
    finally:
        first.close()
    calls: list[int] = []
    real = validate_uc.validate_and_record
    monkeypatch.setattr(validate_uc, "validate_and_record", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = open_workspace(data, flush_delay=0.05)
    try:
        assert checking.start_validation(again, delay=0).wait(60)
        assert calls == [] and again.store.validation_summary()["at"] == at
        assert again.store.count(WITH_ERRORS) == 1
    finally:
        again.close()


def test_an_edit_saved_while_it_reads_the_files_makes_it_run_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
):
    real = validate_uc.validate_and_record
    runs: list[int] = []

    def validate_then_save(workspace: Workspace, progress=None):  # noqa: ANN001, ANN202
        verdict = real(workspace, progress)
        runs.append(1)
        if len(runs) == 1:  # as if a labeller saved a box outside the image during the first run
            other = workspace.store.get("train", "scene_002.jpg")
            assert other is not None
            # the store has no verdict recorded for this save's moment: the job must validate again
            workspace.store.save(replace(other, boxes=[Box(5000, 5000, 10, 10, 0)]), workspace.store.version(
                "train", "scene_002.jpg"))  # fmt: skip
        return verdict

    monkeypatch.setattr(validate_uc, "validate_and_record", validate_then_save)
    assert checking.start_validation(ws, delay=0).wait(60)
    assert len(runs) == 2
    assert sorted(a.file_name for a in ws.store.page(WITH_ERRORS)) == ["scene_001.jpg", "scene_002.jpg"]


def test_a_failure_is_readable_text_and_the_page_line_says_so(ws: Workspace, monkeypatch: pytest.MonkeyPatch):
    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OSError("disk on fire")

    monkeypatch.setattr(validate_uc, "validate_and_record", broken)
    job = checking.start_validation(ws, delay=0)
    assert job.wait(60)
    assert job.error == "Validating data failed: disk on fire"
    assert (
        checking.validation_status(ws) == "Validating data failed: disk on fire. Run it on the Validate page."
    )


def test_progress_is_reported_and_closing_stops_the_job(data: Path):
    ws = open_workspace(data, flush_delay=0.05)
    entered, release = threading.Event(), threading.Event()
    seen: list[tuple[int, int]] = []

    def work(job: BackgroundJob) -> None:
        job.report(5, 10)
        seen.append(job.progress())
        entered.set()
        release.wait(10)
        job.report(6, 10)  # raises: the workspace is closing
        seen.append((-1, -1))

    ws.validation = BackgroundJob("Validating data", work).start()
    assert entered.wait(10)
    assert ws.validation.running and ws.validation.fraction() == 0.5
    assert checking.validation_status(ws) == "Checking the dataset for errors: 50%"
    closer = threading.Thread(target=ws.close)
    closer.start()
    while not ws.validation.stopping:
        threading.Event().wait(0.01)
    release.set()
    closer.join(30)
    assert not ws.validation.running and ws.validation.error is None and seen == [(5, 10)]
    with pytest.raises(JobStopped):
        ws.validation.report(1, 1)


def test_it_waits_before_validating_and_a_close_meanwhile_ends_it_at_once(ws: Workspace):
    import time

    job = checking.start_validation(ws, delay=30)
    assert job.running and not ws.store.validated()
    started = time.monotonic()
    ws.close()
    assert time.monotonic() - started < 5 and not job.running and job.error is None
