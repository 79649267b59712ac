"""AppTest of the Register page: blocked while validation fails; register, card, prefill, history and diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_app, open_folder


def open_register() -> AppTest:
    return open_app("pages/register.py", timeout=60)


def test_blocked_while_validation_fails(app_demo: Path):
    path = app_demo / "train" / "metadata.jsonl"
    path.write_text(path.read_text() + json.dumps({"file_name": "gone.jpg"}) + "\n")
    at = open_register()
    assert "Registration is blocked" in at.error[0].value
    assert "image.missing" in at.error[0].value
    assert at.button(key="FormSubmitter:register-Register").disabled


def test_register_shows_card_history_and_prefills(app_demo: Path):
    at = open_register()
    assert "can be registered" in at.success[0].value
    at.text_input(key="reg_team").input("vision")
    at.text_input(key="reg_contact").input("ann@example.com")
    at.text_input(key="reg_tags").input("source=demo")
    at.button(key="FormSubmitter:register-Register").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Registered." in at.success[0].value
    text = " ".join(t.value for t in at.text)
    assert "uid: " in text and "storage uri: " in text
    assert [m.value for m in at.main.metric][:2] == ["1.0.0", "12"]

    at = open_register()
    assert at.text_input(key="reg_team").value == "vision"
    assert at.text_input(key="reg_contact").value == "ann@example.com"
    assert at.text_input(key="reg_tags").value == "source=demo"
    assert "Prefilled from this folder's last card" in at.caption[0].value
    at.radio(key="reg_bump").set_value("patch")
    at.button(key="FormSubmitter:register-Register").click().run()
    assert not at.exception, at.exception
    assert [m.value for m in at.main.metric][0] == "1.0.1"
    assert any("Changes from v1.0.0 to v1.0.1" in s.value for s in at.subheader)
    history = [f for f in at.dataframe if "version" in f.value.columns]
    assert list(history[0].value["version"])[:2] in (["1.0.1", "1.0.0"], ["1.0.0", "1.0.1"])


def test_registry_errors_are_readable(app_demo: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPSML_TRACKING_URI", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = open_register()
    messages = [e.value for e in at.error]
    assert messages and all("Traceback" not in m for m in messages), messages


def test_warnings_do_not_block_and_are_counted(app_demo: Path):
    from conftest import write_image

    write_image(app_demo / "train" / "extra.png")  # an image without a record: image.unlabeled (a warning)
    at = open_register()
    assert not at.exception, at.exception
    assert "Validation passes (1 warning(s))" in at.success[0].value
    assert not at.button(key="FormSubmitter:register-Register").disabled


def test_another_folder_is_validated_anew_not_judged_by_the_last_one(app_demo: Path, tmp_path: Path):
    from opsml_image.demo import copy_demo

    broken = copy_demo(tmp_path / "broken")  # the same counts and history as the demo, one missing image
    (broken / "train" / "scene_002.jpg").unlink()
    at = open_register()
    assert "can be registered" in at.success[0].value
    open_folder(at, broken)
    assert not at.exception, at.exception
    assert "Registration is blocked" in at.error[0].value and "image.missing" in at.error[0].value


def test_required_fields_are_marked_and_checked(app_demo: Path):
    at = open_register()
    labels = {
        key: at.text_input(key=key).label for key in ("reg_name", "reg_team", "reg_contact", "reg_tags")
    }
    assert labels == {
        "reg_name": "Name \\*",
        "reg_team": "Team \\*",
        "reg_contact": "Contact email \\*",
        "reg_tags": "Tags",
    }
    assert "Nothing was registered from this folder yet" in at.info[0].value
    at.button(key="FormSubmitter:register-Register").click().run()
    assert not at.exception, at.exception
    assert "Team, Contact email" in at.error[0].value


def test_another_folder_is_not_prefilled_from_this_ones_card(app_demo: Path, tmp_path: Path):
    from opsml_image.demo import copy_demo

    other = copy_demo(tmp_path / "other")
    at = open_register()
    at.text_input(key="reg_team").input("vision")
    at.text_input(key="reg_contact").input("ann@example.com")
    at.button(key="FormSubmitter:register-Register").click().run()
    assert "Registered." in at.success[0].value
    open_folder(at, other)
    assert not at.exception, at.exception
    assert at.text_input(key="reg_name").value == "other"
    assert at.text_input(key="reg_team").value == ""
    assert "Nothing was registered from this folder yet" in at.info[0].value


def test_register_after_validate_reads_the_metadata_no_more(app_demo: Path, monkeypatch: pytest.MonkeyPatch):
    """Validate, then Register: the click walks the folder once (the registry's scan, which confirms the
    files the Validate page's verdict judged) and reads no metadata; it walked it 5 times before."""
    from tests.registry.counting import count_folder_reads

    at = open_app("pages/new_dataset.py", timeout=60)  # the folder is opened (and indexed) by the app
    reads = count_folder_reads(monkeypatch, app_demo)
    at.switch_page("pages/validate.py").run()
    assert not at.exception, at.exception
    assert sorted(reads.metadata) == ["train/metadata.jsonl", "validation/metadata.jsonl"]  # read once
    at.switch_page("pages/register.py").run()
    at.text_input(key="reg_team").input("vision")
    at.text_input(key="reg_contact").input("ann@example.com")
    reads.clear()
    at.button(key="FormSubmitter:register-Register").click().run()
    assert not at.exception, at.exception
    assert "Registered." in at.success[0].value
    assert reads.metadata == []  # Register: not once more
    assert reads.scans == 1 and dict(reads.listings) == {".": 1, "train": 1, "validation": 1}
