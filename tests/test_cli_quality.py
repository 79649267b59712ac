"""CLI ``quality DIR [--json] [--near BITS] [--fail-on KIND ...]``: the same findings as the Quality page;
exit 0 unless asked to fail on a kind found (1), 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from quality.scenes import planted
from typer.testing import CliRunner

from opsml_image.cli import app
from opsml_image.demo import copy_demo

runner = CliRunner()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    return planted(tmp_path / "ds")


def test_json_lists_every_finding_with_the_summary(folder: Path):
    result = runner.invoke(app, ["quality", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["images"] == 13 and found["near"] == 10 and found["unreadable"] == []
    assert {k: n for k, n in found["summary"].items() if n} == {"leakage": 4, "duplicate.exact": 1}
    first = found["findings"][0]
    assert first["kind"] == "leakage" and first["severity"] == "error" and first["boxes"] == []
    assert first["images"] == [{"split": "train", "file_name": "scene_0.png"},
                               {"split": "validation", "file_name": "from_0.jpg"}]  # fmt: skip
    assert found["balance"]["splits"][0] == {"split": "train", "images": 7, "with_boxes": 7}
    assert {"split": "test", "category": 0, "boxes": 3, "images": 3} in found["balance"]["classes"]


def test_text_report(folder: Path):
    result = runner.invoke(app, ["quality", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"{folder}: 13 images checked (13 hashed now)" in result.output
    assert "leakage (error): 4, the same or a near-identical image in two splits" in result.output
    assert "    train/scene_3.png, test/from_3.png" in result.output
    assert result.output.rstrip().endswith("5 finding(s)")
    again = runner.invoke(app, ["quality", str(folder)])
    assert "(0 hashed now)" in again.output  # signatures cached under the home


def test_near_threshold(folder: Path):
    result = runner.invoke(app, ["quality", str(folder), "--json", "--near", "0"])
    assert (
        json.loads(result.output)["summary"]["leakage"] == 2
    )  # same bytes, and the resized copy's equal hash
    assert runner.invoke(app, ["quality", str(folder), "--near", "65"]).exit_code == 2


@pytest.mark.parametrize(
    ("fail_on", "code"),
    [
        ([], 0),
        (["--fail-on", "leakage"], 1),
        (["--fail-on", "box"], 0),  # a family: no box finding here
        (["--fail-on", "box.tiny", "--fail-on", "duplicate"], 1),
        (["--fail-on", "box.tiny,duplicate.near"], 0),
        (["--fail-on", "nonsense"], 2),
    ],
)
def test_exit_codes(folder: Path, fail_on: list[str], code: int):
    result = runner.invoke(app, ["quality", str(folder), *fail_on])
    assert result.exit_code == code, result.output
    if code == 2:
        assert "unknown kind nonsense" in result.output


def test_a_clean_folder_and_a_missing_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    demo = copy_demo(tmp_path / "demo")
    result = runner.invoke(app, ["quality", str(demo), "--fail-on", "leakage"])
    assert result.exit_code == 0 and "0 finding(s): no duplicates" in result.output
    assert runner.invoke(app, ["quality", str(tmp_path / "nowhere")]).exit_code == 2


def test_as_a_process(folder: Path, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "opsml_image", "quality", str(folder), "--fail-on", "leakage"],
        capture_output=True,
        text=True,
        env={"OPSML_IMAGE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "failing on: leakage" in result.stderr and "Traceback" not in result.stderr
