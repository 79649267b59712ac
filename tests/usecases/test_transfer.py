"""Use case: import an upload (zip or loose files) in every format into a new folder; export as a download."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.formats.base import FormatError, write_folder
from opsml_image.formats.coco import CocoOptions
from opsml_image.usecases import Invalid, NotFound, Refused
from opsml_image.usecases import transfer as uc
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace

SIZE = (64, 48)


@dataclass
class Up:
    """An upload as the browser sends it."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def make_dataset(root: Path) -> Path:
    """train: a.png (2 boxes, caption), sub/b.png (1 box); validation: c.png (1 box); classes cat, dog."""
    splits = {
        "train": [
            ImageAnnotation(
                "a.png", caption="two", boxes=[Box(0, 0, 10, 10, 0), Box(20.5, 8.25, 43.5, 39.75, 1)]
            ),
            ImageAnnotation("sub/b.png", boxes=[Box(1, 2, 3, 4, 1)]),
        ],
        "validation": [ImageAnnotation("c.png", split="validation", boxes=[Box(5, 5, 5, 5, 0)])],
    }
    images = {}
    for split, members in splits.items():
        for annotation in members:
            images[(split, annotation.file_name)] = write_image(
                root.parent / "src-images" / split / annotation.file_name, size=SIZE
            )
    write_folder(root, splits, ["cat", "dog"], images)
    return root


def view(folder: Path) -> dict[tuple[str, str], list[tuple[list[float], str]]]:
    dataset = ImageDataset(image_dir=folder)
    names = dataset.category_names()
    return {
        key: sorted((b.as_bbox(), names[b.category]) for b in annotation.boxes)
        for key, annotation in dataset.annotations().items()
    }


def close(a: dict, b: dict, tol: float = 1e-4) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        if [n for _, n in a[key]] != [n for _, n in b[key]]:
            return False
        for (x, _), (y, _) in zip(a[key], b[key], strict=True):
            if any(abs(p - q) > tol for p, q in zip(x, y, strict=True)):
                return False
    return True


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png() -> bytes:
    buffer = io.BytesIO()
    from PIL import Image

    Image.new("RGB", SIZE, (1, 2, 3)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    workspace = open_workspace(make_dataset(tmp_path / "data"), flush_delay=0.05)
    yield workspace
    workspace.close()


@pytest.mark.parametrize("fmt", [s.key for s in uc.available_formats()])
def test_round_trip_through_a_zip(ws: Workspace, tmp_path: Path, fmt: str) -> None:
    steps: list[float] = []
    download = uc.export_download(ws, fmt, progress=lambda f, text: steps.append(f))
    assert download.file_name == f"data-all-{fmt}.zip" and download.mime == "application/zip"
    assert (download.report.images, download.report.boxes) == (3, 4)
    assert steps[-1] == 1.0 and steps == sorted(steps)
    report = uc.import_upload(tmp_path / "root", "back", fmt, [Up(download.file_name, download.data)])
    assert report.path == (tmp_path / "root" / "back").resolve()
    assert (report.images, report.boxes) == (3, 4)
    assert close(view(report.path), view(ws.path)), (view(report.path), view(ws.path))
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["back"], "no scratch folder left"


def test_a_split_as_yolo(ws: Workspace) -> None:
    download = uc.export_download(ws, "yolo", "train")
    assert download.file_name == "data-train-yolo.zip"
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        names = set(archive.namelist())
        config = yaml.safe_load(archive.read("data.yaml"))
    assert {"images/train/a.png", "labels/train/a.txt", "images/train/sub/b.png"} <= names
    assert not any("c.png" in n for n in names)
    assert config["names"] in (["cat", "dog"], {0: "cat", 1: "dog"})
    assert any("caption" in w for w in download.report.warnings)


def test_coco_json_only_and_edits_flushed_first(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[bool] = []
    real = ws.store.flush
    monkeypatch.setattr(ws.store, "flush", lambda: flushed.append(True) or real())
    download = uc.export_download(ws, "coco", "validation", options=CocoOptions(layout="json"))
    assert flushed == [True]
    assert (download.file_name, download.mime) == ("data-validation-coco.json", "application/json")
    data = json.loads(download.data)
    assert [i["file_name"] for i in data["images"]] == ["c.png"]
    assert [c["id"] for c in data["categories"]] == [1, 2]  # never 0 (datumaro reads 0 as background)
    every = uc.export_download(ws, "coco", options=CocoOptions(layout="json"))
    with zipfile.ZipFile(io.BytesIO(every.data)) as archive:
        assert sorted(archive.namelist()) == ["train.json", "validation.json"]


def test_coco_with_images_is_roboflow_layout(ws: Workspace) -> None:
    download = uc.export_download(ws, "coco", "train")
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert sorted(archive.namelist()) == [
            "train/_annotations.coco.json",
            "train/a.png",
            "train/sub/b.png",
        ]


def test_a_missing_image_stops_the_coco_export_or_is_skipped(ws: Workspace) -> None:
    (ws.path / "train" / "a.png").unlink()
    with pytest.raises(FormatError, match=r"a\.png: image not found"):
        uc.export_download(ws, "coco", "train")
    download = uc.export_download(ws, "coco", "train", skip_invalid=True)
    assert [s.item for s in download.report.skipped] == ["a.png"]
    assert "image not found" in download.report.skipped[0].reason
    assert (download.report.images, download.report.boxes) == (1, 1)
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        data = json.loads(archive.read("train/_annotations.coco.json"))
    assert [i["file_name"] for i in data["images"]] == ["sub/b.png"] and len(data["annotations"]) == 1


def test_export_refusals(ws: Workspace) -> None:
    with pytest.raises(NotFound, match="No split 'test'"):
        uc.export_download(ws, "yolo", "test")
    with pytest.raises(NotFound, match="Unknown format"):
        uc.export_download(ws, "pdf")
    with pytest.raises(Refused, match="log in to export"):
        uc.export_download(ws, "yolo", user=None)


def coco_file(file_names: list[str], boxes: list[tuple[int, list[float]]]) -> bytes:
    return json.dumps(
        {
            "images": [
                {"id": i + 1, "file_name": n, "width": 64, "height": 48} for i, n in enumerate(file_names)
            ],
            "annotations": [
                {"id": k + 1, "image_id": image, "category_id": 3, "bbox": bbox, "area": 1.0, "iscrowd": 0}
                for k, (image, bbox) in enumerate(boxes)
            ],
            "categories": [{"id": 3, "name": "robin"}],
        }
    ).encode()


def test_loose_coco_files(tmp_path: Path) -> None:
    uploads = [
        Up("labels.json", coco_file(["x.png", "y.png"], [(1, [1, 2, 3, 4])])),
        Up("x.png", png()),
        Up("y.png", png()),
    ]
    steps: list[str] = []
    report = uc.import_upload(
        tmp_path / "root", "birds", "coco", uploads, progress=lambda f, t: steps.append(t)
    )
    assert (report.images, report.boxes) == (2, 1)
    assert view(report.path) == {
        ("train", "x.png"): [([1.0, 2.0, 3.0, 4.0], "robin")],
        ("train", "y.png"): [],
    }
    assert steps[0].startswith("Saving") and steps[-1] == "Imported"


def test_a_missing_image_is_named_with_the_upload_not_the_scratch_folder(tmp_path: Path) -> None:
    data = zip_of(
        {"ds/labels.json": coco_file(["x.png", "gone.png"], [(2, [1, 1, 2, 2])]), "ds/x.png": png()}
    )
    with pytest.raises(FormatError) as caught:
        uc.import_upload(tmp_path / "root", "birds", "coco", [Up("my.zip", data)])
    message = str(caught.value)
    assert "gone.png" in message and "with 1 boxes" in message and "not found in my.zip/ds" in message
    assert ".tmp" not in message and str(tmp_path) not in message
    assert list((tmp_path / "root").iterdir()) == []
    report = uc.import_upload(tmp_path / "root", "birds", "coco", [Up("my.zip", data)], skip_invalid=True)
    assert (report.images, report.boxes) == (1, 0)
    assert len(report.skipped) == 1 and "gone.png" in report.skipped[0].item
    assert "my.zip/ds" in report.skipped[0].reason and ".tmp" not in report.skipped[0].reason


def test_a_malicious_zip_is_refused_naming_the_entry(tmp_path: Path) -> None:
    data = zip_of({"labels.json": coco_file([], []), "../../evil.png": png()})
    with pytest.raises(UserError, match=r"evil\.zip: \.\./\.\./evil\.png: .*zip slip"):
        uc.import_upload(tmp_path / "root", "birds", "coco", [Up("evil.zip", data)])
    assert list((tmp_path / "root").iterdir()) == [] and not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize(
    ("name", "fmt", "uploads", "message"),
    [
        ("no spaces", "coco", [Up("a.json", b"{}")], "Give the dataset a name"),
        ("ok", "coco", [], "Choose the files"),
        ("ok", "coco", [Up("a.zip", b""), Up("b.png", b"")], "one zip by itself"),
        ("ok", "yolo", [Up("data.yaml", b"")], "imported from a zip"),
        ("ok", "coco", [Up("notes.exe", b"")], "not an image nor an annotation file"),
        ("ok", "coco", [Up("a.json", b"{}"), Up("A.JSON", b"{}")], "uploaded twice"),
        ("ok", "coco", [Up(".hidden.json", b"{}")], "not a plain file name"),
        ("ok", "coco", [Up("x.png", png())], "No COCO JSON file"),
        ("ok", "yolo", [Up("y.zip", zip_of({"readme.txt": b"hi"}))], "No data.yaml"),
        ("ok", "voc", [Up("v.zip", zip_of({"readme.txt": b"hi"}))], "No Annotations/ folder"),
        ("ok", "cvat", [Up("x.png", png())], "No annotations.xml"),
        ("ok", "labelstudio", [Up("a.json", b"[]"), Up("b.json", b"[]")], "Several JSON files"),
        ("ok", "coco", [Up("bad.zip", b"not a zip")], "not a readable zip file"),
    ],
)
def test_import_refusals_leave_nothing(
    tmp_path: Path, name: str, fmt: str, uploads: list[Up], message: str
) -> None:
    root = tmp_path / "root"
    with pytest.raises(UserError, match=message):
        uc.import_upload(root, name, fmt, uploads)
    assert not root.exists() or list(root.iterdir()) == []


def test_an_existing_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root" / "taken").mkdir(parents=True)
    (tmp_path / "root" / "taken" / "mine.txt").write_text("keep")
    with pytest.raises(UserError, match="already exists and is not empty"):
        uc.import_upload(tmp_path / "root", "taken", "coco", [Up("a.json", b"{}")])
    assert [p.name for p in (tmp_path / "root").iterdir()] == ["taken"]


def test_a_results_file_is_refused_clearly(tmp_path: Path) -> None:
    results = json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "score": 0.9}]).encode()
    with pytest.raises(FormatError, match="results file") as caught:
        uc.import_upload(tmp_path / "root", "r", "coco", [Up("preds.json", results)])
    assert str(caught.value).startswith("The import stopped: upload/preds.json: ")
    assert isinstance(caught.value, Invalid) and caught.value.source == "upload/preds.json"


def test_mac_debris_is_a_warning(tmp_path: Path) -> None:
    data = zip_of(
        {
            "labels.json": coco_file(["x.png"], []),
            "x.png": png(),
            "__MACOSX/._x.png": b"junk",
            ".DS_Store": b"j",
        }
    )
    report = uc.import_upload(tmp_path / "root", "r", "coco", [Up("mac.zip", data)])
    assert report.images == 1 and any("2 system files" in w for w in report.warnings)


def test_a_link_leading_out_of_the_dataset_is_not_exported(ws: Workspace, tmp_path: Path) -> None:
    secret = write_image(tmp_path / "secret.png", size=SIZE)
    (ws.path / "train" / "a.png").unlink()
    (ws.path / "train" / "a.png").symlink_to(secret)
    with pytest.raises(FormatError, match=r"a\.png is a link to a place outside the dataset folder"):
        uc.export_download(ws, "coco", "train")
    download = uc.export_download(ws, "coco", "train", skip_invalid=True)
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        assert "train/a.png" not in archive.namelist()
    assert [s.item for s in download.report.skipped] == ["a.png"]


@pytest.mark.parametrize("fmt", ["yolo", "voc", "cvat", "labelstudio"])
def test_no_format_exports_a_link_leading_out(ws: Workspace, tmp_path: Path, fmt: str) -> None:
    secret = write_image(tmp_path / "secret.png", size=SIZE)
    (ws.path / "train" / "sub" / "b.png").unlink()
    (ws.path / "train" / "sub" / "b.png").symlink_to(secret)
    with pytest.raises(FormatError, match=r"sub/b\.png: .*outside the dataset folder.*remove the link"):
        uc.export_download(ws, fmt, skip_invalid=True)
    assert uc.export_download(ws, fmt, "validation").report.images == 1  # the other split is fine


@pytest.mark.parametrize(("fmt", "annotations"), [("cvat", "annotations.xml"), ("labelstudio", "tasks.json")])
def test_loose_annotation_file_and_images(ws: Workspace, tmp_path: Path, fmt: str, annotations: str) -> None:
    download = uc.export_download(ws, fmt, "validation")
    with zipfile.ZipFile(io.BytesIO(download.data)) as archive:
        loose = [Up(Path(n).name, archive.read(n)) for n in archive.namelist() if not n.endswith("/")]
    assert annotations in [u.name for u in loose]
    report = uc.import_upload(tmp_path / "root", "loose", fmt, loose)
    assert (report.images, report.boxes) == (1, 1)
    assert list(view(report.path).values()) == [[([5.0, 5.0, 5.0, 5.0], "cat")]]


def test_a_root_that_cannot_be_written(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(UserError, match="cannot be written"):
        uc.import_upload(tmp_path / "file", "x", "coco", [Up("a.json", b"{}")])


def test_an_export_is_a_file_under_the_home_and_a_failed_one_leaves_nothing(ws: Workspace, tmp_path: Path):
    exports = tmp_path / "home" / "exports"
    stale = exports / "export-old"
    stale.mkdir(parents=True)
    os.utime(stale, (time.time() - uc.EXPORT_TTL - 60,) * 2)
    download = uc.export_download(ws, "yolo", "train")
    assert download.path.parent.parent == exports and download.path.name == download.file_name
    assert download.size == download.path.stat().st_size and zipfile.is_zipfile(download.path)
    assert not stale.exists()  # an export older than a day goes when the next one starts
    assert [p.name for p in download.path.parent.iterdir()] == [download.file_name]  # no work files left
    download.discard()
    assert list(exports.iterdir()) == []
    (ws.path / "train" / "a.png").unlink()
    with pytest.raises(FormatError, match=r"a\.png: image not found"):
        uc.export_download(ws, "coco", "train")
    assert list(exports.iterdir()) == []  # a failed export leaves nothing behind


def test_the_largest_browser_download_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert uc.max_download_bytes() == 2 << 30
    monkeypatch.setenv("OPSML_IMAGE_MAX_DOWNLOAD_BYTES", "1000")
    assert uc.max_download_bytes() == 1000


def test_an_export_over_the_limit_says_where_it_is_kept(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size policy and the storage layout are the use case's: the page shows the note as it is."""
    download = uc.export_download(ws, "yolo", "train")
    assert download.note is None  # offered as a browser download
    monkeypatch.setenv("OPSML_IMAGE_MAX_DOWNLOAD_BYTES", str(download.size - 1))
    kept = download.path.relative_to(download.path.parents[2]).as_posix()
    assert kept.startswith("exports/export-") and download.kept_as == kept
    assert download.note is not None and f"as {kept} in the app's home" in download.note
    assert f"{download.size:,} bytes" in download.note and str(ws.path) not in download.note


def test_an_upload_in_another_format_is_named(tmp_path: Path, ws: Workspace) -> None:
    """The format chosen does not find its files; the registered format the upload looks like is named."""
    download = uc.export_download(ws, "voc", "validation")
    with pytest.raises(UserError, match=r"No data.yaml in the zip .* It looks like Pascal VOC XML: choose that"):
        uc.import_upload(tmp_path / "root", "x", "yolo", [Up(download.file_name, download.data)])
    with pytest.raises(UserError, match=r"No data.yaml in the zip \([^)]*\)\.$"):
        uc.import_upload(tmp_path / "root", "x", "yolo", [Up("y.zip", zip_of({"readme.txt": b"hi"}))])


def test_options_from_the_page_name_no_path_on_the_server(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="'images' names a path on the server"):
        uc.import_upload(
            tmp_path / "root", "x", "coco", [Up("a.json", b"{}")], options=CocoOptions(images=Path("/etc"))
        )
    assert not (tmp_path / "root").exists()


def test_loose_files_are_the_format_s_own_kinds(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"a.xml: not an image nor an annotation file \(.json\)"):
        uc.import_upload(tmp_path / "root", "x", "coco", [Up("a.xml", b"<x/>")])
