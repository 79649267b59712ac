"""AppTest of the Import / Export page: a COCO zip imported and opened, refusals shown as text, skipped items
in a table, an export prepared with its report and a download button, a full disk during an export shown
as the page's own message."""

from __future__ import annotations

import errno
import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from conftest import open_app, sidebar_counts
from opsml_image import ImageDataset

PAGE = "pages/transfer.py"


def png(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def coco_zip(names: list[str], present: list[str]) -> bytes:
    coco = {
        "images": [{"id": i + 1, "file_name": n, "width": 64, "height": 48} for i, n in enumerate(names)],
        "annotations": [
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1,
                "bbox": [1, 2, 30, 20],
                "area": 600,
                "iscrowd": 0,
            }
            for i in range(len(names))
        ],
        "categories": [{"id": 1, "name": "robin"}],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("birds/annotations.json", json.dumps(coco))
        for name in present:
            archive.writestr(f"birds/images/{name}", png())
    return buffer.getvalue()


def start_import(at, tmp_path: Path, name: str, upload: tuple[str, bytes]) -> None:
    at.text_input(key="transfer_import_name").input(name)
    at.text_input(key="transfer_import_parent").input(str(tmp_path / "sets"))
    at.file_uploader(key="transfer_import_files").set_value([(upload[0], upload[1], "application/zip")])


def test_import_a_coco_zip_and_open_it(app_demo: Path, tmp_path: Path) -> None:
    at = open_app(PAGE)
    assert [t.label for t in at.tabs] == ["Import", "Export"]
    assert not at.error and not at.sidebar.error
    assert at.selectbox(key="transfer_import_format").value == "coco"
    assert "Roboflow" in at.caption[0].value
    start_import(at, tmp_path, "birds", ("birds.zip", coco_zip(["a.png", "b.png"], ["a.png", "b.png"])))
    at.button(key="FormSubmitter:transfer_import-Import").click().run()
    assert not at.exception, at.exception
    folder = tmp_path / "sets" / "birds"
    assert "Imported into" in at.success[0].value
    assert at.text[0].value == "Imported 2 images and 2 boxes."
    assert ImageDataset(image_dir=folder).category_names() == ["robin"]
    at.button(key="transfer_import_open").click().run()
    assert not at.exception, at.exception
    assert at.sidebar.text[0].value == "birds"
    assert sidebar_counts(at) == (2, 1)


def test_a_missing_image_stops_then_is_skipped_and_listed(app_demo: Path, tmp_path: Path) -> None:
    at = open_app(PAGE)
    start_import(at, tmp_path, "birds", ("birds.zip", coco_zip(["a.png", "gone.png"], ["a.png"])))
    at.button(key="FormSubmitter:transfer_import-Import").click().run()
    assert not at.exception, at.exception
    message = at.error[0].value
    assert "The import stopped" in message and "gone.png" in message and "birds.zip/birds" in message
    assert ".tmp" not in message
    assert not (tmp_path / "sets" / "birds").exists()
    at.checkbox(key="transfer_import_skip").check()
    at.button(key="FormSubmitter:transfer_import-Import").click().run()
    assert not at.exception, at.exception
    assert at.text[0].value == "Imported 1 images and 1 boxes, 1 skipped."
    table = at.dataframe[0].value
    assert list(table.columns) == ["item", "reason"] and "gone.png" in table["item"][0]


def test_a_zip_slip_is_refused_naming_the_entry(app_demo: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("annotations.json", "{}")
        archive.writestr("../../escape.png", png())
    at = open_app(PAGE)
    start_import(at, tmp_path, "evil", ("evil.zip", buffer.getvalue()))
    at.button(key="FormSubmitter:transfer_import-Import").click().run()
    assert not at.exception, at.exception
    assert "evil.zip\\: ../../escape.png\\: " in at.error[0].value.replace("\\.", ".")
    assert not (tmp_path / "sets").exists() or list((tmp_path / "sets").iterdir()) == []


def test_yolo_needs_a_zip(app_demo: Path, tmp_path: Path) -> None:
    at = open_app(PAGE)
    at.selectbox(key="transfer_import_format").set_value("yolo").run()
    assert "data.yaml" in at.caption[0].value
    start_import(at, tmp_path, "y", ("data.yaml", b"names: [a]"))
    at.button(key="FormSubmitter:transfer_import-Import").click().run()
    assert not at.exception, at.exception
    assert "imported from a zip" in at.error[0].value


def test_export_a_split_as_yolo(app_demo: Path) -> None:
    at = open_app(PAGE)
    splits = list(ImageDataset(image_dir=app_demo).splits)
    at.selectbox(key="transfer_export_format").set_value("yolo").run()
    at.selectbox(key=f"transfer_export_split:{app_demo}").set_value(splits[0]).run()
    assert not at.checkbox(key="transfer_export_skip").value
    at.button(key="transfer_export_go").click().run()
    assert not at.exception, at.exception
    assert any(t.value.startswith("Exported ") for t in at.text)
    assert not at.error and not at.sidebar.error  # no key shared with the sidebar's export
    buttons = at.get("download_button")
    assert len(buttons) == 1 and f"{app_demo.name}-{splits[0]}-yolo.zip" in buttons[0].proto.label
    at.selectbox(key="transfer_export_format").set_value("voc").run()
    assert at.get("download_button") == []  # another choice: the old download is not offered


def test_export_coco_json_only(app_demo: Path) -> None:
    at = open_app(PAGE)
    splits = list(ImageDataset(image_dir=app_demo).splits)
    at.selectbox(key=f"transfer_export_split:{app_demo}").set_value(splits[0]).run()
    layout = at.selectbox(key="transfer_export_option:coco:layout")
    assert layout.value == "roboflow"  # a download offers the images by default
    layout.set_value("json").run()
    at.button(key="transfer_export_go").click().run()
    assert not at.exception, at.exception
    assert f"{app_demo.name}-{splits[0]}-coco.json" in at.get("download_button")[0].proto.label


def test_an_export_over_the_download_limit_stays_on_the_server(
    app_demo: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSML_IMAGE_MAX_DOWNLOAD_BYTES", "100")
    at = open_app(PAGE)
    at.selectbox(key="transfer_export_format").set_value("yolo").run()
    at.button(key="transfer_export_go").click().run()
    assert not at.exception, at.exception
    assert at.get("download_button") == []
    message = next(i.value for i in at.info if "more than a browser download may be" in i.value)
    kept = next((app_home / "exports").glob("export-*/*.zip"))
    assert kept.relative_to(app_home).as_posix() in message.replace("\\", "")
    assert str(app_home) not in message  # no absolute server path
    at.button(key="transfer_export_go").click().run()  # again: the first file is replaced, not kept
    assert len(list((app_home / "exports").glob("export-*/*.zip"))) == 1


def test_a_full_disk_during_an_export_is_a_message_without_server_paths(
    app_demo: Path, app_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_app(PAGE)
    at.selectbox(key="transfer_export_format").set_value("yolo").run()

    def full(self: zipfile.ZipFile, filename: str, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(filename))

    monkeypatch.setattr(zipfile.ZipFile, "write", full)
    at.button(key="transfer_export_go").click().run()
    assert not at.exception, at.exception
    message = at.error[0].value.replace("\\", "")
    assert message.startswith("The export stopped: No space left on device (exports/export-")
    assert "in the app's home); nothing was kept. Free some space on the server and try again." in message
    assert str(app_home) not in message and str(app_demo) not in message
    assert at.get("download_button") == []
    assert list((app_home / "exports").rglob("*")) == []  # no half-written zip, no export folder


def test_the_options_of_a_format_are_widgets_made_from_the_registry(app_demo: Path) -> None:
    """A choice among a format's options is a select box (Hugging Face's bbox format on import, COCO's layout
    on export); an option naming a path (COCO's --images) is for the command line only."""
    pytest.importorskip("datasets")
    at = open_app(PAGE)
    assert [s.key for s in at.selectbox if (s.key or "").startswith("transfer_") and ":" in s.key] == [
        f"transfer_export_split:{app_demo}",
        "transfer_export_option:coco:layout",
    ]
    at.selectbox(key="transfer_import_format").set_value("hf").run()
    boxes = at.selectbox(key="transfer_import_option:hf:bbox_format")
    assert (boxes.label, boxes.value) == ("Boxes in objects.bbox", "xywh")
    assert boxes.options == ["x, y, width, height (COCO)", "x0, y0, x1, y1 (corners)", "centre x, centre y, width, height"]
