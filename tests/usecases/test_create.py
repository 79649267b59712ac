"""Use case: create a dataset folder from uploads; refusals before anything is written, reasons per file."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from opsml_image.dataset import ImageDataset
from opsml_image.usecases.create import create_dataset
from opsml_image.usecases.workspace import UserError


@dataclass
class Upload:
    name: str
    data: bytes

    def getvalue(self) -> bytes:
        return self.data


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_creates_the_folder_with_classes_and_accepted_images(tmp_path: Path):
    seen: list[tuple[int, int]] = []
    uploads = [Upload("a.png", png()), Upload("../b.png", png((30, 20))), Upload("notes.png", b"hello")]
    created = create_dataset(
        tmp_path / "sets", "birds", uploads, "robin, crow", progress=lambda *p: seen.append(p)
    )
    assert created.path == (tmp_path / "sets" / "birds").resolve()
    assert created.saved == ["a.png", "b.png"]
    assert len(created.refused) == 1 and created.refused[0].startswith("notes.png: not an image")
    assert json.loads((created.path / "categories.json").read_text()) == ["robin", "crow"]
    assert sorted(name for _, name in ImageDataset(image_dir=created.path).image_files()) == [
        "a.png",
        "b.png",
    ]
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("name", "classes", "uploads", "message"),
    [
        ("no spaces", "", 1, "Give the dataset a name"),
        ("../up", "", 1, "Give the dataset a name"),
        ("birds", "robin, robin", 1, "A class is listed twice: robin"),
        ("birds", "", 0, "Choose at least one image"),
    ],
)
def test_refusals_write_nothing(tmp_path: Path, name: str, classes: str, uploads: int, message: str):
    with pytest.raises(UserError, match=message):
        create_dataset(tmp_path / "sets", name, [Upload("a.png", png())] * uploads, classes)
    assert not (tmp_path / "sets").exists()


def test_an_existing_folder_is_never_filled(tmp_path: Path):
    (tmp_path / "birds").mkdir()
    (tmp_path / "birds" / "mine.txt").write_text("keep")
    with pytest.raises(UserError, match="already exists and is not empty"):
        create_dataset(tmp_path, "birds", [Upload("a.png", png())])
    assert sorted(p.name for p in (tmp_path / "birds").iterdir()) == ["mine.txt"]


def test_no_image_accepted_leaves_an_empty_dataset(tmp_path: Path):
    created = create_dataset(tmp_path, "empty", [Upload("x.txt", b"text")])
    assert created.saved == [] and "x.txt" in created.refused[0]
    assert (created.path / "metadata.jsonl").read_bytes() == b""
