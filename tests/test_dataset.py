"""The dataset folder: layouts, splits (same as Hugging Face), merged per-image view, stats."""

from __future__ import annotations

import os

import pytest

from opsml_image import ImageDataset, ImageMetadata, ImageRecord
from opsml_image.annotation import Box
from opsml_image.jsonl import write_objects


def split_folder(root, make_image):
    make_image(root / "train" / "a.png", size=(100, 80))
    make_image(root / "train" / "sub" / "b.png", size=(100, 80))
    make_image(root / "val" / "c.png", size=(60, 60))
    write_objects(
        root / "train" / "metadata.jsonl",
        [
            {
                "file_name": "a.png",
                "caption": "two cats",
                "objects": {"bbox": [[1, 2, 30, 40]], "categories": [0]},
            },
            {
                "file_name": "sub/b.png",
                "caption": "a dog",
                "objects": {"bbox": [[5, 5, 5, 5]], "categories": [1]},
            },
            {
                "file_name": "a.png",
                "categories": [0],
                "objects": {"bbox": [[50, 2, 30, 40]], "categories": [0]},
            },
        ],
    )
    write_objects(
        root / "val" / "metadata.jsonl",
        [
            {
                "file_name": "c.png",
                "caption": "one",
                "categories": [1],
                "objects": {"bbox": [[0, 0, 9, 9]], "categories": [1]},
            }
        ],
    )
    (root / "categories.json").write_text('["cat", "dog"]')
    return ImageDataset(image_dir=root)


def test_split_folders_are_recognised_with_hf_names(tmp_path, make_image):
    dataset = split_folder(tmp_path, make_image)
    assert list(dataset.splits) == ["train", "validation"]
    assert dataset.splits["validation"].directory == tmp_path / "val"
    assert sorted(dataset.image_files()) == [
        ("train", "a.png"),
        ("train", "sub/b.png"),
        ("validation", "c.png"),
    ]
    assert dataset.category_names() == ["cat", "dog"]
    assert dataset.validate().ok


def test_merged_view_folds_several_records_of_one_image(tmp_path, make_image):
    dataset = split_folder(tmp_path, make_image)
    views = dataset.annotations()
    a = views[("train", "a.png")]
    assert a.caption == "two cats" and a.categories == [0] and a.lines == (1, 3)
    assert a.boxes == [Box(1, 2, 30, 40, 0), Box(50, 2, 30, 40, 0)]
    assert a.to_record() == {
        "file_name": "a.png",
        "caption": "two cats",
        "categories": [0],
        "objects": {"bbox": [[1, 2, 30, 40], [50, 2, 30, 40]], "categories": [0, 0]},
    }
    assert not views[("train", "sub/b.png")].categories


def test_stats_count_images_once(tmp_path, make_image):
    stats = split_folder(tmp_path, make_image).stats()
    assert (stats.records, stats.images, stats.annotated_images, stats.boxes) == (4, 3, 3, 4)
    assert stats.category_counts == {0: 2, 1: 2}
    assert stats.splits == {"train": 2, "validation": 1}


def test_in_memory_metadata_is_validated_and_written(tmp_path, make_image):
    make_image(tmp_path / "a.png", size=(20, 20))
    dataset = ImageDataset(
        image_dir=tmp_path, metadata=ImageMetadata(records=[ImageRecord(file_name="a.png")])
    )
    assert dataset.validate().ok
    path = dataset.write_metadata()
    assert path.read_text() == '{"file_name":"a.png"}\n'


def test_create_makes_an_empty_dataset(tmp_path):
    dataset = ImageDataset.create(tmp_path / "new")
    assert (tmp_path / "new" / "metadata.jsonl").read_text() == ""
    assert dataset.validate().ok and dataset.stats().records == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_dir": "does-not-exist"}, "is not a folder"),
        ({"image_dir": "."}, "no metadata.jsonl"),
    ],
)
def test_opening_a_wrong_folder_says_why(tmp_path, monkeypatch, kwargs, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=message):
        ImageDataset(**kwargs)


def test_metadata_must_live_in_the_image_dir(tmp_path, make_image):
    (tmp_path / "images").mkdir()
    (tmp_path / "elsewhere.jsonl").write_text("")
    with pytest.raises(ValueError, match="must be a file name inside"):
        ImageDataset(image_dir=tmp_path / "images", metadata=str(tmp_path / "elsewhere.jsonl"))


def test_hugging_face_loads_the_same_splits_and_rows(tmp_path, make_image, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    root = tmp_path / "data"
    dataset = split_folder(root, make_image)
    ours = {
        split: sorted(
            (r.record["file_name"], r.record.get("objects", {}).get("bbox"))
            for r in dataset.iter_records(split)
        )
        for split in dataset.splits
    }
    hf = datasets.load_dataset("imagefolder", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    assert set(hf) == set(ours)
    for split, rows in ours.items():
        got = sorted(
            (os.path.relpath(row["image"].filename, dataset.splits[split].directory), row["objects"]["bbox"])
            for row in hf[split]
        )
        assert got == rows


def test_a_folder_swapped_for_a_link_is_not_followed(tmp_path, make_image):
    from opsml_image.dataset import FolderMoved, holds_dataset

    root = tmp_path / "data"
    dataset = split_folder(root, make_image)
    outside = tmp_path / "outside"
    split_folder(outside, make_image)
    names = (outside / "categories.json").read_bytes()
    assert dataset.image_path("train", "a.png") == root / "train" / "a.png"
    root.rename(tmp_path / "data.old")
    root.symlink_to(outside, target_is_directory=True)
    with pytest.raises(FolderMoved, match="moved, removed or replaced since it was opened"):
        dataset.image_path("train", "a.png")
    with pytest.raises(FolderMoved):
        dataset.set_category_names(["cat"])
    assert (outside / "categories.json").read_bytes() == names
    root.unlink()
    (tmp_path / "data.old").rename(root)
    dataset.check_in_place()  # back where it was
    assert holds_dataset(root) and not holds_dataset(tmp_path) and not holds_dataset(tmp_path / "missing")
