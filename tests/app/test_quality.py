"""AppTest of the Quality page: findings grouped by kind with counts, example tiles linking to Annotate, the
threshold, the duplicate-box fix previewed, applied and undone; annotators are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image
from quality.scenes import cropped
from streamlit.testing.v1 import AppTest

from conftest import TEAM_PASSWORD, open_app


def plant(data: Path) -> None:
    """The demo plus: validation/leak.jpg, the bytes of train/scene_002.jpg; validation/crop.jpg, scene_006
    cropped by 2% (perceptual hashes 6 bits apart); scene_001's first box drawn twice."""
    (data / "validation" / "leak.jpg").write_bytes((data / "train" / "scene_002.jpg").read_bytes())
    with Image.open(data / "train" / "scene_006.jpg") as image:
        cropped(image).save(data / "validation" / "crop.jpg", quality=95)
    for name in ("leak.jpg", "crop.jpg"):
        path = data / "validation" / name
        os.utime(path, (path.stat().st_mtime - 3600,) * 2)
    with (data / "validation" / "metadata.jsonl").open("a") as handle:
        handle.write(
            json.dumps({"file_name": "leak.jpg"}) + "\n" + json.dumps({"file_name": "crop.jpg"}) + "\n"
        )
    path = data / "train" / "metadata.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    x, y, w, h = first["objects"]["bbox"][0]
    first["objects"]["bbox"].append([x + 1, y, w, h])
    first["objects"]["categories"].append(first["objects"]["categories"][0])
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")


@pytest.fixture
def app_demo(app_demo: Path) -> Path:
    plant(app_demo)
    return app_demo


def settled(at: AppTest, tries: int = 20) -> AppTest:
    """Run again until no check runs (the page waits a few seconds per run, then shows its progress)."""
    for _ in range(tries):
        if not any("Checking data quality" in (p.proto.text or "") for p in at.get("progress")):
            return at
        at.run()
        assert not at.exception, at.exception
    raise AssertionError("the check did not end")


def groups(at: AppTest) -> dict[str, int]:
    """``kind: count`` of the finding groups shown."""
    found = {}
    for expander in at.main.expander:
        parts = expander.label.split(" · ")
        if parts[0].startswith("**"):
            found[parts[0].strip("*").replace("\\", "")] = int(parts[1].replace(",", ""))
    return found


def tiles(at: AppTest) -> list[dict]:
    return [
        tile
        for element in at.get("bidi_component")
        for tile in json.loads(element.proto.json or "{}").get("tiles", [])
    ]


def open_quality() -> AppTest:
    return settled(open_app("pages/quality.py"))


def test_findings_grouped_by_kind_with_examples_linking_to_annotate(app_demo: Path):
    at = open_quality()
    assert at.title[0].value == "Quality"
    assert groups(at) == {"leakage": 2, "box.duplicate": 1}
    assert [m.value for m in at.main.metric] == ["14", "3", "0"]
    shown = tiles(at)
    names = [t["name"] for t in shown]
    assert names[:4] == [
        "train/scene_002.jpg",
        "validation/leak.jpg",
        "train/scene_006.jpg",
        "validation/crop.jpg",
    ]
    assert all(t["src"].startswith("data:image/jpeg;base64,") for t in shown)
    duplicate = next(t for t in shown if t["name"] == "train/scene_001.jpg")
    assert duplicate["href"] == "/annotate?split=train&file=scene_001.jpg"
    assert duplicate["caption"].startswith("two 'house' boxes on one object")
    links = [v for frame in at.dataframe if "open" in frame.value.columns for v in frame.value["open"]]
    assert "/annotate?split=validation&file=leak.jpg" not in links  # a group links its first image
    assert "/annotate?split=train&file=scene_002.jpg" in links
    assert "/annotate?split=train&file=scene_001.jpg" in links


def test_the_threshold_regroups_without_a_new_check(app_demo: Path):
    at = open_quality()
    at.slider(key="quality_near").set_value(4).run()
    assert not at.exception, at.exception
    assert groups(at) == {"leakage": 1, "box.duplicate": 1}  # the 2% crop is 6 bits away
    leak = next(f for f in at.dataframe if "finding" in f.value.columns)
    assert "identical images (same bytes) across splits" in leak.value["finding"].iloc[0]


def test_drop_duplicate_boxes_preview_apply_undo(app_demo: Path):
    at = open_quality()
    at.button(key="quality_preview_fix").click().run()
    preview = [f for f in at.dataframe if "change" in f.value.columns]
    assert preview and preview[0].value["image"].iloc[0] == "train/scene_001.jpg"
    assert preview[0].value["change"].iloc[0].startswith("drop box 6 of train/scene_001.jpg")
    at.button(key="quality_apply_fix").click().run()
    settled(at)
    assert not at.exception, at.exception
    assert groups(at) == {"leakage": 2}
    assert "Applied fixes" in [s.value for s in at.subheader]
    next(b for b in at.button if b.label == "Undo").click().run()
    settled(at)
    assert groups(at) == {"leakage": 2, "box.duplicate": 1}
    assert "Applied fixes" not in [s.value for s in at.subheader]


def test_class_balance_table(app_demo: Path):
    at = open_quality()
    assert "Class balance" in [s.value for s in at.subheader]
    per_class = next(f for f in at.dataframe if "train" in f.value.columns)
    assert list(per_class.value.index) == ["car", "house", "tree"]
    assert per_class.value.loc["house", "train"] == "17 / 8"  # one box more: the duplicate


def log_in(at: AppTest, name: str) -> AppTest:
    at.text_input(key="login_name").input(name)
    at.text_input(key="login_password").input(TEAM_PASSWORD)
    at.button(key="FormSubmitter:login-Log in").click().run()
    return at


def test_reviewers_see_the_page_and_annotators_are_refused(team, app_demo: Path):
    at = log_in(open_app(), "anna")
    at.switch_page("pages/quality.py").run()
    assert any("This page is not available to you" in e.value for e in at.error)
    assert not at.main.expander and not tiles(at)
    at = settled(log_in(open_app(), "rex").switch_page("pages/quality.py").run())
    assert groups(at) == {"leakage": 2, "box.duplicate": 1}
