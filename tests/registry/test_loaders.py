from __future__ import annotations

from pathlib import Path

import pytest

from opsml_image import ImageDataset
from opsml_image.registry import CardRegistry, DetectionDataset
from opsml_image.registry.loaders import to_hf_dataset

from .conftest import CATEGORIES, make_card


@pytest.fixture
def local_registry(tmp_path: Path):  # type: ignore[no-untyped-def]
    reg = CardRegistry(tracking_uri=f"sqlite:///{tmp_path / 'r.db'}", storage_uri=tmp_path / "storage")
    yield reg
    reg.close()


def test_hf_imagefolder_loads_the_downloaded_folder(
    local_registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    local_registry.register_card(make_card(dataset_dir))
    card = local_registry.load_card(name="street-signs")
    folder = local_registry.download_data(card, tmp_path / "restored").image_dir
    plain = datasets.load_dataset("imagefolder", data_dir=str(folder))
    assert {k: v.num_rows for k, v in plain.items()} == {"train": 3, "validation": 2}
    named = local_registry.to_hf_dataset(card)
    feature = named["train"].features["objects"]["categories"].feature
    assert isinstance(feature, datasets.ClassLabel) and feature.names == CATEGORIES
    row = named["train"][0]
    assert row["objects"]["categories"] == [0, 1] and row["image"].size == (64, 48)
    assert row["caption"] == "train scene 0"


def test_to_hf_dataset_downloads_when_needed(
    local_registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("datasets")
    local_registry.register_card(make_card(dataset_dir))
    card = local_registry.load_card(name="street-signs")
    loaded = local_registry.to_hf_dataset(card, tmp_path / "auto")
    assert (tmp_path / "auto" / "train" / "metadata.jsonl").is_file() and loaded["validation"].num_rows == 2


def test_to_hf_dataset_without_names_keeps_integers(dataset_dir: Path) -> None:
    pytest.importorskip("datasets")
    (dataset_dir / "categories.json").unlink()
    loaded = to_hf_dataset(ImageDataset(image_dir=dataset_dir))
    assert loaded["train"][1]["objects"]["categories"] == [1, 1]


def test_detection_dataset_gives_images_and_xyxy_boxes(dataset_dir: Path) -> None:
    data = DetectionDataset(dataset_dir, split="validation")
    assert len(data) == 2
    image, target = data[1]
    assert image.mode == "RGB" and image.size == (64, 48)
    assert target["boxes"] == [[1.0, 2.0, 11.0, 14.0], [20.0, 5.0, 28.0, 13.0]]
    assert target["labels"] == [1, 1] and target["names"] == ["house", "house"]
    assert target["file_name"] == "validation_001.png" and target["image_id"] == 1
    with pytest.raises(IndexError):
        data[2]


def test_detection_dataset_from_a_card_and_transform(
    local_registry: CardRegistry, dataset_dir: Path, tmp_path: Path
) -> None:
    local_registry.register_card(make_card(dataset_dir))
    card = local_registry.load_card(name="street-signs")
    data = local_registry.detection_dataset(card, "train", path=tmp_path / "dl")
    assert len(data) == 3 and data[2][1]["names"] == ["tree", "house"]
    flipped = DetectionDataset(card.data, "train", transform=lambda im, t: (im.size, len(t["boxes"])))  # type: ignore[arg-type]
    assert flipped[0] == ((64, 48), 2)
