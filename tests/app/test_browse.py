"""AppTest of the start-up and the Browse page: sidebar counts, gallery, filters, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import link_outside, open_app, open_folder, sidebar_counts
from opsml_image.dataset import ImageDataset
from opsml_image.demo import copy_demo


def tiles(at) -> list[dict]:  # noqa: ANN001 - an AppTest
    """The gallery's tiles as the page sent them (name, caption, Annotate link, image)."""
    import json

    found = at.get("bidi_component")
    return json.loads(found[0].proto.json)["tiles"] if found else []


def test_opens_a_working_copy_of_the_demo_by_default(app_home: Path, tmp_path: Path):
    at = open_app()
    assert at.title[0].value == "Browse"
    assert (app_home / "demo" / "categories.json").exists()
    assert at.sidebar.text[0].value == "demo"
    assert sidebar_counts(at) == (12, 3)
    assert "10 of 12 annotated" in at.sidebar.get("progress")[0].text
    shown = tiles(at)
    assert len(shown) == 12 and shown[0]["name"] == "train/scene_001.jpg"
    assert shown[0]["caption"] == "5 boxes · house, tree"
    assert shown[0]["href"] == "/annotate?split=train&file=scene_001.jpg"
    assert shown[0]["src"].startswith("data:image/jpeg;base64,")
    assert not at.error


def test_filters(app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPSML_IMAGE_DIR", str(copy_demo(tmp_path / "data")))
    at = open_app()
    at.selectbox(key="browse_annotated").set_value("Not annotated").run()
    assert len(tiles(at)) == 2
    at.selectbox(key="browse_annotated").set_value("All images").run()
    at.selectbox(key="browse_split").set_value("validation").run()
    assert len(tiles(at)) == 3
    at.text_input(key="browse_text").input("sunset").run()
    assert "of 1 images" in at.caption[0].value or len(tiles(at)) >= 1
    at.text_input(key="browse_text").input("no such caption").run()
    assert at.info and "No image matches" in at.info[0].value
    at.text_input(key="browse_text").input("").run()
    at.selectbox(key="browse_split").set_value(None).run()
    at.selectbox(key="browse_category").set_value(0).run()  # car
    assert 0 < len(tiles(at)) < 12


def test_statistics_panel(app_home: Path):
    at = open_app()
    at.button(key="browse_stats_choice_0").click().run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 3


def test_missing_data_dir_is_a_readable_error(
    app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OPSML_IMAGE_DIR", str(tmp_path / "does-not-exist"))
    at = open_app()
    messages = [e.value for e in at.error] + [e.value for e in at.sidebar.error]
    assert any("does not exist" in m for m in messages), messages


def test_invalid_dataset_folder_is_a_readable_error(
    app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("OPSML_IMAGE_DIR", str(empty))
    at = open_app()
    messages = [e.value for e in at.error] + [e.value for e in at.sidebar.error]
    assert any("cannot be opened" in m and "metadata.jsonl" in m for m in messages), messages


def test_bad_records_do_not_break_browse(app_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = copy_demo(tmp_path / "data")
    with (data / "train" / "metadata.jsonl").open("a") as handle:
        handle.write('{"file_name": "ghost.jpg", "objects": {"bbox": [[1, 2]], "categories": [0]}}\n')
        handle.write("this is not json\n")
    (data / "train" / "scene_004.png").write_bytes(b"not an image")
    monkeypatch.setenv("OPSML_IMAGE_DIR", str(data))
    at = open_app()
    assert at.title[0].value == "Browse"
    assert any("scene_004.png" in w.value or "ghost.jpg" in w.value for w in at.warning)


def test_category_bars_take_their_category_colour(app_home: Path):
    import json

    import pyarrow as pa

    from opsml_image.colors import category_color

    at = open_app()
    at.button(key="browse_stats_choice_0").click().run()
    chart = at.get("vega_lite_chart")[0].proto
    spec = json.loads(chart.spec)
    assert spec["encoding"]["color"] == {"field": "color", "legend": None, "scale": None, "type": "nominal"}
    rows = pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pylist()
    names = ["car", "house", "tree"]
    assert {r["category"]: r["color"] for r in rows} == {n: category_color(i) for i, n in enumerate(names)}


def test_opening_another_folder_leaves_other_open_sessions_alone(app_home: Path, tmp_path: Path):
    other = copy_demo(tmp_path / "other")
    (other / "train" / "scene_001.jpg").unlink()
    (other / "train" / "metadata.jsonl").write_text(
        "".join(
            line + "\n"
            for line in (other / "train" / "metadata.jsonl").read_text().splitlines()
            if "scene_001.jpg" not in line
        )
    )
    ana, bob = open_app(), open_app()  # two browser sessions of one server
    open_folder(ana, other)
    assert not ana.exception
    assert ana.sidebar.text[0].value == other.name and sidebar_counts(ana)[0] == 11

    bob.run()  # Bob's session keeps the folder it has open
    assert bob.sidebar.text[0].value == "demo" and sidebar_counts(bob)[0] == 12
    carol = open_app()  # a session opened later (or a reload) opens the most recent folder
    assert carol.sidebar.text[0].value == other.name


def test_export_a_split_as_coco_json(app_demo: Path):
    import orjson

    from opsml_image.store import WorkStore

    with WorkStore.open(ImageDataset(image_dir=app_demo)) as store:  # an edit not yet in metadata.jsonl
        store.sync()
        annotation = store.get("validation", "scene_010.jpg")
        annotation.caption = "edited before the export"
        store.save(annotation, expected_version=store.version("validation", "scene_010.jpg"))
    at = open_app()
    at.sidebar.selectbox(key=f"export_split:{app_demo}").set_value("validation").run()
    at.sidebar.button(key="export_go").click().run()
    assert not at.exception and not at.sidebar.error
    split, data = at.session_state["export_ready"][1:]
    coco = orjson.loads(data)
    assert split == "validation" and len(coco["images"]) == 3
    assert [c["name"] for c in coco["categories"]] == ["car", "house", "tree"]
    assert any(i.get("caption") == "edited before the export" for i in coco["images"])
    assert at.get("download_button")


def _box_outside(data: Path) -> None:
    """Make scene_001's first box stick out of its 640 px wide image (a validation error)."""
    import json

    path = data / "train" / "metadata.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[0]["objects"]["bbox"][0] = [600.0, 10.0, 100.0, 50.0]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_with_errors_works_without_visiting_validate(app_demo: Path):
    from pages import _session as session

    _box_outside(app_demo)
    at = open_app()
    job = session.workspace().validation  # the background validation the page started
    assert job is not None and job.wait(60) and job.error is None
    at.button(key="browse_errors_choice_0").click().run()
    assert not at.exception
    assert [t["name"] for t in tiles(at)] == ["train/scene_001.jpg"]


def test_a_tile_with_an_image_that_cannot_be_shown_says_why_relative_to_the_dataset(app_demo: Path):
    (app_demo / "train" / "scene_002.jpg").unlink()
    at = open_app()
    broken = next(t for t in tiles(at) if t["name"] == "train/scene_002.jpg")
    assert broken["caption"] == "image not found: train/scene_002.jpg"
    messages = [w.value.replace("\\", "") for w in at.warning]  # shown Markdown-escaped
    assert "scene_002.jpg: image not found: train/scene_002.jpg" in messages, messages
    assert not any(str(app_demo) in m for m in messages + [t["caption"] for t in tiles(at)])


def test_a_tile_action_is_taken_only_for_an_image_of_this_page():
    from pages._gallery import Action, Tile, _action

    shown = [Tile("train", "a.jpg", b"", "", "/annotate?split=train&file=a.jpg")]
    assert _action({"kind": "preview", "split": "train", "file": "a.jpg"}, shown) == Action(
        "preview", "train", "a.jpg"
    )
    assert _action({"kind": "annotate", "split": "train", "file": "a.jpg"}, shown).kind == "annotate"
    assert _action({"kind": "annotate", "split": "train", "file": "other.jpg"}, shown) is None
    assert _action({"kind": "delete", "split": "train", "file": "a.jpg"}, shown) is None
    assert _action(None, shown) is None and _action("preview", shown) is None


def test_the_preview_rendering_fits_its_size_and_draws_the_boxes(tmp_path: Path):
    import io

    from PIL import Image

    from opsml_image.annotation import Box
    from opsml_image.display import preview

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (4000, 3000), (90, 120, 160)).save(photo, quality=80)
    data = preview(photo, [Box(2000, 1500, 1000, 750, 0)], ["sign"], longest=1024)
    with Image.open(io.BytesIO(data)) as shown:
        assert shown.size == (1024, 768)
        edge = shown.convert("RGB").getpixel((513, 480))  # on the box's left edge (x 2000 -> 512, y 384-576)
        inside = shown.convert("RGB").getpixel((640, 480))
    assert edge != inside and max(abs(a - b) for a, b in zip(inside, (90, 120, 160), strict=True)) < 12
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(small)
    with Image.open(io.BytesIO(preview(small, [], []))) as shown:
        assert shown.size == (64, 48)  # never enlarged
    with pytest.raises(ValueError, match="not found"):
        preview(tmp_path / "gone.jpg", [], [])


def test_an_image_linked_outside_the_folder_is_never_thumbnailed(app_demo: Path, tmp_path: Path):
    target = link_outside(app_demo, tmp_path)
    at = open_app()
    assert not at.exception, at.exception
    warnings = [w.value.replace("\\", "") for w in at.warning]
    assert any("scene_003.jpg" in w and "outside the dataset folder" in w for w in warnings), warnings
    from opsml_image.thumbnails import thumbnail_path

    assert not thumbnail_path(target).exists()  # never read, so never thumbnailed
