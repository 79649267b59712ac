"""AppTest of the Validate page: it runs by itself when stale; seeded errors grouped by code (the first groups
open); preview/apply/undo fixes; a broken line shown raw, mended in place or dropped, undone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_app, open_folder


def seed_errors(data: Path) -> None:
    """scene_001's first box sticks out of its 640x480 image; a record names a missing file."""
    path = data / "train" / "metadata.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["objects"]["bbox"][0] = [600.0, 400.0, 100.0, 100.0]
    lines[0] = json.dumps(first)
    lines.append(json.dumps({"file_name": "gone.jpg", "caption": "a missing image"}))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def app_demo(app_demo: Path) -> Path:
    """The demo copy with seeded errors."""
    seed_errors(app_demo)
    return app_demo


def open_validate() -> AppTest:
    return open_app("pages/validate.py")


def expander_labels(at: AppTest) -> list[str]:
    return [e.label for e in at.expander]


def test_runs_by_itself_and_again_when_the_dataset_changed(app_demo: Path):
    at = open_validate()  # never validated: it runs
    assert [m.value for m in at.main.metric][:2] == ["2", "0"]
    at.run()
    assert [m.value for m in at.main.metric][:2] == ["2", "0"]
    path = app_demo / "train" / "metadata.jsonl"
    path.write_text(path.read_text() + json.dumps({"file_name": "also-gone.jpg"}) + "\n")
    at.run()  # a metadata file changed since: it runs again
    assert not at.exception, at.exception
    assert [m.value for m in at.main.metric][:2] == ["3", "0"]


def test_the_first_groups_start_open(app_demo: Path):
    at = open_validate()
    assert [e.proto.expanded for e in at.main.expander][:2] == [True, True]
    assert at.main.expander[-1].label == "Clean-up" and not at.main.expander[-1].proto.expanded


def test_issues_grouped_by_code_with_links(app_demo: Path):
    at = open_validate()
    at.button(key="validate_run").click().run()
    assert not at.exception, at.exception
    labels = expander_labels(at)
    assert any(label.startswith("**box.outside** · 1 error") for label in labels), labels
    assert any(label.startswith("**image.missing** · 1 error") for label in labels), labels
    assert [m.value for m in at.main.metric][:2] == ["2", "0"]
    assert "fix them before registering" in at.error[0].value
    frames = at.dataframe
    assert frames, "issue tables"
    links = [v for f in frames for v in f.value.get("open", []) if v]
    assert "/annotate?split=train&file=scene_001.jpg" in links


def test_fix_preview_apply_and_undo(app_demo: Path):
    at = open_validate()
    at.button(key="validate_run").click().run()
    at.button(key="preview:box.outside").click().run()
    assert not at.exception, at.exception
    preview = [f for f in at.dataframe if "change" in f.value.columns]
    assert preview and "scene_001.jpg" in preview[0].value["image"].iloc[0]
    at.button(key="apply:box.outside").click().run()
    assert not at.exception, at.exception
    assert not any(label.startswith("**box.outside**") for label in expander_labels(at))
    undo = [b for b in at.button if b.key and b.key.startswith("undo:")]
    assert undo
    undo[0].click().run()
    assert not at.exception, at.exception
    assert any(label.startswith("**box.outside**") for label in expander_labels(at))


def test_drop_missing_records(app_demo: Path):
    at = open_validate()
    at.button(key="validate_run").click().run()
    at.button(key="preview:image.missing").click().run()
    at.button(key="apply:image.missing").click().run()
    assert not at.exception, at.exception
    assert not any(label.startswith("**image.missing**") for label in expander_labels(at))


def test_a_broken_line_is_shown_raw_edited_in_place_and_undone(app_demo: Path):
    path = app_demo / "train" / "metadata.jsonl"
    before = path.read_bytes()
    broken = '{"file_name": "scene_002.jpg", "caption": "**not bold** <b>x</b>",'
    path.write_bytes(before + broken.encode() + b"\n")
    at = open_validate()
    assert any(label.startswith("**line.json** · 1 error") for label in expander_labels(at))
    assert broken in [t.value for t in at.text]  # the raw line, as text
    area = next(a for a in at.text_area if a.value == broken)
    area.input('{"file_name": "scene_002.jpg", "caption": "mended"}')
    next(b for b in at.button if b.label == "Save line").click().run()
    assert not at.exception, at.exception
    assert not any(label.startswith("**line.json**") for label in expander_labels(at))
    assert path.read_bytes() == before + b'{"file_name":"scene_002.jpg","caption":"mended"}\n'
    next(b for b in at.button if b.key and b.key.startswith("undo:")).click().run()
    assert not at.exception, at.exception
    assert path.read_bytes() == before + broken.encode() + b"\n"
    assert any(label.startswith("**line.json** · 1 error") for label in expander_labels(at))


def test_a_line_that_is_not_a_record_is_refused_then_dropped(app_demo: Path):
    path = app_demo / "train" / "metadata.jsonl"
    before = path.read_bytes()
    path.write_bytes(before + b"{oops\n")
    at = open_validate()
    next(a for a in at.text_area if a.value == "{oops").input('{"caption": "no file name"}')
    next(b for b in at.button if b.label == "Save line").click().run()
    assert any("the record has no file" in e.value for e in at.error), [e.value for e in at.error]
    assert path.read_bytes() == before + b"{oops\n"
    next(b for b in at.button if b.label == "Drop line").click().run()
    assert not at.exception, at.exception
    assert path.read_bytes() == before


def test_the_summary_of_one_folder_is_not_shown_for_another(app_demo: Path, tmp_path: Path):
    from opsml_image.demo import copy_demo

    clean = copy_demo(tmp_path / "clean")
    at = open_validate()
    assert at.main.metric[0].value == "2"  # the seeded errors
    open_folder(at, clean)
    assert not at.exception, at.exception
    assert at.main.metric[0].value == "0"  # validated anew, not judged by the other folder's verdict
    assert "the dataset is valid" in at.success[0].value


def test_after_a_restart_the_counts_stay_exact_when_the_issue_rows_were_capped(app_demo: Path):
    from opsml_image import ImageDataset
    from opsml_image.store import WorkStore

    dataset = ImageDataset(image_dir=app_demo)
    store = WorkStore.open(dataset)
    store.set_issues(dataset.validate(max_issues=1))  # 2 errors counted, 1 row kept
    store.close()
    at = open_validate()  # a new session: the summary comes from the store
    assert [m.value for m in at.main.metric][:2] == ["2", "0"]
    labels = expander_labels(at)
    assert any(label.startswith("**box.outside** · 1 error") for label in labels), labels
    assert any(label.startswith("**image.missing** · 1 error") for label in labels), labels
    assert any("Showing the first 0 of 1 issues" in c.value for c in at.caption)
