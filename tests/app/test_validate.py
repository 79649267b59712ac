"""AppTest of the Validate page: a dataset with seeded errors, issues grouped by code, preview/apply/undo fixes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_app


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


def test_not_validated_yet(app_demo: Path):
    at = open_validate()
    assert "Not validated yet" in at.info[0].value


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


def test_severity_of_a_code():
    from pages import _shared as ui

    assert ui.severity("box.outside") == "error"
    assert ui.severity("image.unlabeled") == "warning"
    assert ui.severity("no.such.code") == "error"  # an unknown code is never taken lightly


def test_the_summary_of_one_folder_is_not_shown_for_another(app_demo: Path, tmp_path: Path):
    from opsml_image.demo import copy_demo

    clean = copy_demo(tmp_path / "clean")
    at = open_validate()
    at.button(key="validate_run").click().run()
    assert at.main.metric[0].value == "2"  # the seeded errors
    at.sidebar.text_input[0].input(str(clean))
    next(b for b in at.sidebar.button if b.label == "Open").click().run()
    assert not at.exception, at.exception
    assert not at.main.metric and "Not validated yet" in at.info[0].value
    at.button(key="validate_run").click().run()
    assert at.main.metric[0].value == "0"


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
