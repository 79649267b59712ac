"""Use case: the quality check of a workspace in the background (reviewers and admins), current until the
data changes, another threshold without reading files, example tiles, the duplicate-box fix with preview,
apply and undo through the store's versioned edits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from quality.scenes import planted

from opsml_image.annotation import Box
from opsml_image.auth import Forbidden, Role, User
from opsml_image.usecases import quality as uc
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace

REVIEWER = User("rex", Role.REVIEWER)
ANNOTATOR = User("anna", Role.ANNOTATOR)
SCENE_0 = ("train", "scene_0.png")


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The planted dataset, scene_0 with its box twice."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    root = planted(tmp_path / "ds")
    path = root / "train" / "metadata.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["objects"] = {"bbox": [[10.0, 10.0, 100.0, 80.0], [11.0, 10.0, 100.0, 80.0]], "categories": [0, 0]}
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    workspace = open_workspace(root, flush_delay=60)
    yield workspace
    workspace.close()


def finished(ws: Workspace, user: User = REVIEWER, near: int | None = uc.DEFAULT_NEAR) -> uc.Status:
    state = uc.status(ws, user=user, near=near)
    assert uc.wait(ws, 60)
    state = uc.status(ws, user=user, near=near)
    assert state.current and not state.running and state.error is None
    return state


def test_a_check_runs_in_the_background_and_stays_current(ws: Workspace):
    first = uc.status(ws, user=REVIEWER)
    assert first.running and first.report is None
    state = finished(ws)
    report = state.report
    assert report is not None and report.images == 13 and report.hashed == 13
    assert {k: n for k, n in report.summary().items() if n} == {
        "leakage": 4,
        "duplicate.exact": 1,
        "box.duplicate": 1,
    }
    assert uc.status(ws, user=REVIEWER).report is report  # current: no new check
    assert not uc.status(ws, user=REVIEWER).running


def test_only_reviewers_and_admins_check(ws: Workspace):
    with pytest.raises(Forbidden):
        uc.status(ws, user=ANNOTATOR)
    with pytest.raises(Forbidden):
        uc.status(ws, user=None)


def test_another_threshold_reads_no_file(ws: Workspace):
    report = finished(ws).report
    strict = uc.status(ws, user=REVIEWER, near=0).report
    assert strict is not None and report is not None
    assert strict.summary()["leakage"] == 2 and report.summary()["leakage"] == 4
    assert strict.hashed == 0 and uc.status(ws, user=REVIEWER, near=0).report is strict  # kept


def test_an_edit_makes_the_report_stale_and_the_next_check_reads_the_store(ws: Workspace):
    report = finished(ws).report
    assert report is not None
    before = ws.store.get(*SCENE_0)
    assert before is not None
    ws.store.save(
        replace(before, boxes=before.boxes[:1]), ws.store.version(*SCENE_0), user="rex"
    )  # not flushed
    state = uc.status(ws, user=REVIEWER)
    assert state.running and not state.current and state.report is report  # the last one, while it runs
    again = finished(ws).report
    assert again is not None and again.summary()["box.duplicate"] == 0
    assert again.hashed == 0  # no image changed: every signature from the cache


def test_check_again_runs_anew(ws: Workspace):
    finished(ws)
    assert uc.status(ws, user=REVIEWER, again=True).running
    assert finished(ws).report is not None


def test_examples_draw_the_boxes_in_question(ws: Workspace):
    report = finished(ws).report
    assert report is not None
    groups = report.by_kind()
    (example,) = uc.examples(ws, groups["box.duplicate"])
    assert example.key == SCENE_0 and example.path is not None
    assert example.boxes == ((10.0, 10.0, 100.0, 80.0, 0), (11.0, 10.0, 100.0, 80.0, 0))
    assert example.caption.startswith("two 'car' boxes on one object")
    leaks = uc.examples(ws, groups["leakage"], limit=3)
    assert [e.key for e in leaks] == [SCENE_0, ("validation", "from_0.jpg"), ("train", "scene_1.png")]
    assert leaks[0].boxes == () and [e.caption for e in leaks] == [
        "group 1 of 4",
        "group 1 of 4",
        "group 2 of 4",
    ]
    jpeg = uc.render_example(example.path, example.boxes, uc.class_names(ws), (208, 156))
    assert jpeg[:2] == b"\xff\xd8"
    assert uc.class_names(ws) == ["car", "tree"]


def test_drop_duplicate_boxes_preview_apply_undo(ws: Workspace):
    report = finished(ws).report
    assert report is not None
    (change,) = uc.preview_drop_duplicates(ws, report, user=REVIEWER)
    assert change.key == SCENE_0 and len(change.after.boxes) == 1
    assert change.summary == "drop box 2 of train/scene_0.png: the same class as an earlier box (IoU >= 0.85)"
    assert len(ws.store.get(*SCENE_0).boxes) == 2  # a preview changes nothing
    applied = uc.apply_drop_duplicates(ws, [change], user=REVIEWER)
    assert ws.store.get(*SCENE_0).boxes == [Box(10.0, 10.0, 100.0, 80.0, 0)]
    assert ws.store.history(1)[0].user == "rex" and ws.store.history(1)[0].action == "fix:box.duplicate"
    assert finished(ws).report.summary()["box.duplicate"] == 0
    uc.undo_drop_duplicates(ws, applied, user=REVIEWER)
    assert len(ws.store.get(*SCENE_0).boxes) == 2
    assert finished(ws).report.summary()["box.duplicate"] == 1


def test_a_fix_previewed_before_an_edit_is_refused(ws: Workspace):
    report = finished(ws).report
    assert report is not None
    changes = uc.preview_drop_duplicates(ws, report, user=REVIEWER)
    before = ws.store.get(*SCENE_0)
    ws.store.save(replace(before, caption="edited meanwhile"), ws.store.version(*SCENE_0), user="ada")
    with pytest.raises(UserError, match="Preview the fix again"):
        uc.apply_drop_duplicates(ws, changes, user=REVIEWER)
    assert len(ws.store.get(*SCENE_0).boxes) == 2


def test_only_reviewers_and_admins_fix(ws: Workspace):
    report = finished(ws).report
    assert report is not None and not uc.can_fix(ANNOTATOR) and uc.can_fix(REVIEWER)
    with pytest.raises(Forbidden):
        uc.preview_drop_duplicates(ws, report, user=ANNOTATOR)
    changes = uc.preview_drop_duplicates(ws, report, user=REVIEWER)
    with pytest.raises(Forbidden):
        uc.apply_drop_duplicates(ws, changes, user=ANNOTATOR)


def test_summary_for_a_card(ws: Workspace):
    counts = uc.summary(ws, user=REVIEWER, timeout=60)
    assert list(counts) == list(uc.KINDS) and counts["leakage"] == 4
