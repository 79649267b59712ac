"""The merged per-image view: one image's caption, image categories and all its boxes.

``metadata.jsonl`` may hold several records for one file (the OpsML seed gives ``0002.png`` a caption line
and an objects line). The file keeps its lines as written; :func:`merge` folds them into one
:class:`ImageAnnotation`, and :meth:`ImageAnnotation.to_record` turns an edited annotation back into one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opsml_image.rules import BOX_DIGITS, is_box

__all__ = ["Box", "ImageAnnotation", "IMPLIED_EXTRAS", "SHAPE_EXTRAS", "merge"]

#: Per-box values derived from the object's shape (COCO's mask and its area): a box moved or resized drops
#: them, as they no longer describe it; a clip keeps a mask (the object did not change) and drops an area
#: without one (the box's own area, recomputed from the box on export).
SHAPE_EXTRAS = ("area", "segmentation", "segmentation_rle")
_MASKS = ("segmentation", "segmentation_rle")


def _has_mask(box: Box) -> bool:
    """Whether the object has a mask (an empty polygon list, as box-only COCO files write, is none)."""
    return any(box.extra.get(key) for key in _MASKS)


def _box_area(box: Box) -> float | None:
    """COCO's area of a box without a mask: the box's own (what a COCO export writes for it)."""
    return None if _has_mask(box) else round(box.w * box.h, BOX_DIGITS)


#: Per-box keys whose value a box without one still has (COCO: its area is the box's own, it is no crowd,
#: its polygon mask is empty, as box-only COCO files write it): written for every box once one box has the
#: key, so these lists hold no null. Hugging Face ``datasets`` misreads a per-box list that starts with null
#: (see ``objects.null_first`` in :mod:`opsml_image.rules`).
IMPLIED_EXTRAS: dict[str, Callable[[Box], Any]] = {
    "area": _box_area,
    "iscrowd": lambda box: 0,
    "segmentation": lambda box: None if box.extra.get("segmentation_rle") else [],  # an RLE mask is its mask
}

_KNOWN = frozenset(("file_name", "caption", "categories", "objects"))
_OBJECT_KEYS = frozenset(("bbox", "categories"))


@dataclass(frozen=True, slots=True)
class Box:
    """One object: ``[x, y, w, h]`` in image pixels (top-left origin), its category id and its other fields.

    ``extra`` holds the object's other per-box values (COCO ``iscrowd``/``area``/``id``, VOC ``difficult``,
    CVAT attributes...), written as lists parallel to ``bbox`` inside ``objects``, as Hugging Face datasets
    keep them. It takes part in equality, not in the hash.
    """

    x: float
    y: float
    w: float
    h: float
    category: int
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def as_bbox(self) -> list[float]:
        """``[x, y, w, h]`` as floats, so every written box infers the same Hugging Face feature."""
        return [float(self.x), float(self.y), float(self.w), float(self.h)]

    def clipped(self, width: int, height: int) -> Box | None:
        """This box cut to the image bounds, or None when nothing of it is inside."""
        x0, y0 = max(0.0, self.x), max(0.0, self.y)
        x1, y1 = min(float(width), self.x + self.w), min(float(height), self.y + self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return self.moved(x0, y0, x1 - x0, y1 - y0, clip=True)

    def moved(self, x: float, y: float, w: float, h: float, *, clip: bool = False) -> Box:
        """This object at another box: its identity (COCO ``id``, ``iscrowd``, attributes...) is kept, the
        values derived from its shape (:data:`SHAPE_EXTRAS`) are dropped; ``clip`` (the box cut to the image)
        keeps a mask and its area."""
        kept = clip and _has_mask(self)
        extra = self.extra if kept else {k: v for k, v in self.extra.items() if k not in SHAPE_EXTRAS}
        return Box(x, y, w, h, self.category, extra)

    def rounded(self, digits: int = BOX_DIGITS) -> Box:
        return Box(
            round(self.x, digits),
            round(self.y, digits),
            round(self.w, digits),
            round(self.h, digits),
            self.category,
            self.extra,
        )


@dataclass
class ImageAnnotation:
    """Everything the records of one image say about it."""

    file_name: str
    split: str = "train"
    caption: str | None = None
    categories: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    lines: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    dropped_boxes: int = 0

    @property
    def annotated(self) -> bool:
        """True when the image has at least one box."""
        return bool(self.boxes)

    def to_record(self) -> dict[str, Any]:
        """One ``metadata.jsonl`` record for this image (empty fields omitted, extra keys kept)."""
        record: dict[str, Any] = {"file_name": self.file_name}
        if self.caption:
            record["caption"] = self.caption
        if self.categories:
            record["categories"] = list(self.categories)
        if self.boxes:
            objects: dict[str, Any] = {
                "bbox": [box.as_bbox() for box in self.boxes],
                "categories": [box.category for box in self.boxes],
            }
            for key in _object_keys(self.boxes):
                implied = IMPLIED_EXTRAS.get(key)
                objects[key] = [
                    implied(box) if implied is not None and box.extra.get(key) is None else box.extra.get(key)
                    for box in self.boxes
                ]
            record["objects"] = objects
        record.update((k, v) for k, v in self.extra.items() if k not in record)
        return record


def merge(records: Iterable[tuple[int, dict[str, Any]]], split: str = "train") -> ImageAnnotation:
    """Fold the ``(line, record)`` pairs of one image into one annotation.

    The first caption wins, image categories are united in order of appearance, boxes are concatenated,
    and the first value of any other key is kept. Malformed boxes are left out and counted.
    """
    annotation: ImageAnnotation | None = None
    lines: list[int] = []
    for line, record in records:
        if annotation is None:
            annotation = ImageAnnotation(file_name=record["file_name"], split=split)
        lines.append(line)
        caption = record.get("caption")
        if annotation.caption is None and isinstance(caption, str):
            annotation.caption = caption
        for category in record.get("categories") or ():
            if type(category) is int and category >= 0 and category not in annotation.categories:
                annotation.categories.append(category)
        _add_boxes(annotation, record.get("objects"))
        for key, value in record.items():
            if key not in _KNOWN and key not in annotation.extra:
                annotation.extra[key] = value
    if annotation is None:
        raise ValueError("merge() needs at least one record")
    annotation.lines = tuple(lines)
    return annotation


def _add_boxes(annotation: ImageAnnotation, objects: Any) -> None:
    if not isinstance(objects, dict):
        return
    boxes, categories = objects.get("bbox"), objects.get("categories")
    if not isinstance(boxes, list) or not isinstance(categories, list):
        return
    columns = {
        key: value
        for key, value in objects.items()
        if key not in _OBJECT_KEYS and isinstance(value, list) and len(value) == len(boxes)
    }
    for i, bbox in enumerate(boxes):
        category = categories[i] if i < len(categories) else None
        if is_box(bbox) and type(category) is int and category >= 0:
            extra = {key: value[i] for key, value in columns.items()}
            x, y, w, h = (float(v) for v in bbox)
            annotation.boxes.append(Box(x, y, w, h, category=category, extra=extra))
        else:
            annotation.dropped_boxes += 1
    annotation.dropped_boxes += max(0, len(categories) - len(boxes))


def _object_keys(boxes: Iterable[Box]) -> list[str]:
    """The per-box keys of some boxes, in order of first appearance."""
    keys: dict[str, None] = {}
    for box in boxes:
        keys.update(dict.fromkeys(box.extra))
    return list(keys)
