"""AppTest of the New dataset page: upload images into a new folder; non-images are refused with a reason;
refusals (name, existing folder, repeated class) write nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import APP_SCRIPT, sidebar_counts


def png(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_creates_and_opens_a_dataset(app_home: Path, tmp_path: Path):
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=30)
    at.switch_page("pages/new_dataset.py")
    at.run()
    assert not at.exception
    at.text_input(key="new_name").input("birds")
    at.text_input(key="new_parent").input(str(tmp_path / "sets"))
    at.text_input(key="new_classes").input("robin, crow")
    at.file_uploader[0].set_value(
        [
            ("a.png", png(), "image/png"),
            ("b.png", png((30, 20)), "image/png"),
            ("notes.png", b"hello", "image/png"),
        ]
    )
    at.button(key="FormSubmitter:new_dataset-Create dataset").click().run()
    assert not at.exception, at.exception
    refused = [e.value for e in at.error]
    assert any("notes.png" in m for m in refused), refused
    assert "with 2 image(s)" in at.success[0].value
    folder = tmp_path / "sets" / "birds"
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".png") == ["a.png", "b.png"]
    assert json.loads((folder / "categories.json").read_text()) == ["robin", "crow"]
    assert at.sidebar.text[0].value == folder.name
    assert sidebar_counts(at) == (2, 2)


def test_name_is_checked(app_home: Path):
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=30)
    at.switch_page("pages/new_dataset.py")
    at.run()
    at.text_input(key="new_name").input("no spaces allowed")
    at.button(key="FormSubmitter:new_dataset-Create dataset").click().run()
    assert not at.exception
    assert "name" in at.error[0].value


def test_refusals_are_readable_and_write_nothing(app_home: Path, tmp_path: Path):
    (tmp_path / "sets" / "taken").mkdir(parents=True)
    (tmp_path / "sets" / "taken" / "mine.txt").write_text("keep")
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=30)
    at.switch_page("pages/new_dataset.py")
    at.run()
    at.text_input(key="new_parent").input(str(tmp_path / "sets"))
    at.text_input(key="new_name").input("taken")
    at.file_uploader[0].set_value([("a.png", png(), "image/png")])
    at.button(key="FormSubmitter:new_dataset-Create dataset").click().run()
    assert not at.exception, at.exception
    assert "already exists and is not empty" in at.error[0].value
    at.text_input(key="new_name").input("birds")
    at.text_input(key="new_classes").input("robin, robin")
    at.button(key="FormSubmitter:new_dataset-Create dataset").click().run()
    assert "A class is listed twice\\: robin" in at.error[0].value  # shown as text: the colon escaped
    assert sorted(p.name for p in (tmp_path / "sets").iterdir()) == ["taken"]


def test_no_image_accepted(app_home: Path, tmp_path: Path):
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=30)
    at.switch_page("pages/new_dataset.py")
    at.run()
    at.text_input(key="new_parent").input(str(tmp_path / "sets"))
    at.text_input(key="new_name").input("empty")
    at.file_uploader[0].set_value([("notes.png", b"hello", "image/png")])
    at.button(key="FormSubmitter:new_dataset-Create dataset").click().run()
    assert not at.exception, at.exception
    assert "notes.png" in at.error[0].value and "No image was accepted" in at.warning[0].value
