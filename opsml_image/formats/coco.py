"""COCO detection JSON ⇄ ``metadata.jsonl``.

COCO boxes are ``[x, y, w, h]`` in pixels from the top-left corner, the convention this package uses, so
boxes pass through unchanged. COCO category ids may be sparse (1..90); on import they become dense ids
``0..N-1`` in the order of the COCO ids, and their names go to ``categories.json``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from opsml_image.atomic import atomic_write_bytes
from opsml_image.categories import write_names
from opsml_image.dataset import ImageDataset
from opsml_image.images import ImageInfo, probe
from opsml_image.jsonl import write_objects
from opsml_image.rules import file_name_problem

__all__ = ["to_coco", "to_json_bytes", "export", "from_coco", "import_file"]


def to_coco(dataset: ImageDataset, split: str | None = None) -> dict[str, Any]:
    """The COCO dict of one split (or of the only split). Images that cannot be read are left out."""
    part = dataset.split(split)
    names = dataset.category_names()
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    used: set[int] = set()
    for image_id, ((_, file_name), view) in enumerate(dataset.annotations(part.name).items(), 1):
        info = probe(part.directory / file_name)
        if not isinstance(info, ImageInfo):
            continue
        images.append({"id": image_id, "file_name": file_name, "width": info.width, "height": info.height})
        if view.caption:
            images[-1]["caption"] = view.caption
        for box in view.boxes:
            used.add(box.category)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": box.category,
                    "bbox": box.as_bbox(),
                    "area": box.w * box.h,
                    "iscrowd": 0,
                }
            )
    count = max(len(names), max(used, default=-1) + 1)
    categories = [{"id": i, "name": names[i] if i < len(names) else str(i)} for i in range(count)]
    return {"images": images, "annotations": annotations, "categories": categories}


def to_json_bytes(dataset: ImageDataset, split: str | None = None) -> bytes:
    """The COCO JSON of a split, encoded (what :func:`export` writes; the app offers it as a download)."""
    return orjson.dumps(to_coco(dataset, split))


def export(dataset: ImageDataset, path: str | Path, split: str | None = None) -> Path:
    """Write the COCO JSON of a split atomically."""
    return atomic_write_bytes(path, to_json_bytes(dataset, split))


def from_coco(coco: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Records (one per COCO image, in image order) and category names from a COCO dict."""
    try:
        coco_ids = sorted(int(c["id"]) for c in coco.get("categories", []))
        names_by_id = {int(c["id"]): str(c["name"]) for c in coco.get("categories", [])}
        dense = {coco_id: i for i, coco_id in enumerate(coco_ids)}
        boxes: dict[Any, list[tuple[list[float], int]]] = defaultdict(list)
        for ann in coco.get("annotations", []):
            if ann.get("iscrowd", 0):
                continue
            boxes[ann["image_id"]].append(([float(v) for v in ann["bbox"]], dense[int(ann["category_id"])]))
        records = []
        for image in coco["images"]:
            problem = file_name_problem(image.get("file_name"))
            if problem:
                raise ValueError(f"COCO image {image.get('id')!r}: {problem.message}")
            record: dict[str, Any] = {"file_name": image["file_name"]}
            if image.get("caption"):
                record["caption"] = image["caption"]
            found = boxes.get(image["id"], [])
            if found:
                record["objects"] = {"bbox": [b for b, _ in found], "categories": [c for _, c in found]}
            records.append(record)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not a COCO detection file: {error!r}") from error
    return records, [names_by_id[i] for i in coco_ids]


def import_file(coco_path: str | Path, image_dir: str | Path) -> ImageDataset:
    """Write ``metadata.jsonl`` and ``categories.json`` into ``image_dir`` from a COCO JSON file."""
    records, names = from_coco(orjson.loads(Path(coco_path).read_bytes()))
    root = Path(image_dir)
    write_objects(root / "metadata.jsonl", records)
    if names:
        write_names(root, names)
    return ImageDataset(image_dir=root)
