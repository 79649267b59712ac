"""YOLO (Ultralytics) layout ⇄ ``ImageDataset`` folder.

YOLO keeps one text file a image, ``labels/<split>/<stem>.txt``, beside ``images/<split>/``. Each line reads
``class cx cy w h``, with the box centre and size normalised to ``[0, 1]`` by the image size. ``data.yaml``
names the splits and the classes. Converting a box needs the image's size, which is read from the header.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.atomic import atomic_write_bytes
from opsml_image.categories import write_names
from opsml_image.dataset import ImageDataset
from opsml_image.images import ImageInfo, is_image_file, probe
from opsml_image.jsonl import write_objects

__all__ = ["to_line", "from_line", "export", "import_folder"]

_YOLO_SPLITS = {"train": "train", "validation": "val", "test": "test"}


def to_line(box: Box, width: int, height: int) -> str:
    """One label line ``class cx cy w h`` (normalised, 6 decimals)."""
    cx, cy = (box.x + box.w / 2) / width, (box.y + box.h / 2) / height
    return f"{box.category} {cx:.6f} {cy:.6f} {box.w / width:.6f} {box.h / height:.6f}"


def from_line(line: str, width: int, height: int) -> Box:
    """A box in pixels from one label line; a ValueError names what is wrong."""
    parts = line.split()
    if len(parts) != 5:
        raise ValueError(f"expected 'class cx cy w h', got {line!r}")
    category, (cx, cy, w, h) = int(parts[0]), (float(p) for p in parts[1:])
    return Box((cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height, category).rounded(3)


def export(dataset: ImageDataset, dest: str | Path, link: bool = True) -> Path:
    """Write the dataset in YOLO layout under ``dest`` (images hard-linked when possible, else copied)."""
    root = Path(dest)
    splits: dict[str, str] = {}
    for name, part in dataset.splits.items():
        yolo_split = _YOLO_SPLITS[name]
        splits[yolo_split] = f"images/{yolo_split}"
        for (_, file_name), view in dataset.annotations(name).items():
            info = probe(part.directory / file_name)
            if not isinstance(info, ImageInfo):
                continue
            image = root / "images" / yolo_split / file_name
            image.parent.mkdir(parents=True, exist_ok=True)
            _place(part.directory / file_name, image, link)
            lines = [to_line(box, info.width, info.height) for box in view.boxes]
            label = (root / "labels" / yolo_split / file_name).with_suffix(".txt")
            atomic_write_bytes(label, "".join(f"{line}\n" for line in lines).encode())
    config = {"path": ".", **splits, "names": dict(enumerate(dataset.category_names()))}
    atomic_write_bytes(
        root / "data.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()
    )
    return root


def import_folder(source: str | Path, dest: str | Path, link: bool = True) -> ImageDataset:
    """Convert a YOLO folder (``data.yaml``, ``images/<split>``, ``labels/<split>``) into a dataset folder."""
    src, root = Path(source), Path(dest)
    config = yaml.safe_load((src / "data.yaml").read_text()) or {}
    names = config.get("names") or []
    names = [names[i] for i in sorted(names)] if isinstance(names, dict) else list(names)
    inverse = {yolo: ours for ours, yolo in _YOLO_SPLITS.items()}
    for yolo_split, ours in inverse.items():
        images_dir = src / str(config.get(yolo_split, f"images/{yolo_split}"))
        if not images_dir.is_dir():
            continue
        labels_dir = src / "labels" / yolo_split
        records = []
        for image in sorted(p for p in images_dir.rglob("*") if p.is_file() and is_image_file(p.name)):
            relative = image.relative_to(images_dir).as_posix()
            _place(image, root / ours / relative, link)
            records.append(_record(relative, image, (labels_dir / relative).with_suffix(".txt")).to_record())
        write_objects(root / ours / "metadata.jsonl", records)
    if names:
        write_names(root, [str(n) for n in names])
    return ImageDataset(image_dir=root)


def _record(relative: str, image: Path, label: Path) -> ImageAnnotation:
    annotation = ImageAnnotation(file_name=relative)
    if not label.exists():
        return annotation
    info = probe(image)
    if not isinstance(info, ImageInfo):
        raise ValueError(info.message)
    for number, line in enumerate(label.read_text().splitlines(), 1):
        if line.strip():
            try:
                annotation.boxes.append(from_line(line, info.width, info.height))
            except ValueError as error:
                raise ValueError(f"{label}:{number}: {error}") from None
    return annotation


def _place(source: Path, target: Path, link: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        return
    if link:
        try:
            os.link(source, target)
            return
        except OSError:
            pass
    shutil.copy2(source, target)
