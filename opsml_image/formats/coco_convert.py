"""COCO detection dict ⇄ annotations, without IO: the conversions :mod:`opsml_image.formats.coco` runs.

:func:`read_categories` unifies the categories of one or more COCO files (dense ids in the order of the COCO
ids); :func:`decode` makes one :class:`~opsml_image.annotation.ImageAnnotation` a COCO image and
:func:`encode` the inverse. Every COCO value is kept (image keys as record keys, annotation keys as per-box
values, RLE masks as ``segmentation_rle``), so ``encode(decode(c))`` equals ``c``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsml_image.annotation import Box, ImageAnnotation
from opsml_image.formats.base import FormatError, Refusals, reference_problem

__all__ = ["CocoCategories", "read_categories", "decode", "encode"]

_ANNOTATION_CORE = frozenset(("bbox", "category_id", "image_id"))
_RLE = "segmentation_rle"
_NUMBER = (int, float)


@dataclass
class CocoCategories:
    """Categories unified over one or more COCO files: names and COCO entries in dense order."""

    names: list[str] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    dense: dict[Any, int] = field(default_factory=dict)


def read_categories(files: Iterable[tuple[str, Mapping[str, Any]]]) -> CocoCategories:
    """Unify the ``categories`` of ``(source, coco)`` pairs by COCO id; dense ids follow the COCO ids' order.

    One COCO id with two names, or one name under two ids, is a :class:`FormatError`.
    """
    by_id: dict[Any, tuple[str, dict[str, Any]]] = {}
    for source, coco in files:
        entries = coco.get("categories", [])
        if not isinstance(entries, list):
            raise FormatError(source, "categories", "must be a list")
        for index, entry in enumerate(entries):
            item = f"categories[{index}]"
            if not isinstance(entry, dict) or type(entry.get("id")) is not int:
                raise FormatError(source, item, "needs an integer 'id'")
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                raise FormatError(source, f"{item} (id {entry['id']})", "needs a non-empty 'name'")
            known = by_id.get(entry["id"])
            if known and known[1]["name"] != name:
                where = f"id {entry['id']}"
                raise FormatError(
                    source, where, f"named {name!r} here but {known[1]['name']!r} in {known[0]}"
                )
            by_id.setdefault(entry["id"], (source, entry))
    result = CocoCategories()
    seen: dict[str, Any] = {}
    for coco_id in sorted(by_id):
        entry = by_id[coco_id][1]
        name = entry["name"].strip()
        if name in seen:
            raise FormatError(by_id[coco_id][0], f"id {coco_id}", f"name {name!r} is also id {seen[name]}")
        seen[name] = coco_id
        result.dense[coco_id] = len(result.names)
        result.names.append(name)
        result.entries.append(dict(entry))
    return result


def decode(
    coco: Mapping[str, Any],
    categories: CocoCategories | None = None,
    *,
    split: str = "train",
    source: str = "COCO",
    refusals: Refusals | None = None,
) -> list[ImageAnnotation]:
    """One annotation per COCO image, in image order, with dense category ids (no file IO).

    Bad images and annotations raise :class:`FormatError` or, with a skipping ``refusals``, are listed there.
    """
    refusals = refusals or Refusals(source)
    categories = categories or read_categories([(source, coco)])
    images = coco.get("images")
    if not isinstance(images, list):
        raise refusals.error("images", "missing or not a list: not a COCO detection file")
    annotations = coco.get("annotations", [])
    if not isinstance(annotations, list):
        raise refusals.error("annotations", "must be a list")
    by_id: dict[Any, ImageAnnotation] = {}
    banned: set[Any] = set()
    names: set[str] = set()
    for index, image in enumerate(images):
        result = _image(index, image, categories, split, refusals, names)
        if result is None:
            if isinstance(image, dict) and _is_id(image.get("id")):
                banned.add(image["id"])
            continue
        image_id = result.extra["id"]
        if image_id in by_id or image_id in banned:
            refusals.refuse(f"image id {image_id!r} ({result.file_name})", "duplicate image id")
            by_id.pop(image_id, None)
            banned.add(image_id)
            continue
        by_id[image_id] = result
    _add_annotations(annotations, by_id, banned, categories.dense, refusals)
    return list(by_id.values())


def _is_id(value: Any) -> bool:
    return type(value) is int or type(value) is str


def _image(
    index: int,
    image: Any,
    categories: CocoCategories,
    split: str,
    refusals: Refusals,
    names: set[str],
) -> ImageAnnotation | None:
    if not isinstance(image, dict):
        refusals.refuse(f"images[{index}]", "not a JSON object")
        return None
    image_id = image.get("id")
    item = f"image id {image_id!r} ({image.get('file_name')})"
    problem = _image_problem(image, categories, names)
    if problem:
        refusals.refuse(item, problem)
        return None
    names.add(image["file_name"])
    extra = {k: v for k, v in image.items() if k not in ("file_name", "caption", "categories")}
    return ImageAnnotation(
        file_name=image["file_name"],
        split=split,
        caption=image.get("caption"),
        categories=[categories.dense[c] for c in image.get("categories", ())],
        extra=extra,
    )


def _image_problem(image: dict[str, Any], categories: CocoCategories, names: set[str]) -> str | None:
    if not _is_id(image.get("id")):
        return "needs an integer or string 'id'"
    problem = reference_problem(image.get("file_name"))
    if problem:
        return problem
    if image["file_name"] in names:
        return "a second image with this file_name"
    for key in ("width", "height"):
        value = image.get(key)
        if value is not None and (type(value) is not int or value <= 0):
            return f"{key} must be a positive integer, got {value!r}"
    caption = image.get("caption")
    if caption is not None and not isinstance(caption, str):
        return f"caption must be a string, got {caption!r}"
    labels = image.get("categories")
    if labels is not None and (
        not isinstance(labels, list) or not all(c in categories.dense for c in labels)
    ):
        return f"categories must be a list of known category ids, got {labels!r}"
    if "objects" in image:
        return "has an 'objects' key, which the dataset folder uses for boxes"
    return None


def _add_annotations(
    annotations: list[Any],
    by_id: dict[Any, ImageAnnotation],
    banned: set[Any],
    dense: Mapping[Any, int],
    refusals: Refusals,
) -> None:
    isfinite = math.isfinite
    for index, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            refusals.refuse(f"annotations[{index}]", "not a JSON object")
            continue
        image_id = ann.get("image_id")
        target = by_id.get(image_id)
        bbox = ann.get("bbox")
        category = dense.get(ann.get("category_id")) if type(ann.get("category_id")) is int else None
        if (
            target is not None
            and category is not None
            and type(bbox) is list
            and len(bbox) == 4
            and all(type(v) in _NUMBER and isfinite(v) for v in bbox)
            and bbox[2] > 0
            and bbox[3] > 0
            and "categories" not in ann
        ):
            extra = {k: v for k, v in ann.items() if k not in _ANNOTATION_CORE}
            if isinstance(extra.get("segmentation"), dict):
                extra[_RLE] = extra.pop("segmentation")
            x, y, w, h = bbox
            target.boxes.append(Box(float(x), float(y), float(w), float(h), category, extra))
            continue
        item = f"annotation id {ann.get('id')!r}" if "id" in ann else f"annotations[{index}]"
        refusals.refuse(item, _annotation_problem(ann, target, image_id in banned, category))


def _annotation_problem(ann: dict[str, Any], target: Any, banned: bool, category: int | None) -> str:
    if banned:
        return "its image was skipped"
    if target is None:
        return f"image_id {ann.get('image_id')!r} is not in images"
    if category is None:
        return f"category_id {ann.get('category_id')!r} is not in categories"
    if "categories" in ann:
        return "has a 'categories' key, which the dataset folder uses for box categories"
    bbox = ann.get("bbox")
    if type(bbox) is not list or len(bbox) != 4:
        return f"bbox must be 4 numbers [x, y, w, h], got {bbox!r}"
    if not all(type(v) in _NUMBER and math.isfinite(v) for v in bbox):
        return f"bbox must hold finite numbers, got {bbox!r}"
    return f"bbox width and height must be > 0, got {bbox!r}"


def encode(
    annotations: Sequence[ImageAnnotation],
    names: Sequence[str],
    meta: Mapping[str, Any] | None = None,
    *,
    size: Callable[[ImageAnnotation], tuple[int, int] | str] | None = None,
    refusals: Refusals | None = None,
) -> dict[str, Any]:
    """The COCO dict of some annotations (one split), the inverse of :func:`decode`.

    ``names`` are the dense category names; ``meta`` is the split's part of ``coco_meta.json`` plus its
    ``categories`` (see :func:`opsml_image.formats.coco.read_meta`). Image sizes come from the records'
    ``width``/``height``, else from ``size`` (which gives ``(width, height)`` or a message); ids are kept
    from the records, new ones numbered after them.
    """
    refusals = refusals or Refusals("COCO export")
    meta = meta or {}
    names = list(names)
    if not names:
        top = max((b.category for a in annotations for b in a.boxes), default=-1)
        top = max([top, *(c for a in annotations for c in a.categories)])
        names = [str(i) for i in range(top + 1)]
        if names:
            refusals.warn("no categories.json: categories are named by their ids")
    category_entries = _category_entries(names, meta.get("categories") or [])
    coco_ids = [entry["id"] for entry in category_entries]
    image_ids = _ids(a.extra.get("id") for a in annotations)
    box_ids = _ids(b.extra.get("id") for a in annotations for b in a.boxes)
    images: list[dict[str, Any]] = []
    coco_annotations: list[dict[str, Any]] = []
    box_number = 0
    for index, annotation in enumerate(annotations):
        image = _image_entry(annotation, image_ids[index], coco_ids, size, refusals)
        if image is None:
            box_number += len(annotation.boxes)
            continue
        images.append(image)
        for box in annotation.boxes:
            box_id = box_ids[box_number]
            box_number += 1
            if box.category >= len(coco_ids):
                item = f"{annotation.file_name} box {box.as_bbox()}"
                refusals.refuse(item, f"category {box.category} has no name in categories.json")
                continue
            coco_annotations.append(_annotation_entry(box, box_id, image["id"], coco_ids[box.category]))
    if 0 in coco_ids:
        refusals.warn("category id 0 kept from the source: datumaro and CVAT read id 0 as background")
    coco: dict[str, Any] = {k: v for k, v in meta.items() if k != "categories"}
    if not meta:
        coco.update(info={"description": "exported by opsml-image"}, licenses=[])
    coco.update(images=images, annotations=coco_annotations, categories=category_entries)
    return coco


def _category_entries(names: Sequence[str], kept: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    entries = [dict(kept[i], name=name) for i, name in enumerate(names[: len(kept)])]
    next_id = max((e["id"] for e in entries), default=0) + 1
    for name in names[len(kept) :]:
        entries.append({"id": next_id, "name": name})
        next_id += 1
    return entries


def _ids(values: Iterable[Any]) -> list[Any]:
    """Kept ids where unique (int or str), new integer ids after the largest for the rest."""
    given = list(values)
    seen: set[Any] = set()
    result: list[Any] = []
    for value in given:
        keep = _is_id(value) and value not in seen
        result.append(value if keep else None)
        if keep:
            seen.add(value)
    next_id = max((v for v in seen if type(v) is int), default=0) + 1
    for i, value in enumerate(result):
        if value is None:
            while next_id in seen:
                next_id += 1
            result[i] = next_id
            next_id += 1
    return result


def _image_entry(
    annotation: ImageAnnotation,
    image_id: Any,
    coco_ids: Sequence[int],
    size: Callable[[ImageAnnotation], tuple[int, int] | str] | None,
    refusals: Refusals,
) -> dict[str, Any] | None:
    item = annotation.file_name
    if annotation.dropped_boxes:
        refusals.refuse(f"{item} ({annotation.dropped_boxes} boxes)", "malformed box in metadata.jsonl")
    dims = _size_of(annotation, size)
    if isinstance(dims, str):
        refusals.refuse(item, dims)
        return None
    image: dict[str, Any] = {"id": image_id, "file_name": annotation.file_name}
    image.update((k, v) for k, v in annotation.extra.items() if k not in image)
    image["width"], image["height"] = dims
    if annotation.caption:
        image["caption"] = annotation.caption
    labels = [coco_ids[c] for c in annotation.categories if c < len(coco_ids)]
    if len(labels) < len(annotation.categories):
        refusals.refuse(item, "an image category has no name in categories.json")
    if labels:
        image["categories"] = labels
    return image


def _size_of(
    annotation: ImageAnnotation, size: Callable[[ImageAnnotation], tuple[int, int] | str] | None
) -> tuple[int, int] | str:
    width, height = annotation.extra.get("width"), annotation.extra.get("height")
    if type(width) is int and type(height) is int and width > 0 and height > 0:
        return width, height
    if size is None:
        return "no width and height recorded"
    return size(annotation)


def _annotation_entry(box: Box, box_id: Any, image_id: Any, category_id: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": box_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": box.as_bbox(),
        "area": box.w * box.h,
        "iscrowd": 0,
    }
    for key, value in box.extra.items():
        if value is None or key in ("id", "image_id", "category_id", "bbox"):
            continue
        entry["segmentation" if key == _RLE else key] = value
    return entry
