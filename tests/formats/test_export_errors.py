"""Issue 16 item 13 (export part): a file system error while an export is written (a full disk, a
permission) comes back as a :class:`UserError` naming files relative to the app's home or the dataset
folder, never by their server path, and no part of the export (no half-written zip) is left behind."""

from __future__ import annotations

import errno
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from formats_sample import two_split_dataset

from opsml_image.formats import coco, yolo
from opsml_image.usecases import transfer as uc
from opsml_image.usecases.workspace import UserError, Workspace, open_workspace


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("OPSML_IMAGE_HOME", str(tmp_path / "home"))
    workspace = open_workspace(two_split_dataset(tmp_path / "data").image_dir, flush_delay=0.05)
    yield workspace
    workspace.close()


def left(tmp_path: Path) -> list[Path]:
    """What the exports folder holds (an export's folder, a zip, a JSON file...)."""
    return sorted((tmp_path / "home" / "exports").rglob("*"))


def refused(ws: Workspace, tmp_path: Path, fmt: str, **options: Any) -> str:
    """The message of the UserError the export raises; it names no absolute path and leaves nothing."""
    with pytest.raises(UserError) as error:
        uc.export_download(ws, fmt, **options)
    message = str(error.value)
    assert str(tmp_path) not in message and "/tmp" not in message, message
    assert left(tmp_path) == []
    return message


def test_a_full_disk_while_zipping_leaves_no_half_written_zip(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = zipfile.ZipFile.write
    calls: list[str] = []

    def fill_up(self: zipfile.ZipFile, filename: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(str(filename))
        if len(calls) > 1:  # the zip is on disk, one entry written
            assert list((tmp_path / "home" / "exports").glob("export-*/*.zip"))
            raise OSError(errno.ENOSPC, "No space left on device", str(filename))
        original(self, filename, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "write", fill_up)
    message = refused(ws, tmp_path, "yolo")
    assert message.startswith("The export stopped: No space left on device (exports/export-")
    assert "in the app's home); nothing was kept. Free some space on the server and try again." in message


def test_a_full_disk_writing_the_coco_json_leaves_nothing(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path, data: bytes) -> None:
        Path(path).write_bytes(data[:10])  # half written, as a full disk leaves it
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(coco, "atomic_write_bytes", full)
    message = refused(ws, tmp_path, "coco", split="train", options=coco.CocoOptions(layout="json"))
    assert "No space left on device" in message and "-train-coco.json in the app's home" in message


def test_an_unreadable_image_is_named_in_the_dataset_folder(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(source: Path, target: Path) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(source))

    monkeypatch.setattr(yolo, "place_file", denied)
    message = refused(ws, tmp_path, "yolo")
    assert message == "The export stopped: Permission denied (data/train/a.png); nothing was kept."


def test_a_home_that_cannot_be_written(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(**kwargs: Any) -> str:
        raise PermissionError(errno.EACCES, "Permission denied", str(kwargs["dir"]))

    monkeypatch.setattr(uc.tempfile, "mkdtemp", denied)
    message = refused(ws, tmp_path, "voc")
    assert message == "The export stopped: Permission denied (exports in the app's home); nothing was kept."
