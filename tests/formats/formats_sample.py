"""Small datasets for the VOC, CVAT, Label Studio and Hugging Face format tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from conftest import write_image
from opsml_image import ImageDataset
from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.formats.base import write_folder

SIZE = (64, 48)


def make_dataset(
    root: Path,
    splits: Mapping[str, Sequence[ImageAnnotation]],
    names: Sequence[str],
    size: tuple[int, int] = SIZE,
) -> ImageDataset:
    """A dataset folder at ``root`` whose images are real ``size`` images (written into a scratch folder)."""
    scratch = root.parent / f"{root.name}-images"
    images = {}
    for split, members in splits.items():
        for annotation in members:
            path = scratch / split / annotation.file_name
            write_image(path, size=size)
            images[(split, annotation.file_name)] = path
    write_folder(root, splits, names, images)
    return ImageDataset(image_dir=root)


def two_split_dataset(root: Path) -> ImageDataset:
    """train: a.png (2 boxes, caption), sub/b.png (1 box), e.png (none); validation: c.png (1 box).

    Every split has a box: Hugging Face refuses splits whose first records infer different features.
    """
    return make_dataset(
        root,
        {
            "train": [
                ImageAnnotation(
                    "a.png",
                    caption="two animals",
                    boxes=[Box(0, 0, 10, 10, 0), Box(20.5, 8.25, 43.5, 39.75, 1)],
                ),
                ImageAnnotation("sub/b.png", boxes=[Box(1, 2, 3, 4, 1)]),
                ImageAnnotation("e.png"),
            ],
            "validation": [ImageAnnotation("c.png", split="validation", boxes=[Box(5, 5, 5, 5, 0)])],
        },
        ["cat", "dog"],
    )


def view(dataset: ImageDataset) -> dict[tuple[str, str], list[tuple[list[float], str]]]:
    """Each image's boxes with class names, to compare datasets whose ids or extras differ."""
    names = dataset.category_names()
    return {
        key: [(b.as_bbox(), names[b.category]) for b in annotation.boxes]
        for key, annotation in dataset.annotations().items()
    }
