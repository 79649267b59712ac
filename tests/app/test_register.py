"""AppTest of the Register page: blocked while validation fails; register, card, prefill, history and diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_app


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
    text = " ".join(m.value for m in at.markdown)
    assert "uid" in text and "storage uri" in text
    assert [m.value for m in at.main.metric][:2] == ["1.0.0", "12"]

    at = open_register()
    assert at.text_input(key="reg_team").value == "vision"
    assert at.text_input(key="reg_contact").value == "ann@example.com"
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
    at.sidebar.text_input[0].input(str(broken))
    next(b for b in at.sidebar.button if b.label == "Open").click().run()
    assert not at.exception, at.exception
    assert "Registration is blocked" in at.error[0].value and "image.missing" in at.error[0].value
