"""CLI ``history DIR [--user NAME] [--since ISO] [--json]``: who changed which image, when and what."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsml_image.cli import app
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo
from opsml_image.store import WorkStore

runner = CliRunner()


@pytest.fixture
def edited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo with a caption by anna, then a box removed and the caption changed by rex."""
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OPSML_IMAGE_STORE_URI", raising=False)
    data = copy_demo(tmp_path / "data")
    with WorkStore.open(ImageDataset(image_dir=data)) as store:
        store.sync()
        first = store.get("train", "scene_001.jpg")
        assert first is not None and first.boxes
        store.save(dataclasses.replace(first, caption="<img src=x onerror=alert(1)>"),
                   store.version("train", "scene_001.jpg"), user="anna")  # fmt: skip
        second = store.get("train", "scene_002.jpg")
        assert second is not None and second.boxes
        store.save(dataclasses.replace(second, boxes=second.boxes[1:], caption="two"),
                   store.version("train", "scene_002.jpg"), user="rex")  # fmt: skip
    return data


def test_lists_changes_newest_first(edited: Path):
    result = runner.invoke(app, ["history", str(edited)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "rex" in lines[0] and "train/scene_002.jpg" in lines[0] and "boxes" in lines[0]
    assert "caption set" in lines[0]
    assert "anna" in lines[1] and "train/scene_001.jpg: caption set" in lines[1]
    assert "2 change(s)" in result.stderr


def test_filter_by_user_and_json(edited: Path):
    result = runner.invoke(app, ["history", str(edited), "--user", "ANNA", "--json"])
    assert result.exit_code == 0, result.output
    items = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(i["user"], i["file_name"], i["action"], i["what"]) for i in items] == [
        ("anna", "scene_001.jpg", "save", "caption set")
    ]
    assert items[0]["at"].endswith("+00:00") and isinstance(items[0]["id"], int)


def test_since(edited: Path):
    result = runner.invoke(app, ["history", str(edited), "--since", "2000-01-01"])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2
    result = runner.invoke(app, ["history", str(edited), "--since", "2999-01-01T00:00+00:00"])
    assert result.exit_code == 0 and result.stdout == ""
    result = runner.invoke(app, ["history", str(edited), "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since 'yesterday' is not an ISO date or time" in result.stderr
    assert "Traceback" not in result.output


def test_a_folder_that_is_no_dataset_is_a_readable_error(tmp_path: Path):
    result = runner.invoke(app, ["history", str(tmp_path / "missing")])
    assert result.exit_code == 2 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
